"""The 7×24 scheduler: starts and stops rooms on the times of their daily slots
(`commerce.schedule`), in the schedule's time zone (Asia/Shanghai unless configured).

It reconciles rather than counts on events: each pass asks "which slot should be live in each
room now?" and makes it so. A server that was down at a slot's start therefore starts the
room on its first pass after a restart (a missed start is caught up at once), and a server
down at a slot's end stops nothing it did not start.

- A room the scheduler started is stopped when its slot ends, is deleted or disabled, or the
  next slot of the room begins (then the room restarts with that slot's host and lineup).
- A room stopped by hand during its slot stays stopped until the slot's next run, also across
  a restart (the run is remembered in the shop's database).
- A room already live when its slot begins (started by hand) is left alone, and not stopped
  at the slot's end: the page shows the slot as 已被手动开播占用.
- A start that fails (the server's room cap, say) is retried on the next pass, and its reason
  is shown on the page.

The clock is injected (`clock() -> aware datetime`), so tests drive whole days in
milliseconds; the loop wakes at the next slot boundary or every `every` seconds, whichever is
first, and at once when the schedule changes (`wake()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from avatars.layout import frame_size
from commerce.schedule import Slot, next_boundary
from streamer.engine_base import EngineError, RoomNotFound
from streamer.outputs import OutputError
from streamer.room import RoomConfig

log = logging.getLogger(__name__)

DEFAULT_TZ = "Asia/Shanghai"
EVERY = 5.0  # seconds between passes at most
STATE_ZH = {
    "live": "直播中",
    "waiting": "等待开播",
    "starting": "正在开播",
    "off": "已停用",
    "busy": "已被手动开播占用",
    "skipped": "本时段已手动下播",
    "error": "开播失败，稍后重试",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    """The schedule's time zone; ValueError naming the setting when it is not a zone."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, TypeError, OSError):
        raise ValueError(
            f"schedule_tz {str(name)[:64]!r} is not a time zone (use an IANA name such as "
            "Asia/Shanghai)"
        ) from None


