"""Daily rollups kept as orders change: the dashboard reads these, never a scan of orders.

State: each order's contribution so far sits in `an_orders` (placed, paid, refunded fen).
`sync` reads orders changed since a watermark on `orders.updated_at` (indexed by migration
0006), computes each order's new contribution, and adds only the difference to the rollups
with upserts (`x = x + excluded.x`). Re-reading an order changes nothing, so the watermark
keeps a margin for transactions that commit later than their clock reading.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from commerce.analytics.calendar import china_day
from commerce.analytics.regions import parse_region
from commerce.models import (
    AnCustomer,
    AnDayRegion,
    AnDayRoom,
    AnDaySku,
    AnOrder,
    AnPair,
    AnState,
    Order,
    OrderLine,
)

if TYPE_CHECKING:
    from commerce.store import Store

WATERMARK = "orders_updated_at"
MARGIN = timedelta(seconds=30)
PAGE = 2000
# Statuses an order reaches only after it was paid.
WAS_PAID = frozenset({"paid", "shipped", "delivered", "completed", "refund_requested", "refunded"})


@dataclass(frozen=True)
class Contribution:
    placed: int
    paid: int
    refund: int

    @property
    def bought(self) -> int:
        """1 when this order is a kept purchase (paid, not refunded): what RFM counts."""
        return 1 if self.paid and not self.refund else 0


def contribution(status: str, total_fen: int) -> Contribution:
    """GMV counts every placed order; paid GMV counts it once paid; refunds are apart."""
    return Contribution(
        total_fen,
        total_fen if status in WAS_PAID else 0,
        total_fen if status == "refunded" else 0,
    )


def split_fen(total: int, weights: list[int]) -> list[int]:
    """Split `total` fen over lines in proportion to `weights`, exactly (remainder last)."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def _insert(session: Session):
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


def upsert_add(session: Session, model, keys: tuple[str, ...], rows: dict[tuple, dict]) -> None:
    """Add each row's measures to the rollup row with the same key (insert when missing)."""
    if not rows:
        return
    params = [dict(zip(keys, k, strict=True)) | v for k, v in rows.items()]
    measures = [c for c in params[0] if c not in keys]
    stmt = _insert(session)(model)
    table = model.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={m: table.c[m] + getattr(stmt.excluded, m) for m in measures},
    )
    session.execute(stmt, params)


def upsert_customers(session: Session, rows: dict[str, dict]) -> None:
    if not rows:
        return
    pg = session.bind.dialect.name == "postgresql"
    stmt = _insert(session)(AnCustomer)
    t, ex = AnCustomer.__table__.c, stmt.excluded
    lo, hi = (func.least, func.greatest) if pg else (func.min, func.max)
    stmt = stmt.on_conflict_do_update(
        index_elements=["buyer_id"],
        set_={
            "orders": t.orders + ex.orders,
            "paid_fen": t.paid_fen + ex.paid_fen,
            "first_day": func.coalesce(lo(t.first_day, ex.first_day), ex.first_day),
            "last_day": func.coalesce(hi(t.last_day, ex.last_day), ex.last_day),
        },
    )
    session.execute(stmt, [{"buyer_id": b} | v for b, v in rows.items()])


