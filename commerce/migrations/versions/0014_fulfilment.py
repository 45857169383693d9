"""The workbench's fulfilment records: a shipment (courier and tracking number) per shipped
order, the reason given with each refund decision, and indexes for the orders list.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("order_id", sa.String(length=32), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("courier", sa.String(length=32), nullable=False),
        sa.Column("tracking_no", sa.String(length=40), nullable=False),
        sa.Column("shipped_at", sa.DateTime(), nullable=False),
        sa.Column("shipped_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "refund_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_refund_decisions_order", "refund_decisions", ["order_id"])
    op.create_index("ix_orders_created", "orders", ["created_at"])
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_status_created", table_name="orders")
    op.drop_index("ix_orders_created", table_name="orders")
    op.drop_index("ix_refund_decisions_order", table_name="refund_decisions")
    op.drop_table("refund_decisions")
    op.drop_table("shipments")
