"""Operators' corrections of danmaku labels (sentiment, intent of a ticket's comment), read by
`yunlian danmaku export-labels` and `yunlian danmaku train`.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "danmaku_labels",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_danmaku_labels_ticket", "danmaku_labels", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_danmaku_labels_ticket", table_name="danmaku_labels")
    op.drop_table("danmaku_labels")