class Rollups:
    """Accumulates differences in memory, then writes them in one round of upserts."""

    def __init__(self) -> None:
        self.sku: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
        self.region: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
        self.room: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
        self.customers: dict[str, dict] = {}
        self.pairs: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))

    def add_order(self, o: dict, old: Contribution, new: Contribution, lines: list) -> None:
        """o: day, buyer_id, room_id, persona, province, city; lines: (sku_id, qty, price)."""
        placed = int(new.placed > 0) - int(old.placed > 0)
        paid = int(new.paid > 0) - int(old.paid > 0)
        d_placed, d_paid, d_refund = (
            new.placed - old.placed,
            new.paid - old.paid,
            new.refund - old.refund,
        )
        day = o["day"]
        for bucket in (
            self.region[(day, o["province"], o["city"])],
            self.room[(day, o["room_id"], o["persona"])],
        ):
            bucket["orders"] += placed
            bucket["gmv_fen"] += d_placed
            bucket["paid_orders"] += paid
            bucket["paid_fen"] += d_paid
        weights = [q * p for _s, q, p in lines]
        for (sku_id, qty, _p), g, pd, rf in zip(
            lines,
            split_fen(d_placed, weights),
            split_fen(d_paid, weights),
            split_fen(d_refund, weights),
            strict=True,
        ):
            b = self.sku[(day, sku_id)]
            b["orders"] += placed
            b["units"] += placed * qty
            b["gmv_fen"] += g
            b["paid_orders"] += paid
            b["paid_units"] += paid * qty
            b["paid_fen"] += pd
            b["refund_fen"] += rf
        bought = new.bought - old.bought
        if bought:
            c = self.customers.setdefault(
                o["buyer_id"],
                {
                    "province": o["province"],
                    "city": o["city"],
                    "first_day": day,
                    "last_day": day,
                    "orders": 0,
                    "paid_fen": 0,
                },
            )
            c["orders"] += bought
            c["paid_fen"] += bought * new.placed
            c["first_day"], c["last_day"] = min(c["first_day"], day), max(c["last_day"], day)
            skus = sorted({s for s, _q, _p in lines})
            for i, a in enumerate(skus):
                self.pairs[(a, a)]["baskets"] += bought  # kept baskets holding a: the base
                for b in skus[i + 1 :]:
                    self.pairs[(a, b)]["baskets"] += bought

    def write(self, session: Session) -> None:
        upsert_add(session, AnDaySku, ("day", "sku_id"), self.sku)
        upsert_add(session, AnDayRegion, ("day", "province", "city"), self.region)
        upsert_add(session, AnDayRoom, ("day", "room_id", "persona"), self.room)
        upsert_customers(session, self.customers)
        upsert_add(session, AnPair, ("sku_a", "sku_b"), self.pairs)


_COLUMNS = (
    Order.id,
    Order.buyer_id,
    Order.status,
    Order.total_fen,
    Order.room_id,
    Order.persona,
    Order.segment,
    Order.created_at,
    Order.updated_at,
    Order.address_enc,
    AnOrder.placed_fen,
    AnOrder.paid_fen,
    AnOrder.refund_fen,
    AnOrder.province,
    AnOrder.city,
)


def _page(session: Session, cursor: tuple[datetime, str]) -> list:
    """The next PAGE orders after `cursor` in (updated_at, id) order, as two range reads the
    updated_at index serves: the rest of the cursor's own instant, then everything later.
    (One `updated_at > t OR (updated_at = t AND id > i)` read scans the whole index on SQLite.)"""
    ts, last_id = cursor

    def read(where, n: int) -> list:
        return session.execute(
            select(*_COLUMNS)
            .outerjoin(AnOrder, AnOrder.order_id == Order.id)
            .where(*where)
            .order_by(Order.updated_at, Order.id)
            .limit(n)
        ).all()

    if not last_id:
        return read((Order.updated_at >= ts,), PAGE)
    rows = read((Order.updated_at == ts, Order.id > last_id), PAGE)
    if len(rows) < PAGE:
        rows += read((Order.updated_at > ts,), PAGE - len(rows))
    return rows


