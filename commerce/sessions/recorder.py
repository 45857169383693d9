"""The session recorder: one row per room session and one per minute of it.

It follows the engine as the live dashboard does (duck-typed: `list_rooms()`,
`subscribe(room_id, maxsize)`, `unsubscribe`, and optionally `room_shop(room_id)`), so the
commerce domain never imports the streamer, and rooms in worker processes are recorded the
same way: their events reach the web process through the engine's subscriptions.

Per minute: viewers online at its end and at peak, entries (`viewer_joined`), leaves
(`viewer_left`), viewer-seconds watched (online viewers integrated over the ticks), danmaku,
answers, the room's mood, orders and GMV placed in the room during the minute, and what was on
air: the host (persona) and the script segment's product (the one on air longest in the
minute, from the room's `line` events and its `current_sku`).

Several processes, one database: a room's minutes are written by one recorder, the one whose
engine runs the room. Room workers (`--workers N`) forward their rooms' events to the web
process, whose recorder is the only one. With several nodes (`--redis`), every node lists
every room but only the lease holder records it (the engine's optional `holds_room`). When
the room moves to another node (a takeover after a crash, or a hand-over), the new holder
resumes the room's open session where the last minute written ended, adding to a partial
minute the previous holder flushed as it let go, so the session has each minute once. A
session nobody has written for STALE_BUCKETS minutes (its server died and the room did not
come back) is closed at its last minute, by whichever recorder notices first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from commerce.models import Order, RoomSession, RoomSessionMinute

if TYPE_CHECKING:
    from commerce.store import Store

log = logging.getLogger(__name__)
BUCKET_S = 60
MAX_OPEN = 1000  # sessions followed at once (a bound, far above any server's rooms)
STALE_BUCKETS = 3  # an open session with no minute written for this long is a dead one's
DANGLING_EVERY = 30  # ticks between looks for dead sessions


@dataclass
class _Minute:
    entries: int = 0
    leaves: int = 0
    watch_s: float = 0.0
    danmaku: int = 0
    answers: int = 0
    peak: int = 0
    on_air: dict = field(default_factory=dict)  # sku -> seconds on air this minute


@dataclass
class _Open:
    id: str
    room_id: str
    started_at: datetime
    queue: asyncio.Queue
    minute: int = 0
    cur: _Minute = field(default_factory=_Minute)
    online: int = 0
    persona: str = ""
    sku: str | None = None
    product: str = ""
    products: dict = field(default_factory=dict)  # sku -> title, as the room named them
    mood: float = 0.0
    mood_label: str = "calm"
    last: datetime | None = None


class SessionRecorder:
    """Records every live room's session; `start()` runs it, `close()` ends open sessions
    (or, on one node of several, leaves them open for the node the rooms are handed to)."""

    def __init__(
        self, engine: Any, store: Store, shop_id: str = "default", bucket_s: int = BUCKET_S
    ) -> None:
        self.engine = engine
        self.store = store
        self.shop_id = shop_id
        self.bucket_s = max(1, int(bucket_s))
        self.open: dict[str, _Open] = {}
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._ticks = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, interval: float = 1.0) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(interval))

    async def _run(self, interval: float) -> None:
        try:
            await self.close_dangling()
        except Exception:
            log.exception("closing sessions left open by a dead server failed")
        while True:
            try:
                await self.tick()
                self._ticks += 1
                if self._ticks % DANGLING_EVERY == 0:
                    await self.close_dangling()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("session recorder tick failed")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # one node of several stopping hands its rooms over: their sessions go on there
        handed_over = getattr(self.engine, "holds_room", None) is not None
        for rid in list(self.open):
            with contextlib.suppress(Exception):
                if handed_over:
                    await self._let_go(rid, self.store.clock())
                else:
                    await self._end(rid)

    async def close_dangling(self) -> int:
        """Sessions a killed server left open end where their last minute ended, once no
        minute has been written for STALE_BUCKETS minutes (a session another node is still
        recording writes one every minute)."""
        now = self.store.clock()
        closed = 0
        async with self.store.db.write() as s:
            rows = (
                await s.execute(
                    select(RoomSession.id, RoomSession.started_at, RoomSession.bucket_s).where(
                        RoomSession.ended_at.is_(None)
                    )
                )
            ).all()
            for sid, started, bucket in rows:
                if any(o.id == sid for o in self.open.values()):
                    continue
                last = await s.scalar(
                    select(func.max(RoomSessionMinute.minute)).where(
                        RoomSessionMinute.session_id == sid
                    )
                )
                end = started + timedelta(seconds=((last or 0) + 1) * bucket)
                if now - end < timedelta(seconds=STALE_BUCKETS * bucket):
                    continue  # recorded elsewhere, or its room may come back: not yet
                await s.execute(
                    update(RoomSession).where(RoomSession.id == sid).values(ended_at=end)
                )
                closed += 1
        return closed

    # -- recording ------------------------------------------------------------------------
    async def tick(self) -> None:
        async with self._lock:
            now = self.store.clock()
            listed = {r["room_id"]: r for r in self.engine.list_rooms() if r.get("live", True)}
            holds = getattr(self.engine, "holds_room", None)
            live = {rid: r for rid, r in listed.items() if holds is None or holds(rid)}
            for rid in [r for r in self.open if r not in live]:
                if rid in listed:  # live on another node now: its holder goes on recording
                    await self._let_go(rid, now)
                else:
                    await self._end(rid, now)
            for rid, info in live.items():
                o = self.open.get(rid)
                if o is None:
                    if len(self.open) >= MAX_OPEN:
                        continue
                    o = await self._begin(rid, info, now)
                self._drain(o)  # events since the last tick: the minute that was running
                await self._roll(o, now)
                self._observe(o, info)

    def _minute_of(self, o: _Open, now: datetime) -> int:
        return max(0, int((now - o.started_at).total_seconds() // self.bucket_s))

    async def _begin(self, rid: str, info: dict, now: datetime) -> _Open:
        shop = self.shop_id
        with contextlib.suppress(Exception):
            shop = self.engine.room_shop(rid) or shop
        o = _Open(
            id=secrets.token_hex(8),
            room_id=rid,
            started_at=now,
            queue=self.engine.subscribe(rid, maxsize=5000),
            persona=str(info.get("persona") or ""),
            last=now,
        )
        try:
            if await self._resume(o, str(shop)[:64], now):
                self.open[rid] = o
                log.info("session %s of room %s resumed at minute %d", o.id, rid, o.minute)
                return o
        except BaseException:
            with contextlib.suppress(Exception):
                self.engine.unsubscribe(rid, o.queue)
            raise
        async with self.store.db.write() as s:
            s.add(
                RoomSession(
                    id=o.id,
                    room_id=rid,
                    shop_id=str(shop)[:64],
                    title=str(info.get("title") or "")[:60],
                    persona=o.persona[:64],
                    bucket_s=self.bucket_s,
                    started_at=now,
                    ended_at=None,
                )
            )
        self.open[rid] = o
        log.info("session %s of room %s started", o.id, rid)
        return o

    async def _resume(self, o: _Open, shop: str, now: datetime) -> bool:
        """Take over the room's open session when its last minute ended lately (another
        process recorded it until the room moved here): go on from the first minute not
        written, adding to a partial minute the previous holder flushed as it let go."""
        async with self.store.db.read() as s:
            row = (
                await s.execute(
                    select(RoomSession.id, RoomSession.started_at, RoomSession.bucket_s)
                    .where(
                        RoomSession.room_id == o.room_id,
                        RoomSession.shop_id == shop,
                        RoomSession.ended_at.is_(None),
                    )
                    .order_by(RoomSession.started_at.desc())
                    .limit(1)
                )
            ).first()
            if row is None or row.bucket_s != self.bucket_s:
                return False
            n = await s.scalar(
                select(func.max(RoomSessionMinute.minute)).where(
                    RoomSessionMinute.session_id == row.id
                )
            )
            last = await s.get(RoomSessionMinute, (row.id, n)) if n is not None else None
        written_to = row.started_at + timedelta(
            seconds=((last.minute + 1) if last else 0) * row.bucket_s
        )
        if now - written_to >= timedelta(seconds=STALE_BUCKETS * self.bucket_s):
            return False  # a dead session: closed by close_dangling, this one starts anew
        o.id, o.started_at = row.id, row.started_at
        now_minute = self._minute_of(o, now)
        if last is not None and last.minute >= now_minute:  # partial: go on adding to it
            o.minute = last.minute
            o.cur = _Minute(
                entries=last.entries,
                leaves=last.leaves,
                watch_s=float(last.watch_s),
                danmaku=last.danmaku,
                answers=last.answers,
                peak=last.peak,
            )
            if last.sku:
                o.products[last.sku] = last.product
        else:
            o.minute = last.minute + 1 if last is not None else 0
        return True

    def _drain(self, o: _Open) -> None:
        q = o.queue
        while not q.empty():
            ev = q.get_nowait()
            if not isinstance(ev, dict):
                ev = ev.as_dict() if hasattr(ev, "as_dict") else {}
            kind = ev.get("type")
            if kind == "viewer_joined":
                o.cur.entries += 1
            elif kind == "viewer_left":
                o.cur.leaves += 1
            elif kind == "danmaku":
                o.cur.danmaku += 1
            elif kind == "answer":
                o.cur.answers += 1
            elif kind == "mood":
                with contextlib.suppress(TypeError, ValueError):
                    o.mood = float(ev.get("score") or 0.0)
                o.mood_label = str(ev.get("label") or "calm")[:16]
            elif kind == "line" and ev.get("kind") == "script" and ev.get("sku"):
                o.sku = str(ev["sku"])[:64]
                card = ev.get("card") or {}
                if isinstance(card, dict) and card.get("title"):
                    o.products[o.sku] = str(card["title"])[:60]

    async def _roll(self, o: _Open, now: datetime) -> None:
        """Bring the session up to `now`: close the running minute (and any minutes a stalled
        loop skipped, with what held before the stall) when `now` is past it."""
        minute = self._minute_of(o, now)
        while o.minute < minute:
            self._integrate(o, o.started_at + timedelta(seconds=(o.minute + 1) * self.bucket_s))
            await self._flush(o)
            o.minute, o.cur = o.minute + 1, _Minute(peak=o.online)
        self._integrate(o, now)

    def _integrate(self, o: _Open, t: datetime) -> None:
        """Add the time since the last tick, with what held during it, to the running minute."""
        dt = max(0.0, (t - (o.last or t)).total_seconds())
        o.last = max(o.last or t, t)
        o.cur.watch_s += o.online * dt
        if o.sku:
            o.cur.on_air[o.sku] = o.cur.on_air.get(o.sku, 0.0) + dt

    def _observe(self, o: _Open, info: dict) -> None:
        """What the room says now: viewers online, the host, the product being presented."""
        o.online = int(info.get("viewers") or 0)
        o.cur.peak = max(o.cur.peak, o.online)
        o.persona = str(info.get("persona") or o.persona)[:64]
        cur = info.get("current_sku")
        if cur:  # the room's own word on the product being presented wins over a stale line
            o.sku = str(cur)[:64]
            if info.get("current_product"):
                o.products[o.sku] = str(info["current_product"])[:60]

    async def _flush(self, o: _Open) -> None:
        c = o.cur
        sku = max(c.on_air, key=c.on_air.get) if c.on_air else o.sku
        at = o.started_at + timedelta(seconds=o.minute * self.bucket_s)
        end = at + timedelta(seconds=self.bucket_s)
        async with self.store.db.write() as s:
            n, gmv = (  # placed in the minute, paid or not (GMV 含未支付)
                await s.execute(
                    select(func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0)).where(
                        Order.room_id == o.room_id,
                        Order.created_at >= at,
                        Order.created_at < end,
                    )
                )
            ).one()
            row = await s.get(RoomSessionMinute, (o.id, o.minute))
            values = dict(
                at=at,
                viewers=o.online,
                peak=max(c.peak, o.online),
                entries=c.entries,
                leaves=c.leaves,
                watch_s=int(round(c.watch_s)),
                danmaku=c.danmaku,
                answers=c.answers,
                mood=round(o.mood, 3),
                mood_label=o.mood_label,
                orders=int(n),
                gmv_fen=int(gmv),
                persona=o.persona,
                sku=sku,
                product=o.products.get(sku or "", "")[:60],
            )
            if row is None:
                s.add(RoomSessionMinute(session_id=o.id, minute=o.minute, **values))
            else:
                for k, v in values.items():
                    setattr(row, k, v)

    async def _let_go(self, rid: str, now: datetime) -> None:
        """The room runs on another node now: write what this minute has so far (the new
        holder adds to it) and stop following, leaving the session open for it."""
        o = self.open.pop(rid)
        with contextlib.suppress(Exception):
            self.engine.unsubscribe(rid, o.queue)
        self._drain(o)
        await self._roll(o, now)
        await self._flush(o)
        log.info("session %s of room %s handed to the room's new node", o.id, rid)

    async def _end(self, rid: str, now: datetime | None = None) -> None:
        o = self.open.pop(rid)
        now = now or self.store.clock()
        with contextlib.suppress(Exception):
            self.engine.unsubscribe(rid, o.queue)
        self._drain(o)
        await self._roll(o, now)
        o.online = 0
        await self._flush(o)
        async with self.store.db.write() as s:
            await s.execute(update(RoomSession).where(RoomSession.id == o.id).values(ended_at=now))
        log.info("session %s of room %s ended", o.id, rid)