class Scheduler:
    """Runs the schedule against an engine (`Engine` or `WorkerEngine`)."""

    def __init__(
        self,
        engine,
        store,
        tz: str = DEFAULT_TZ,
        clock: Callable[[], datetime] = utc_now,
        every: float = EVERY,
        on_started: Callable[[str], None] | None = None,
        douyin_rooms: dict[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.tz = zone(tz)
        self.tz_name = tz
        self.clock = clock
        self.every = every
        self.on_started = on_started
        self.douyin_rooms = dict(douyin_rooms or {})
        self._ours: dict[str, tuple[int, str]] = {}  # room id -> (slot id, run start)
        self._skipped: set[tuple[int, str]] = set()  # runs stopped by hand (persisted)
        self._skips_loaded = False
        self._state: dict[int, dict] = {}  # slot id -> {"state", "detail", "since"}
        self._errors: dict[int, str] = {}  # the last start failure logged, per slot
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self.passes = 0

    # -- time ----------------------------------------------------------------------------------
    def local_now(self) -> datetime:
        """The schedule's wall-clock time now (naive, in the schedule's time zone)."""
        return self.clock().astimezone(self.tz).replace(tzinfo=None)

    # -- one pass ------------------------------------------------------------------------------
    async def tick(self) -> dict:
        """Reconcile once; returns the rooms started and stopped in this pass."""
        async with self._lock:
            return await self._tick()

    async def _tick(self) -> dict:
        self.passes += 1
        if not self._skips_loaded:  # the hand stops of runs before a restart
            self._skipped |= await self.store.schedule.skipped_runs()
            self._skips_loaded = True
        now = self.local_now()
        slots = await self.store.schedule.list()
        want: dict[str, tuple[Slot, datetime]] = {}
        for slot in slots:
            if not slot.enabled:
                continue
            run = slot.occurrence(now)
            if run is not None and (slot.room_id not in want or run < want[slot.room_id][1]):
                want[slot.room_id] = (slot, run)
        started: list[str] = []
        stopped: list[str] = []
        live = self.engine.configs()
        for room_id, key in list(self._ours.items()):
            wanted = want.get(room_id)
            wanted_key = (wanted[0].id, wanted[1].isoformat()) if wanted else None
            if room_id not in live:  # stopped by hand during its run: not again this run
                if wanted_key == key:
                    await self.store.schedule.skip_run(*key)  # first: a failed pass retries
                    self._skipped.add(key)
                del self._ours[room_id]
                continue
            if wanted_key is not None and wanted_key[0] == key[0]:  # a whole-day slot's
                self._ours[room_id] = wanted_key  # next run: the room just keeps going
                continue
            if wanted_key != key:
                try:
                    await self.engine.stop_room(room_id)
                except RoomNotFound:
                    pass
                except Exception as exc:  # tried again on the next pass
                    log.warning("schedule: room %s did not stop: %r", room_id, exc)
                    continue
                del self._ours[room_id]
                stopped.append(room_id)
                log.info("schedule: room %s stopped (slot #%s ended)", room_id, key[0])
        live = self.engine.configs()
        active_keys = set()
        for room_id, (slot, run) in want.items():
            key = (slot.id, run.isoformat())
            active_keys.add(key)
            if key in self._skipped:
                self._set(slot.id, "skipped")
            elif self._ours.get(room_id) == key:
                self._set(slot.id, "live", keep_detail=True)
            elif room_id in live:
                self._set(slot.id, "busy")
            elif await self._start(slot, key):
                started.append(room_id)
        stale = self._skipped - active_keys
        if stale:
            await self.store.schedule.forget_runs(stale)
            self._skipped -= stale
        for slot in slots:
            if slot.room_id in want and want[slot.room_id][0].id == slot.id:
                continue
            self._set(slot.id, "waiting" if slot.enabled else "off")
        known = {s.id for s in slots}
        for sid in list(self._state):
            if sid not in known:
                del self._state[sid]
        return {"started": started, "stopped": stopped}

    async def _start(self, slot: Slot, key: tuple[int, str]) -> bool:
        width, height = frame_size(slot.resolution or "720p", portrait=False)
        config = RoomConfig(
            room_id=slot.room_id,
            persona=slot.persona,
            title=slot.title,
            lineup=list(slot.lineup) or None,
            shop_id=slot.shop_id,
            douyin_room_id=self.douyin_rooms.get(slot.room_id, ""),
            width=width,
            height=height,
        )
        try:
            owner = await self.store.rooms.claim(
                slot.room_id, slot.shop_id, by="schedule", title=slot.title, live=False
            )
            if owner != slot.shop_id:
                self._set(slot.id, "error", "直播间属于其他店铺")
                return False
            self._set(slot.id, "starting")
            info = await self.engine.start_room(config)
        except Exception as exc:  # the other rooms of this pass go on regardless
            detail = (
                str(exc) if isinstance(exc, EngineError) else f"内部错误（{type(exc).__name__}）"
            )
            if self._errors.get(slot.id) != detail:  # said once, not on every retry
                self._errors[slot.id] = detail
                log.warning(
                    "schedule: room %s (slot #%s) did not start: %r",
                    slot.room_id,
                    slot.id,
                    exc,
                    exc_info=not isinstance(exc, EngineError),
                )
            self._set(slot.id, "error", detail)
            return False
        self._ours[slot.room_id] = key
        self._errors.pop(slot.id, None)
        problems = []
        for out in slot.outputs:
            try:
                self.engine.add_output(
                    slot.room_id, out["url"], self.store.schedule.stream_key(out), out["name"]
                )
            except (OutputError, EngineError) as exc:
                problems.append(f"推流 {out['name'] or out['url']} 未启动：{exc}")
            except Exception:  # a key sealed under another secret
                problems.append(
                    f"推流 {out['name'] or out['url']} 未启动：推流密钥无法解密，请重新填写"
                )
        if self.on_started is not None:
            try:
                self.on_started(slot.room_id)
            except Exception:
                log.exception("schedule: room %s: after-start hook failed", slot.room_id)
        with contextlib.suppress(Exception):
            await self.store.rooms.claim(
                slot.room_id, slot.shop_id, by="schedule", title=info.get("title", slot.title)
            )
        self._set(slot.id, "live", "；".join(problems))
        log.info("schedule: room %s started for slot #%s (%s)", slot.room_id, slot.id, key[1])
        return True

    def _set(self, slot_id: int, state: str, detail: str = "", keep_detail: bool = False) -> None:
        old = self._state.get(slot_id)
        if old is not None and old["state"] == state:
            if not keep_detail:
                old["detail"] = detail
            return
        self._state[slot_id] = {
            "state": state,
            "detail": detail,
            "since": self.local_now().isoformat(timespec="seconds"),
        }

    # -- what the page shows -------------------------------------------------------------------
    def describe(self, slot: Slot) -> dict:
        """A slot's state now, with its label and the next start (local time)."""
        now = self.local_now()
        st = self._state.get(slot.id) or {
            "state": "waiting" if slot.enabled else "off",
            "detail": "",
            "since": "",
        }
        run = slot.occurrence(now)
        return {
            **st,
            "label": STATE_ZH[st["state"]],
            "next_start": slot.next_start(now).isoformat(timespec="minutes"),
            "ends_at": slot.end_of(run).isoformat(timespec="minutes") if run else None,
        }

    # -- the loop ------------------------------------------------------------------------------
    def wake(self) -> None:
        """Run a pass now (the schedule changed)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
                slots = await self.store.schedule.list()
                until = next_boundary([s for s in slots if s.enabled], self.local_now())
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next pass tries again
                log.exception("schedule: pass failed")
                until = None
            wait = self.every if until is None else min(self.every, until + 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, wait))

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
