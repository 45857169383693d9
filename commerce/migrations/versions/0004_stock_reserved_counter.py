"""Keep a running count of reserved units on each stock row.

Summing every unexpired reservation on each order made an order's cost, and the time it held
the stock row lock, grow with the number of unpaid orders outstanding. `stocks.reserved` is the
sum of all reservation rows of a stock, kept in the same transaction as each insert and delete,
so available = quantity − allocated − reserved + (reservations already lapsed but not yet
released), and only the lapsed ones, few because the expirer sweeps them, are summed.

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

FUNCTION = r"""
CREATE OR REPLACE FUNCTION yl_create_order(
    p_id text, p_key text, p_hash text, p_buyer text, p_name text, p_phone text, p_addr text,
    p_room text, p_persona text, p_segment text, p_now timestamp, p_expires timestamp,
    p_skus text[], p_qtys int[], p_prices int[]
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    n int := coalesce(array_length(p_skus, 1), 0);
    ln record;
    st record;
    fs record;
    v_price int;
    v_subtotal int := 0;
    v_bought int;
    v_need int;
    v_take int;
    v_total int;
    v_batches text[];
    v_out jsonb := '[]'::jsonb;
    v_missing text;
    a_sku int[] := '{}';
    a_code text[] := '{}';
    a_unit text[] := '{}';
    a_qty int[] := '{}';
    a_price int[] := '{}';
    a_fs int[] := '{}';
    i int;
BEGIN
    SELECT c INTO v_missing FROM unnest(p_skus) AS c
     WHERE NOT EXISTS (SELECT 1 FROM skus s WHERE s.code = c AND s.active) LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'YL003', MESSAGE = v_missing;
    END IF;
    FOR ln IN
        SELECT s.*, u.q, u.p FROM unnest(p_skus, p_qtys, p_prices) AS u(c, q, p)
        JOIN skus s ON s.code = u.c ORDER BY s.id
    LOOP
        SELECT f.* INTO fs FROM flash_sales f
         WHERE p_room IS NOT NULL AND f.room_id = p_room AND f.sku_id = ln.id
           AND f.starts_at <= p_now AND f.ends_at > p_now
         ORDER BY f.id DESC LIMIT 1;
        v_price := CASE WHEN fs.id IS NULL THEN ln.price_fen ELSE fs.price_fen END;
        IF ln.p IS NOT NULL AND ln.p <> v_price THEN
            RAISE EXCEPTION USING ERRCODE = 'YL002', MESSAGE = ln.code || '|' || v_price;
        END IF;
        IF ln.per_user_limit IS NOT NULL THEN
            SELECT coalesce(sum(l.quantity), 0) INTO v_bought FROM order_lines l
              JOIN orders o ON o.id = l.order_id
             WHERE o.buyer_id = p_buyer AND l.sku_id = ln.id
               AND o.status IN ('unpaid','paid','shipped','delivered','completed','refund_requested');
            IF v_bought + ln.q > ln.per_user_limit THEN
                RAISE EXCEPTION USING ERRCODE = 'YL004',
                    MESSAGE = ln.code || '|' || ln.per_user_limit || '|' || v_bought;
            END IF;
        END IF;
        IF fs.id IS NOT NULL AND fs.per_user_limit IS NOT NULL THEN
            SELECT coalesce(sum(l.quantity), 0) INTO v_bought FROM order_lines l
              JOIN orders o ON o.id = l.order_id
             WHERE o.buyer_id = p_buyer AND l.sku_id = ln.id AND l.flash_sale_id = fs.id
               AND o.status IN ('unpaid','paid','shipped','delivered','completed','refund_requested');
            IF v_bought + ln.q > fs.per_user_limit THEN
                RAISE EXCEPTION USING ERRCODE = 'YL004',
                    MESSAGE = ln.code || '|' || fs.per_user_limit || '|' || v_bought;
            END IF;
        END IF;
        a_sku := a_sku || ln.id;
        a_code := a_code || ln.code;
        a_unit := a_unit || ln.unit;
        a_qty := a_qty || ln.q;
        a_price := a_price || v_price;
        a_fs := a_fs || fs.id;
        v_subtotal := v_subtotal + ln.q * v_price;
    END LOOP;

    INSERT INTO orders (id, idempotency_key, request_hash, buyer_id, buyer_name_enc, phone_enc,
        address_enc, status, subtotal_fen, discount_fen, total_fen, room_id, persona, segment,
        created_at, expires_at, updated_at)
    VALUES (p_id, p_key, p_hash, p_buyer, p_name, p_phone, p_addr, 'unpaid', v_subtotal, 0,
        v_subtotal, p_room, p_persona, p_segment, p_now, p_expires, p_now);

    FOR i IN 1 .. coalesce(array_length(a_sku, 1), 0) LOOP
        PERFORM 1 FROM stocks s JOIN batches b ON b.id = s.batch_id
         WHERE s.sku_id = a_sku[i] AND b.expiry_date >= p_now::date
         ORDER BY s.id FOR UPDATE OF s;
        -- A new statement, so a new snapshot: holds committed by the previous lock owner count.
        v_need := a_qty[i];
        v_total := 0;
        v_batches := '{}';
        FOR st IN
            SELECT s.id, s.batch_id, greatest(0, s.quantity - s.allocated - s.reserved + coalesce(
                (SELECT sum(r.quantity) FROM reservations r
                  WHERE r.stock_id = s.id AND r.expires_at <= p_now), 0)) AS free
              FROM stocks s JOIN batches b ON b.id = s.batch_id
             WHERE s.sku_id = a_sku[i] AND b.expiry_date >= p_now::date
             ORDER BY b.expiry_date, b.id, s.id
        LOOP
            v_total := v_total + st.free;
            v_take := least(st.free, v_need);
            IF v_take > 0 THEN
                INSERT INTO reservations (stock_id, order_id, quantity, expires_at)
                VALUES (st.id, p_id, v_take, p_expires);
                UPDATE stocks SET reserved = reserved + v_take WHERE id = st.id;
                v_batches := v_batches || st.batch_id;
                v_need := v_need - v_take;
            END IF;
        END LOOP;
        IF v_need > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'YL001',
                MESSAGE = a_code[i] || '|' || a_qty[i] || '|' || v_total;
        END IF;
        IF a_fs[i] IS NOT NULL THEN
            UPDATE flash_sales SET sold = sold + a_qty[i]
             WHERE id = a_fs[i] AND sold + a_qty[i] <= cap;
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'YL005', MESSAGE = a_code[i];
            END IF;
        END IF;
        v_out := v_out || jsonb_build_object('sku', a_code[i], 'unit', a_unit[i], 'qty', a_qty[i],
            'price', a_price[i], 'fs', a_fs[i], 'left', v_total - a_qty[i], 'batches', to_jsonb(v_batches));
    END LOOP;
    INSERT INTO order_lines (order_id, sku_id, quantity, unit_price_fen, flash_sale_id)
    SELECT p_id, u.s, u.q, u.p, u.f FROM unnest(a_sku, a_qty, a_price, a_fs) AS u(s, q, p, f);
    RETURN jsonb_build_object('subtotal', v_subtotal, 'lines', v_out);
END
$fn$;
"""


def upgrade() -> None:
    op.add_column("stocks", sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE stocks SET reserved = coalesce("
        "(SELECT sum(r.quantity) FROM reservations r WHERE r.stock_id = stocks.id), 0)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        path = Path(__file__).with_name("0002_pg_order_function.py")
        spec = importlib.util.spec_from_file_location("yl_migration_0002", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        op.execute(mod.FUNCTION)
    # Native DROP COLUMN (SQLite >= 3.35): a batch table copy would trip the foreign keys.
    op.execute("ALTER TABLE stocks DROP COLUMN reserved")
