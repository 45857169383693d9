"""A recorded session as the 场次复盘 page shows it: aligned minute curves, the bands of the
script segments that were on air, and what sold during each segment.

Sales in a replay are read again from the orders (a minute's orders paid later count as paid);
an order belongs to the minute in which it was placed, and so to the segment on air then.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commerce.errors import InvalidInput, NotFound
from commerce.models import Order, OrderLine, RoomSession, RoomSessionMinute, Sku

# Orders whose money the shop kept (refunds and cancellations are not sales).
SOLD = ("paid", "shipped", "delivered", "completed", "refund_requested")
SESSION_ID = re.compile(r"[0-9a-f]{16}")
MAX_LIST = 200


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds") + "Z"


def _yuan(fen: int) -> float:
    return round(int(fen or 0) / 100.0, 2)


async def list_sessions(
    s: AsyncSession, shop_id: str, limit: int = 50, room_id: str | None = None
) -> list[dict]:
    """A shop's sessions, newest first, with their totals."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit 必须在 1 到 {MAX_LIST} 之间")
    q = (
        select(
            RoomSession,
            func.count(RoomSessionMinute.minute),
            func.coalesce(func.max(RoomSessionMinute.peak), 0),
            func.coalesce(func.sum(RoomSessionMinute.entries), 0),
            func.coalesce(func.sum(RoomSessionMinute.watch_s), 0),
            func.coalesce(func.sum(RoomSessionMinute.danmaku), 0),
            func.coalesce(func.sum(RoomSessionMinute.orders), 0),
            func.coalesce(func.sum(RoomSessionMinute.gmv_fen), 0),
        )
        .outerjoin(RoomSessionMinute, RoomSessionMinute.session_id == RoomSession.id)
        .where(RoomSession.shop_id == shop_id)
        .group_by(RoomSession.id)
        .order_by(RoomSession.started_at.desc(), RoomSession.id)
        .limit(limit)
    )
    if room_id:
        q = q.where(RoomSession.room_id == room_id)
    out = []
    for rs, minutes, peak, entries, watch, danmaku, orders, gmv in await s.execute(q):
        out.append(
            {
                "id": rs.id,
                "room_id": rs.room_id,
                "title": rs.title,
                "persona": rs.persona,
                "started_at": _iso(rs.started_at),
                "ended_at": _iso(rs.ended_at),
                "live": rs.ended_at is None,
                "bucket_s": rs.bucket_s,
                "minutes": int(minutes),
                "peak_viewers": int(peak),
                "entries": int(entries),
                "avg_watch_s": round(int(watch) / int(entries), 1) if entries else 0.0,
                "danmaku": int(danmaku),
                "orders": int(orders),
                "gmv": _yuan(gmv),
            }
        )
    return out


