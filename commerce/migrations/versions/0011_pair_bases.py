"""Association rules count their bases over the same kept baskets as their pairs: the rollup
gains an (A, A) row per SKU (kept baskets holding A). The rollups are emptied here so the next
refresh folds every order in again, with those rows.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ROLLUPS = (
    "an_day_sku",
    "an_day_region",
    "an_day_room",
    "an_customers",
    "an_pairs",
    "an_orders",
)
# only the refresh's watermark: an_state also remembers that demo history was generated
WATERMARK = "DELETE FROM an_state WHERE key = 'orders_updated_at'"


def upgrade() -> None:
    for table in ROLLUPS:
        op.execute(f"DELETE FROM {table}")
    op.execute(WATERMARK)


def downgrade() -> None:
    for table in ROLLUPS:  # the old code reads them as well once refolded
        op.execute(f"DELETE FROM {table}")
    op.execute(WATERMARK)
