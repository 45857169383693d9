"""The rooms' 7×24 schedule (排班): daily slots per room, each with a persona, a product
lineup and RTMP outputs, e.g. 小王 06:00–12:00 with 大枣 and 小米, 小李 19:00–23:00 with 苹果.

Times are minutes of the local day (the scheduler's time zone); a slot whose end is at or
before its start runs past midnight (22:00–02:00). Two slots of one room may touch (one ends
at 12:00, the next starts at 12:00) but never overlap: an overlap is refused with the slot it
overlaps. Stream keys are stored encrypted and only ever shown masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from commerce.errors import InvalidInput, NotFound
from commerce.models import AnState, RoomSlot, ShopRoom
from commerce.text import hidden_chars

if TYPE_CHECKING:
    from commerce.store import Store

DAY = 24 * 60
ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
PERSONA = re.compile(r"[a-z0-9_]{1,32}")
HHMM = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")
MAX_TITLE = 60
MAX_LINEUP = 50
MAX_OUTPUTS = 4
MAX_OUTPUT_NAME = 32
MAX_OUTPUT_URL = 512
MAX_OUTPUT_KEY = 256
MAX_SLOTS_PER_ROOM = 48
RESOLUTIONS = ("720p", "480p")  # a slot's frame size (the engine's avatars.layout names)
SKIP_KEY = "schedule_skip:"  # an_state key of a slot's run stopped by hand: + slot id


def parse_hhmm(value: object, what: str, end: bool = False) -> int:
    """ "06:00" -> 360. "24:00" is allowed as an end only (the end of the day)."""
    text = value.strip() if isinstance(value, str) else ""
    m = HHMM.fullmatch(text)
    minutes = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
    if not m or minutes > DAY or (minutes == DAY and not end):
        raise InvalidInput(f"{what}格式不正确，应为 06:00 这样的 24 小时制时间")
    return minutes


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def spans(start: int, end: int) -> list[tuple[int, int]]:
    """The half-open minute ranges of the day a daily slot covers."""
    if end > start:
        return [(start, end)]
    return [(start, DAY), (0, end)]


def overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return any(x0 < y1 and y0 < x1 for x0, x1 in spans(*a) for y0, y1 in spans(*b))


def mask(key: str) -> str:
    return "****" + key[-4:] if len(key) >= 16 else "****"


@dataclass(frozen=True)
class Slot:
    """One daily slot, as the scheduler and the API read it."""

    id: int
    shop_id: str
    room_id: str
    title: str
    persona: str
    start_min: int
    end_min: int
    lineup: tuple[str, ...] = ()
    outputs: tuple[dict, ...] = ()  # {name, url, key}: key sealed
    enabled: bool = True
    resolution: str = "720p"
    created_by: str = ""
    updated_at: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def occurrence(self, local: datetime) -> datetime | None:
        """The start (local wall time) of this slot's run that covers `local`, or None."""
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        minute = (local - midnight).total_seconds() / 60
        s, e = self.start_min, self.end_min
        if e > s:
            return midnight + timedelta(minutes=s) if s <= minute < e else None
        if minute >= s:
            return midnight + timedelta(minutes=s)
        if minute < e:
            return midnight - timedelta(days=1) + timedelta(minutes=s)
        return None

    def next_start(self, local: datetime) -> datetime:
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight + timedelta(minutes=self.start_min)
        return start if start > local else start + timedelta(days=1)

    def end_of(self, occurrence: datetime) -> datetime:
        length = (self.end_min - self.start_min) % DAY or DAY
        return occurrence + timedelta(minutes=length)

    def view(self) -> dict:
        """What the API shows: stream keys masked."""
        return {
            "id": self.id,
            "room_id": self.room_id,
            "title": self.title,
            "persona": self.persona,
            "start": hhmm(self.start_min),
            "end": hhmm(self.end_min),
            "lineup": list(self.lineup),
            "outputs": [
                {"name": o["name"], "url": o["url"], "stream_key": o.get("masked", "****")}
                for o in self.outputs
            ],
            "enabled": self.enabled,
            "resolution": self.resolution,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
        }


