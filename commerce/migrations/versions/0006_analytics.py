"""Analytics rollups: additive daily measures kept as orders change, and their change log.

Dashboard queries read these small tables instead of scanning orders: per day and SKU, per
day and region, per day, room and persona (with the view/click funnel), per customer (RFM)
and per SKU pair (association rules). `an_orders` records what each order has contributed so
far, so a status change adds only the difference. `ix_orders_updated_at` lets the refresher
find orders changed since its watermark.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def _big(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def _str(name: str, n: int, pk: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=n), nullable=False, server_default="", primary_key=pk)


def upgrade() -> None:
    op.create_index("ix_orders_updated_at", "orders", ["updated_at"])
    op.create_table(
        "an_orders",
        sa.Column("order_id", sa.String(length=32), primary_key=True),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        _str("room_id", 64),
        _str("persona", 64),
        _str("segment", 64),
        _str("province", 16),
        _str("city", 32),
        _big("placed_fen"),
        _big("paid_fen"),
        _big("refund_fen"),
    )
    op.create_index("ix_an_orders_day", "an_orders", ["day"])
    op.create_index("ix_an_orders_room_day", "an_orders", ["room_id", "day"])
    op.create_index("ix_an_orders_buyer", "an_orders", ["buyer_id"])
    op.create_table(
        "an_day_sku",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("sku_id", sa.Integer(), primary_key=True, autoincrement=False),
        _int("orders"),
        _int("units"),
        _big("gmv_fen"),
        _int("paid_orders"),
        _int("paid_units"),
        _big("paid_fen"),
        _big("refund_fen"),
    )
    op.create_table(
        "an_day_region",
        sa.Column("day", sa.Date(), primary_key=True),
        _str("province", 16, pk=True),
        _str("city", 32, pk=True),
        _int("orders"),
        _big("gmv_fen"),
        _int("paid_orders"),
        _big("paid_fen"),
    )
    op.create_table(
        "an_day_room",
        sa.Column("day", sa.Date(), primary_key=True),
        _str("room_id", 64, pk=True),
        _str("persona", 64, pk=True),
        _int("views"),
        _int("uv"),
        _int("clicks"),
        _int("orders"),
        _big("gmv_fen"),
        _int("paid_orders"),
        _big("paid_fen"),
    )
    op.create_table(
        "an_customers",
        sa.Column("buyer_id", sa.String(length=64), primary_key=True),
        _str("province", 16),
        _str("city", 32),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("last_day", sa.Date(), nullable=True),
        _int("orders"),
        _big("paid_fen"),
    )
    op.create_index("ix_an_customers_last_day", "an_customers", ["last_day"])
    op.create_index("ix_an_customers_orders", "an_customers", ["orders"])
    op.create_index("ix_an_customers_paid", "an_customers", ["paid_fen"])
    op.create_table(
        "an_pairs",
        sa.Column("sku_a", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("sku_b", sa.Integer(), primary_key=True, autoincrement=False),
        _int("baskets"),
    )
    op.create_table(
        "an_state",
        sa.Column("key", sa.String(length=32), primary_key=True),
        sa.Column("value", sa.String(length=64), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "an_state",
        "an_pairs",
        "an_customers",
        "an_day_room",
        "an_day_region",
        "an_day_sku",
        "an_orders",
    ):
        op.drop_table(table)
    op.drop_index("ix_orders_updated_at", table_name="orders")
