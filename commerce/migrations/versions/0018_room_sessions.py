"""场次复盘: room sessions and their minute-by-minute rows (audience, chat, mood, sales, and
the script segment and host on air); and an index that lets the order cloud count a year of
orders by day and amount from the index alone.

Revision ID: 0018
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("persona", sa.String(length=64), nullable=False),
        sa.Column("bucket_s", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_room_sessions_room_id", "room_sessions", ["room_id"])
    op.create_index("ix_room_sessions_shop_started", "room_sessions", ["shop_id", "started_at"])
    op.create_table(
        "room_session_minutes",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("leaves", sa.Integer(), nullable=False),
        sa.Column("watch_s", sa.Integer(), nullable=False),
        sa.Column("danmaku", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("mood", sa.Float(), nullable=False),
        sa.Column("mood_label", sa.String(length=16), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("gmv_fen", sa.BigInteger(), nullable=False),
        sa.Column("persona", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("product", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["room_sessions.id"]),
        sa.PrimaryKeyConstraint("session_id", "minute"),
    )
    op.create_index("ix_an_orders_day_amount", "an_orders", ["day", "placed_fen"])


def downgrade() -> None:
    op.drop_index("ix_an_orders_day_amount", table_name="an_orders")
    op.drop_table("room_session_minutes")
    op.drop_index("ix_room_sessions_shop_started", table_name="room_sessions")
    op.drop_index("ix_room_sessions_room_id", table_name="room_sessions")
    op.drop_table("room_sessions")
