"""A unit cost per SKU (staff only), so the price advisor weighs margin, not revenue.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: a batch copy of skus would trip the foreign keys pointing at it
    op.add_column("skus", sa.Column("cost_fen", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE skus DROP COLUMN cost_fen")  # SQLite 3.35+ and PostgreSQL
