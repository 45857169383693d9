"""Live room figures for today: audience from the engine's events, sales from the rollups.

The engine does not track watch time per viewer, so this aggregator measures it itself:
every tick it adds (online viewers × seconds since the last tick) to the room's viewer-
seconds, and 平均观看时长 = viewer-seconds / views (entries, counted from `viewer_joined`).
The engine gives no viewer identity either, so UV counts distinct `user_id`/`viewer_id`
seen in room events plus anonymous entries: with anonymous viewers UV equals views.
Interactions are room events that name a viewer (danmaku, questions, likes, gifts, follows;
a nickname stands in for the id where the event carries no id).

The aggregator depends only on a duck-typed engine (`list_rooms()`, `subscribe(room_id)`,
`unsubscribe`) so the commerce domain never imports the streamer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from commerce.analytics import metrics
from commerce.analytics.calendar import china_day
from commerce.models import AnDayRoom, AnOrder

if TYPE_CHECKING:
    from commerce.store import Store

log = logging.getLogger(__name__)
INTERACTIONS = frozenset({"danmaku", "question", "like", "gift", "notice"})


@dataclass
class RoomAudience:
    persona: str = ""
    online: int = 0
    peak: int = 0
    views: int = 0
    anonymous: int = 0
    viewers: set = field(default_factory=set)
    interacting: set = field(default_factory=set)
    viewer_seconds: float = 0.0
    flushed_views: int = 0
    flushed_uv: int = 0

    @property
    def uv(self) -> int:
        return len(self.viewers) + self.anonymous


class LiveAggregator:
    """Follows every live room's events; `snapshot()` gives today's figures per room."""

    def __init__(self, engine: Any, store: Store, clock=time.monotonic) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.rooms: dict[str, RoomAudience] = {}
        self.day: date = china_day(store.clock())
        self._queues: dict[str, asyncio.Queue] = {}
        self._task: asyncio.Task | None = None
        self._last = clock()

    # -- audience -------------------------------------------------------------------------
    def on_event(self, room_id: str, ev: Any) -> None:
        """Count one room event: a dict or a typed event with `as_dict()`."""
        if not isinstance(ev, dict):
            ev = ev.as_dict() if hasattr(ev, "as_dict") else {}
        a = self.rooms.setdefault(room_id, RoomAudience())
        kind = ev.get("type")
        who = ev.get("user_id") or ev.get("viewer_id")
        if not who and ev.get("nickname"):
            who = "nick:" + str(ev["nickname"])  # danmaku and gifts name the viewer only
        if kind == "notice" and ev.get("kind") == "enter":
            kind = None
        if kind == "viewer_joined":
            a.views += 1
            if who:
                a.viewers.add(who)
            else:
                a.anonymous += 1
        elif kind in INTERACTIONS and who:
            a.interacting.add(who)
            a.viewers.add(who)

    def tick(self) -> None:
        """Integrate online viewers over time; follow rooms that started or stopped."""
        now = self.clock()
        dt, self._last = max(0.0, now - self._last), now
        today = china_day(self.store.clock())
        if today != self.day:
            self.day, self.rooms = today, {}
        live = {r["room_id"]: r for r in self.engine.list_rooms()}
        for rid, info in live.items():
            a = self.rooms.setdefault(rid, RoomAudience())
            a.persona = info.get("persona", "") or ""
            a.viewer_seconds += a.online * dt
            a.online = int(info.get("viewers", 0))
            a.peak = max(a.peak, a.online)
            if rid not in self._queues:
                self._queues[rid] = self.engine.subscribe(rid, maxsize=1000)
        for rid in [r for r in self._queues if r not in live]:
            self.engine.unsubscribe(rid, self._queues.pop(rid))
            if rid in self.rooms:
                self.rooms[rid].online = 0
        for rid, q in self._queues.items():
            while not q.empty():
                self.on_event(rid, q.get_nowait())

    async def flush(self) -> None:
        """Add views and visitors counted since the last flush to the day's funnel rollup."""
        from commerce.analytics.rollup import upsert_add

        rows = {}
        for rid, a in self.rooms.items():
            dv, du = a.views - a.flushed_views, a.uv - a.flushed_uv
            if dv or du:
                rows[(self.day, rid, a.persona)] = {"views": dv, "uv": du}
                a.flushed_views, a.flushed_uv = a.views, a.uv
        if rows:
            await self.store.db.run_write(
                lambda s: upsert_add(s, AnDayRoom, ("day", "room_id", "persona"), rows)
            )

    # -- figures --------------------------------------------------------------------------
    async def sales_today(self) -> dict[str, dict]:
        """Per room: GMV, paid GMV, orders, paid orders, paying buyers, and per script segment."""
        out: dict[str, dict] = {}
        async with self.store.db.read() as s:
            rows = await s.execute(
                select(
                    AnOrder.room_id,
                    AnOrder.segment,
                    func.count(),
                    func.sum(AnOrder.placed_fen),
                    func.sum(AnOrder.paid_fen),
                    func.sum(case((AnOrder.paid_fen > 0, 1), else_=0)),
                )
                .where(AnOrder.day == self.day, AnOrder.room_id != "")
                .group_by(AnOrder.room_id, AnOrder.segment)
            )
            for rid, seg, n, g, p, pn in rows:
                r = out.setdefault(
                    rid, {"orders": 0, "gmv": 0, "paid": 0, "paid_orders": 0, "by_segment": {}}
                )
                r["orders"] += int(n)
                r["gmv"] += int(g or 0)
                r["paid"] += int(p or 0)
                r["paid_orders"] += int(pn or 0)
                r["by_segment"][seg or "未标注"] = {
                    "orders": int(n),
                    "gmv": metrics.yuan(int(g or 0)),
                    "paid_gmv": metrics.yuan(int(p or 0)),
                }
            buyers = await s.execute(
                select(AnOrder.room_id, func.count(func.distinct(AnOrder.buyer_id)))
                .where(AnOrder.day == self.day, AnOrder.room_id != "", AnOrder.paid_fen > 0)
                .group_by(AnOrder.room_id)
            )
            for rid, b in buyers:
                out.setdefault(
                    rid, {"orders": 0, "gmv": 0, "paid": 0, "paid_orders": 0, "by_segment": {}}
                )
                out[rid]["buyers"] = int(b)
        return out

    async def snapshot(self) -> dict:
        self.tick()
        sales = await self.sales_today()
        rooms = []
        total = dict.fromkeys(
            (
                "online",
                "peak",
                "views",
                "uv",
                "secs",
                "inter",
                "gmv",
                "paid",
                "orders",
                "po",
                "buyers",
            ),
            0,
        )
        for rid in sorted(set(self.rooms) | set(sales)):
            a = self.rooms.get(rid, RoomAudience())
            sl = sales.get(rid, {})
            f = metrics.figures(
                rid,
                online=a.online,
                peak_online=a.peak,
                views=a.views,
                uv=a.uv,
                viewer_seconds=a.viewer_seconds,
                interacting=len(a.interacting),
                gmv=sl.get("gmv", 0),
                paid=sl.get("paid", 0),
                orders=sl.get("orders", 0),
                paid_orders=sl.get("paid_orders", 0),
                buyers=sl.get("buyers", 0),
                by_segment=sl.get("by_segment", {}),
            )
            rooms.append(f.to_json())
            for k, v in (
                ("online", a.online),
                ("peak", a.peak),
                ("views", a.views),
                ("uv", a.uv),
                ("secs", a.viewer_seconds),
                ("inter", len(a.interacting)),
                ("gmv", sl.get("gmv", 0)),
                ("paid", sl.get("paid", 0)),
                ("orders", sl.get("orders", 0)),
                ("po", sl.get("paid_orders", 0)),
                ("buyers", sl.get("buyers", 0)),
            ):
                total[k] += v
        t = metrics.figures(
            "全部直播间",
            online=total["online"],
            peak_online=total["peak"],
            views=total["views"],
            uv=total["uv"],
            viewer_seconds=total["secs"],
            interacting=total["inter"],
            gmv=total["gmv"],
            paid=total["paid"],
            orders=total["orders"],
            paid_orders=total["po"],
            buyers=total["buyers"],
        )
        return {"type": "live", "day": self.day.isoformat(), "rooms": rooms, "total": t.to_json()}

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, interval: float = 1.0, flush_every: float = 10.0) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(interval, flush_every))

    async def _run(self, interval: float, flush_every: float) -> None:
        since_flush = 0.0
        while True:
            try:
                self.tick()
                since_flush += interval
                if since_flush >= flush_every:
                    since_flush = 0.0
                    await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live analytics tick failed")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()
        for rid, q in self._queues.items():
            self.engine.unsubscribe(rid, q)
        self._queues.clear()
