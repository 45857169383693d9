"""Room leases: which `yunlian serve` node runs each live room (streamer/leases.py).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_leases",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("resume", sa.JSON(), nullable=True),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id"),
    )
    op.create_index("ix_room_leases_node_id", "room_leases", ["node_id"])
    op.create_index("ix_room_leases_expires_at", "room_leases", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_room_leases_expires_at", table_name="room_leases")
    op.drop_index("ix_room_leases_node_id", table_name="room_leases")
    op.drop_table("room_leases")