async def replay(s: AsyncSession, shop_id: str, session_id: str, now: datetime) -> dict:
    """One session: its minutes as aligned columns, segment bands, and sales per segment.
    An unknown id, or another shop's session, is NotFound (never told apart)."""
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise NotFound("没有这个场次")
    rs = await s.get(RoomSession, session_id)
    if rs is None or rs.shop_id != shop_id:
        raise NotFound("没有这个场次")
    rows = list(
        (
            await s.execute(
                select(RoomSessionMinute)
                .where(RoomSessionMinute.session_id == session_id)
                .order_by(RoomSessionMinute.minute)
            )
        ).scalars()
    )
    bucket = timedelta(seconds=rs.bucket_s)
    end = rs.ended_at or now
    # orders placed in the room while the session ran, put in their minutes
    orders = (
        await s.execute(
            select(Order.id, Order.created_at, Order.status, Order.total_fen)
            .where(
                Order.room_id == rs.room_id,
                Order.created_at >= rs.started_at,
                Order.created_at <= end,
            )
            .order_by(Order.created_at)
        )
    ).all()
    minute_of = {oid: max(0, int((at - rs.started_at) / bucket)) for oid, at, _st, _fen in orders}
    per_min: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # n, placed, paid n, paid
    for oid, _at, status, fen in orders:
        m = per_min[minute_of[oid]]
        m[0] += 1
        m[1] += int(fen)
        if status in SOLD:
            m[2] += 1
            m[3] += int(fen)
    by_minute = {r.minute: r for r in rows}
    segment_of: dict[int, str | None] = {r.minute: r.sku for r in rows}
    last = max([*by_minute, *per_min], default=-1)
    minutes = list(range(last + 1))

    def col(name: str, default=0):
        return [getattr(by_minute[m], name) if m in by_minute else default for m in minutes]

    # segment bands: runs of minutes with the same product on air
    bands: list[dict] = []
    for m in minutes:
        r = by_minute.get(m)
        key = (r.sku, r.persona) if r else (None, "")
        if bands and (bands[-1]["sku"], bands[-1]["persona"]) == key and bands[-1]["end"] == m:
            bands[-1]["end"] = m + 1
        elif r is not None:
            bands.append(
                {"start": m, "end": m + 1, "sku": r.sku, "product": r.product, "persona": r.persona}
            )
    # what sold in each segment: orders by the segment on air in their minute, units by SKU
    lines = defaultdict(lambda: defaultdict(int))
    if orders:
        ids = [o[0] for o in orders]
        for i in range(0, len(ids), 500):
            q = (
                select(OrderLine.order_id, Sku.code, OrderLine.quantity)
                .join(Sku, Sku.id == OrderLine.sku_id)
                .where(OrderLine.order_id.in_(ids[i : i + 500]))
            )
            for oid, code, qty in await s.execute(q):
                lines[oid][code] += int(qty)
    segs: dict[str, dict] = {}
    for oid, _at, status, fen in orders:
        seg = segment_of.get(minute_of[oid]) or "未标注"
        g = segs.setdefault(
            seg, {"sku": seg, "orders": 0, "gmv": 0, "paid_orders": 0, "paid_gmv": 0, "units": {}}
        )
        g["orders"] += 1
        g["gmv"] += int(fen)
        if status in SOLD:
            g["paid_orders"] += 1
            g["paid_gmv"] += int(fen)
        for code, qty in lines[oid].items():
            g["units"][code] = g["units"].get(code, 0) + qty
    products = {b["sku"]: b["product"] for b in bands if b["sku"]}
    for g in segs.values():
        g["product"] = products.get(g["sku"], "")
        g["gmv"], g["paid_gmv"] = _yuan(g["gmv"]), _yuan(g["paid_gmv"])
    return {
        "session": {
            "id": rs.id,
            "room_id": rs.room_id,
            "title": rs.title,
            "persona": rs.persona,
            "bucket_s": rs.bucket_s,
            "started_at": _iso(rs.started_at),
            "ended_at": _iso(rs.ended_at),
            "live": rs.ended_at is None,
        },
        "minutes": {
            "minute": minutes,
            "at": [_iso(rs.started_at + m * bucket) for m in minutes],
            "viewers": col("viewers"),
            "peak": col("peak"),
            "entries": col("entries"),
            "leaves": col("leaves"),
            "watch_s": col("watch_s"),
            "danmaku": col("danmaku"),
            "answers": col("answers"),
            "mood": col("mood", 0.0),
            "sku": col("sku", None),
            "persona": col("persona", ""),
            "orders": [per_min[m][0] if m in per_min else 0 for m in minutes],
            "gmv": [_yuan(per_min[m][1]) if m in per_min else 0.0 for m in minutes],
            "paid_orders": [per_min[m][2] if m in per_min else 0 for m in minutes],
            "paid_gmv": [_yuan(per_min[m][3]) if m in per_min else 0.0 for m in minutes],
        },
        "segments": bands,
        "sales_by_segment": sorted(segs.values(), key=lambda g: -g["gmv"]),
        "orders": [
            {"id": oid, "minute": minute_of[oid], "status": st, "amount": _yuan(fen)}
            for oid, _at, st, fen in orders[-500:]
        ],
    }
