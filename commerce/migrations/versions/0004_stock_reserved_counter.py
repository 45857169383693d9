"""Keep a running count of reserved units on each stock row.

Summing every unexpired reservation on each order made an order's cost, and the time it held
the stock row lock, grow with the number of unpaid orders outstanding. `stocks.reserved` is the
sum of all reservation rows of a stock, kept in the same transaction as each insert and delete,
so available = quantity − allocated − reserved + (reservations already lapsed but not yet
released), and only the lapsed ones, few because the expirer sweeps them, are summed.
On PostgreSQL, yl_create_order (0002) is replaced by the same function with two edits.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (0002's text, 0004's text): where yl_create_order reads and writes the counter.
EDITS = (
    (
        """greatest(0, s.quantity - s.allocated - coalesce(
                (SELECT sum(r.quantity) FROM reservations r
                  WHERE r.stock_id = s.id AND r.expires_at > p_now), 0)) AS free""",
        """greatest(0, s.quantity - s.allocated - s.reserved + coalesce(
                (SELECT sum(r.quantity) FROM reservations r
                  WHERE r.stock_id = s.id AND r.expires_at <= p_now), 0)) AS free""",
    ),
    (
        """                VALUES (st.id, p_id, v_take, p_expires);
""",
        """                VALUES (st.id, p_id, v_take, p_expires);
                UPDATE stocks SET reserved = reserved + v_take WHERE id = st.id;
""",
    ),
)


def _function_0002() -> str:
    path = Path(__file__).with_name("0002_pg_order_function.py")
    spec = importlib.util.spec_from_file_location("yl_migration_0002", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.FUNCTION


def _function_0004() -> str:
    fn = _function_0002()
    for old, new in EDITS:
        if fn.count(old) != 1:
            raise RuntimeError(f"migration 0004: expected one match in 0002 for {old[:40]!r}")
        fn = fn.replace(old, new)
    return fn


def upgrade() -> None:
    op.add_column("stocks", sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE stocks SET reserved = coalesce("
        "(SELECT sum(r.quantity) FROM reservations r WHERE r.stock_id = stocks.id), 0)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function_0004())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function_0002())
    # Native DROP COLUMN (SQLite >= 3.35): a batch table copy would trip the foreign keys.
    op.execute("ALTER TABLE stocks DROP COLUMN reserved")
