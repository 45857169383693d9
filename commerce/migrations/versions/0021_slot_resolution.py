"""A resolution per schedule slot ("720p" or "480p" 省流): the room's frame when the slot
starts it. Slots made before keep 720p.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN with a server default: every existing slot reads 720p
    op.add_column(
        "room_schedule",
        sa.Column("resolution", sa.String(length=8), nullable=False, server_default="720p"),
    )


def downgrade() -> None:
    with op.batch_alter_table("room_schedule") as batch:
        batch.drop_column("resolution")
