"""Targeted coupons: the buyers a coupon is for (a CRM segment). A coupon without rows is for
everyone, as before.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coupon_audience",
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"]),
        sa.PrimaryKeyConstraint("coupon_id", "buyer_id"),
    )


def downgrade() -> None:
    op.drop_table("coupon_audience")
