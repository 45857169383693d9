"""Seen platform-push message ids, durable across restarts (replay protection).

A Douyin-style push is refused when its signed timestamp is outside the freshness window;
inside the window a message id is accepted once. `push_seen` remembers the ids for the
window, so a replay is refused after a restart too; rows past the window are pruned.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_seen",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("msg_id", sa.String(length=256), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "msg_id"),
    )
    op.create_index("ix_push_seen_seen_ms", "push_seen", ["seen_ms"])


def downgrade() -> None:
    op.drop_index("ix_push_seen_seen_ms", table_name="push_seen")
    op.drop_table("push_seen")