def _sync(session: Session, decrypt, limit: int) -> tuple[int, bool]:
    """Up to `limit` changed orders folded into the rollups: (orders changed, more left)."""
    wm = session.get(AnState, WATERMARK)
    since = datetime.fromisoformat(wm.value) - MARGIN if wm else datetime(1970, 1, 1)
    cursor = (since, "")
    changed = seen = 0
    last_ts = since
    while seen < limit:
        rows = _page(session, cursor)
        if not rows:
            break
        seen += len(rows)
        short = len(rows) < PAGE  # the last page: nothing newer is left to read
        cursor = (rows[-1].updated_at, rows[-1].id)
        last_ts = max(last_ts, rows[-1].updated_at)
        todo = []
        for r in rows:
            new = contribution(r.status, r.total_fen)
            old = Contribution(r.placed_fen or 0, r.paid_fen or 0, r.refund_fen or 0)
            if new != old or r.placed_fen is None:
                todo.append((r, old, new))
        if not todo:
            if short:
                break
            continue
        changed += len(todo)
        lines: dict[str, list] = defaultdict(list)
        for oid, sku_id, qty, price in session.execute(
            select(
                OrderLine.order_id, OrderLine.sku_id, OrderLine.quantity, OrderLine.unit_price_fen
            )
            .where(OrderLine.order_id.in_([r.id for r, _o, _n in todo]))
            .order_by(OrderLine.id)
        ):
            lines[oid].append((sku_id, qty, price))
        acc = Rollups()
        facts = []
        for r, old, new in todo:
            if r.placed_fen is None:
                province, city = parse_region(decrypt(r.address_enc))
            else:
                province, city = r.province, r.city
            o = {
                "order_id": r.id,
                "buyer_id": r.buyer_id,
                "day": china_day(r.created_at),
                "room_id": r.room_id or "",
                "persona": r.persona or "",
                "segment": r.segment or "",
                "province": province,
                "city": city,
                "placed_fen": new.placed,
                "paid_fen": new.paid,
                "refund_fen": new.refund,
            }
            acc.add_order(o, old, new, lines[r.id])
            facts.append(o)
        acc.write(session)
        stmt = _insert(session)(AnOrder)
        stmt = stmt.on_conflict_do_update(
            index_elements=["order_id"],
            set_={k: getattr(stmt.excluded, k) for k in ("placed_fen", "paid_fen", "refund_fen")},
        )
        session.execute(stmt, facts)
        if short:
            break
    if seen:
        stmt = _insert(session)(AnState).values(key=WATERMARK, value=last_ts.isoformat())
        session.execute(
            stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
        )
    return changed, seen >= limit


class RollupSync:
    """Keeps one store's rollups current: on demand (before a report) or in a loop."""

    def __init__(self, store: Store, min_interval: float = 1.0) -> None:
        self.store = store
        self.min_interval = min_interval
        self._lock = asyncio.Lock()
        self._last = 0.0
        self._cache: dict[str, str] = {}
        # the last runs that read the orders: (monotonic start, seconds, orders changed)
        self.runs: deque[tuple[float, float, int]] = deque(maxlen=2000)

    def _decrypt(self, token: str) -> str:
        # Demo and repeat buyers reuse one sealed address; decrypt each once.
        hit = self._cache.get(token)
        if hit is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            hit = self._cache[token] = self.store.keys.decrypt(token)
        return hit

    async def sync(self, force: bool = False, limit: int = 100_000) -> int:
        """Fold orders changed since the last call into the rollups; returns orders changed.

        Without `force` (a report about to read) it neither runs twice a second nor waits for
        a refresh already running: the report reads the rollups as the last refresh left
        them, at most a refresh interval old, instead of queueing behind the write (at 1M
        orders with orders arriving, most answers over 100 ms were the ones that waited)."""
        loop = asyncio.get_running_loop()
        if not force and self._lock.locked():
            return 0
        async with self._lock:
            if not force and loop.time() - self._last < self.min_interval:
                return 0
            total = 0
            t0 = time.monotonic()
            while True:
                n, more = await self.store.db.run_write(_sync, self._decrypt, limit)
                total += n
                if not more:
                    break
            self.runs.append((t0, time.monotonic() - t0, total))
            self._last = loop.time()
            return total

    async def run(self, interval: float = 2.0) -> None:
        """Background loop (cancel to stop)."""
        import logging

        while True:
            try:
                await self.sync(force=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                logging.getLogger(__name__).exception("analytics rollup sync failed")
            await asyncio.sleep(interval)
