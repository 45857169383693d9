"""Create the trace log's single head row up front, so concurrent first appends cannot race.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO trace_head (id, size, frontier) "
        "SELECT 1, 0, '[]' WHERE NOT EXISTS (SELECT 1 FROM trace_head WHERE id = 1)"
    )


def downgrade() -> None:
    pass
