"""The ticket desk: who a ticket is assigned to, and the replies customer service sends.

`assigned_to` is a staff username; a reply row records whether it reached the viewer's chat
(`delivered`: the viewer was still in the room). The (ticket_id, seq) index lists a ticket's
replies in order.

Revision ID: 0016
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cs_tickets", sa.Column("assigned_to", sa.String(length=64), nullable=True))
    op.add_column("cs_tickets", sa.Column("assigned_at", sa.DateTime(), nullable=True))
    op.add_column("cs_tickets", sa.Column("first_reply_at", sa.DateTime(), nullable=True))
    op.create_table(
        "cs_ticket_replies",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(
        "ix_cs_ticket_replies_ticket", "cs_ticket_replies", ["ticket_id", "seq"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cs_ticket_replies_ticket", table_name="cs_ticket_replies")
    op.drop_table("cs_ticket_replies")
    with op.batch_alter_table("cs_tickets") as batch:
        batch.drop_column("first_reply_at")
        batch.drop_column("assigned_at")
        batch.drop_column("assigned_to")
