"""Customer-service tickets: complaints and questions from live rooms that survive a restart.

`seq` orders tickets opened in the same clock tick; `id` is the public, hard-to-guess name.
The (status, created_at) index serves "open tickets, newest first"; the (room_id, user_id,
status) one serves the per-viewer cap on open tickets.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cs_tickets",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("nickname", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("product_sku", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    op.create_index(
        "ix_cs_tickets_status_created", "cs_tickets", ["status", "created_at"], unique=False
    )
    op.create_index(
        "ix_cs_tickets_room_user_status",
        "cs_tickets",
        ["room_id", "user_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_cs_tickets_room_user_status", table_name="cs_tickets")
    op.drop_index("ix_cs_tickets_status_created", table_name="cs_tickets")
    op.drop_table("cs_tickets")