def next_boundary(slots: list[Slot], local: datetime) -> float | None:
    """Seconds from `local` to the next start or end of any slot (None without slots)."""
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    best: float | None = None
    for s in slots:
        for minute in (s.start_min, s.end_min % DAY):
            at = midnight + timedelta(minutes=minute)
            if at <= local:
                at += timedelta(days=1)
            wait = (at - local).total_seconds()
            best = wait if best is None else min(best, wait)
    return best


def _text(value: object, what: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{what}必须是文字")
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"请填写{what}")
    if len(text) > limit:
        raise InvalidInput(f"{what}不能超过{limit}个字符")
    if hidden_chars(text):
        raise InvalidInput(f"{what}不能含控制字符或不可见字符")
    return text


class ScheduleService:
    """The schedule's rows (`store.schedule`); every call is scoped to one shop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _slot(self, row: RoomSlot) -> Slot:
        outputs = []
        for o in row.outputs or []:
            try:
                key = self.store.keys.decrypt(o["key"])
            except Exception:  # a key sealed under another secret: shown, never used
                key = ""
            outputs.append(
                {"name": o["name"], "url": o["url"], "key": o["key"], "masked": mask(key)}
            )
        return Slot(
            id=row.id,
            shop_id=row.shop_id,
            room_id=row.room_id,
            title=row.title,
            persona=row.persona,
            start_min=row.start_min,
            end_min=row.end_min,
            lineup=tuple(row.lineup or ()),
            outputs=tuple(outputs),
            enabled=row.enabled,
            resolution=row.resolution or "720p",
            created_by=row.created_by,
            updated_at=row.updated_at.isoformat(),
        )

    def stream_key(self, output: dict) -> str:
        """The clear stream key of one of a slot's outputs (for the scheduler only)."""
        return self.store.keys.decrypt(output["key"])

    async def list(self, shop_id: str | None = None, room_id: str | None = None) -> list[Slot]:
        """Slots by room and start time; every shop's when `shop_id` is None (the scheduler)."""
        q = select(RoomSlot)
        if shop_id is not None:
            q = q.where(RoomSlot.shop_id == shop_id)
        if room_id is not None:
            q = q.where(RoomSlot.room_id == room_id)
        async with self.store.db.read() as s:
            rows = (await s.scalars(q.order_by(RoomSlot.room_id, RoomSlot.start_min))).all()
            return [self._slot(r) for r in rows]

    async def get(self, shop_id: str, slot_id: object) -> Slot:
        sid = _slot_id(slot_id)
        async with self.store.db.read() as s:
            row = await s.get(RoomSlot, sid)
            if row is None or row.shop_id != shop_id:
                raise NotFound(f"时段不存在：{str(slot_id)[:20]}")
            return self._slot(row)

    async def add(self, shop_id: str, spec: dict[str, Any], by: str) -> Slot:
        """A new slot. `spec`: room_id, persona, start, end ("HH:MM"), and optionally title,
        lineup (SKUs), outputs ([{name, url, stream_key}]), enabled and resolution
        ("720p", the default, or "480p")."""
        clean = await self._clean(spec, None)
        now = self.store.clock()
        async with self.store.db.write() as s:
            await self._check_overlap(s, clean, None)
            row = RoomSlot(
                shop_id=shop_id,
                created_by=by[:64],
                created_at=now,
                updated_at=now,
                **clean,
            )
            s.add(row)
            await s.flush()
            return self._slot(row)

    async def update(self, shop_id: str, slot_id: object, spec: dict[str, Any], by: str) -> Slot:
        """Change the given fields of a slot (the room stays the slot's room). Outputs given
        again without a stream key keep the key they had (matched by URL and name)."""
        sid = _slot_id(slot_id)
        async with self.store.db.read() as s:
            row = await s.get(RoomSlot, sid)
            if row is None or row.shop_id != shop_id:
                raise NotFound(f"时段不存在：{str(slot_id)[:20]}")
            if "room_id" in spec and spec["room_id"] != row.room_id:
                raise InvalidInput("时段的直播间不能修改，请删除后重新添加")
            current = {
                "room_id": row.room_id,
                "title": row.title,
                "persona": row.persona,
                "start": hhmm(row.start_min),
                "end": hhmm(row.end_min),
                "lineup": list(row.lineup or ()),
                "enabled": row.enabled,
                "resolution": row.resolution or "720p",
            }
            old_outputs = list(row.outputs or [])
        merged = {**current, **{k: v for k, v in spec.items() if k != "outputs"}}
        clean = await self._clean(merged, old_outputs)
        if "outputs" in spec:
            clean["outputs"] = self._outputs(spec["outputs"], old_outputs)
        async with self.store.db.write() as s:
            row = await s.get(RoomSlot, sid)
            if row is None or row.shop_id != shop_id:
                raise NotFound(f"时段不存在：{str(slot_id)[:20]}")
            await self._check_overlap(s, clean, row.id)
            for k, v in clean.items():
                setattr(row, k, v)
            row.updated_at = self.store.clock()
            return self._slot(row)

    async def delete(self, shop_id: str, slot_id: object) -> Slot:
        sid = _slot_id(slot_id)
        async with self.store.db.write() as s:
            row = await s.get(RoomSlot, sid)
            if row is None or row.shop_id != shop_id:
                raise NotFound(f"时段不存在：{str(slot_id)[:20]}")
            slot = self._slot(row)
            await s.delete(row)
            return slot

    # -- runs stopped by hand (they stay stopped until the slot's next run, across restarts)
    async def skipped_runs(self) -> set[tuple[int, str]]:
        """Every slot's run stopped by hand, as (slot id, run start in ISO local time)."""
        async with self.store.db.read() as s:
            rows = (await s.scalars(select(AnState).where(AnState.key.like(SKIP_KEY + "%")))).all()
        out = set()
        for row in rows:
            tail = row.key[len(SKIP_KEY) :]
            if tail.isdigit():
                out.add((int(tail), row.value))
        return out

    async def skip_run(self, slot_id: int, run: str) -> None:
        """Remember that this run of the slot was stopped by hand (one run per slot)."""
        async with self.store.db.write() as s:
            row = await s.get(AnState, f"{SKIP_KEY}{int(slot_id)}")
            if row is None:
                s.add(AnState(key=f"{SKIP_KEY}{int(slot_id)}", value=run[:64]))
            else:
                row.value = run[:64]

    async def forget_runs(self, runs: set[tuple[int, str]]) -> None:
        """Forget these hand stops (their run is over, or their slot is gone)."""
        if not runs:
            return
        async with self.store.db.write() as s:
            for slot_id, run in runs:
                await s.execute(
                    delete(AnState).where(
                        AnState.key == f"{SKIP_KEY}{int(slot_id)}", AnState.value == run[:64]
                    )
                )

    async def check(self, spec: dict[str, Any]) -> None:
        """Refuse a new slot's spec as `add` would, before anything is written (the times,
        lineup and text; overlaps are checked by `add` itself)."""
        await self._clean(spec, None)

    # -- checks --------------------------------------------------------------------------------
    async def _clean(self, spec: dict[str, Any], keep_outputs: list | None) -> dict[str, Any]:
        room_id = spec.get("room_id")
        if not isinstance(room_id, str) or not ROOM_ID.fullmatch(room_id):
            raise InvalidInput("直播间编号应为 1–64 位字母、数字、- 或 _")
        persona = spec.get("persona")
        if not isinstance(persona, str) or not PERSONA.fullmatch(persona):
            raise InvalidInput("请选择主播")
        start = parse_hhmm(spec.get("start"), "开始时间")
        end = parse_hhmm(spec.get("end"), "结束时间", end=True)
        if start == end:
            raise InvalidInput("开始和结束时间不能相同（全天请用 00:00–24:00）")
        lineup = spec.get("lineup") or []
        if not isinstance(lineup, list) or not all(isinstance(x, str) for x in lineup):
            raise InvalidInput("商品清单必须是商品编码的列表")
        if len(lineup) > MAX_LINEUP:
            raise InvalidInput(f"一个时段最多 {MAX_LINEUP} 个商品")
        if len(set(lineup)) != len(lineup):
            raise InvalidInput("商品清单中有重复的商品")
        for sku in lineup:
            if len(sku) > 64 or await self.store.fact_sheet(sku) is None:
                raise InvalidInput(f"商品不存在：{sku[:64]}")
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInput("启用状态必须是 true 或 false")
        resolution = spec.get("resolution", "720p")
        if resolution is None:
            resolution = "720p"
        if not isinstance(resolution, str) or resolution not in RESOLUTIONS:
            raise InvalidInput("清晰度只能是 720p（高清）或 480p（省流）")
        clean = {
            "room_id": room_id,
            "title": _text(spec.get("title"), "直播间标题", MAX_TITLE),
            "persona": persona,
            "start_min": start,
            "end_min": end,
            "lineup": list(lineup),
            "enabled": enabled,
            "resolution": resolution,
        }
        if keep_outputs is None:
            clean["outputs"] = self._outputs(spec.get("outputs") or [], [])
        else:
            clean["outputs"] = keep_outputs
        return clean

    def _outputs(self, given: object, old: list) -> list[dict]:
        if not isinstance(given, list):
            raise InvalidInput("推流设置必须是列表")
        if len(given) > MAX_OUTPUTS:
            raise InvalidInput(f"一个时段最多 {MAX_OUTPUTS} 路推流")
        out = []
        for i, o in enumerate(given, 1):
            if not isinstance(o, dict):
                raise InvalidInput(f"第 {i} 路推流格式不正确")
            name = _text(o.get("name"), "推流名称", MAX_OUTPUT_NAME)
            url = _text(o.get("url"), "推流地址", MAX_OUTPUT_URL, required=True)
            key = o.get("stream_key") or ""
            if not isinstance(key, str) or len(key) > MAX_OUTPUT_KEY:
                raise InvalidInput(f"第 {i} 路推流密钥不正确")
            if not key or key.startswith("****"):
                kept = next((x for x in old if x["url"] == url and x["name"] == name), None)
                if kept is None:
                    raise InvalidInput(f"请填写第 {i} 路推流密钥")
                out.append({"name": name, "url": url, "key": kept["key"]})
            else:
                out.append({"name": name, "url": url, "key": self.store.keys.encrypt(key)})
        return out

    async def _check_overlap(self, s, clean: dict, slot_id: int | None) -> None:
        # the room's row, locked: two slots added at once for one room are checked one after
        # the other (PostgreSQL; SQLite's writer lock already serialises them)
        await s.execute(
            select(ShopRoom.room_id).where(ShopRoom.room_id == clean["room_id"]).with_for_update()
        )
        rows = (await s.scalars(select(RoomSlot).where(RoomSlot.room_id == clean["room_id"]))).all()
        others = [r for r in rows if r.id != slot_id]
        if len(others) >= MAX_SLOTS_PER_ROOM:
            raise InvalidInput(f"一个直播间最多 {MAX_SLOTS_PER_ROOM} 个时段")
        mine = (clean["start_min"], clean["end_min"])
        for r in others:
            if overlap(mine, (r.start_min, r.end_min)):
                raise InvalidInput(
                    f"时段 {hhmm(mine[0])}–{hhmm(mine[1])} 与直播间 {r.room_id} 已有的时段 "
                    f"{hhmm(r.start_min)}–{hhmm(r.end_min)}（{r.title or r.persona}，#{r.id}）重叠"
                )


def _slot_id(value: object) -> int:
    text = str(value)
    if not text.isdigit() or len(text) > 9:
        raise NotFound(f"时段不存在：{text[:20]}")
    return int(text)
