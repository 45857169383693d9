"""Rooms a shop owns: the record that decides who may act on a room that is not live.

A room id is registered to a shop when it first goes live or is scheduled; permission
checks and promotions read the owner from here, so an unknown id is refused.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_rooms",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_live_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("room_id"),
    )
    op.create_index("ix_shop_rooms_shop_id", "shop_rooms", ["shop_id"])


def downgrade() -> None:
    op.drop_index("ix_shop_rooms_shop_id", table_name="shop_rooms")
    op.drop_table("shop_rooms")
