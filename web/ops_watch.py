"""The ops desk's eyes: one sampler per server, whatever the number of consoles open.

Every `interval` seconds it reads the engine's metrics (rooms in this process or in worker
processes), the machine and each worker process (psutil) and, less often, the shop's session
sales; derives the last-10-s figures from counters; asks the alert rules (web/alerts.py)
what fires; and publishes ONE JSON text to every console's queue. Sparklines keep one point
every `SPARK_EVERY` seconds for the last hour, in bounded deques. No buyer data is read:
sales are totals per room."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

import psutil

from commerce.ops_figures import payments_waiting, session_gmv

log = logging.getLogger(__name__)

WINDOW = 10.0  # seconds the per-room rates cover
SPARK_EVERY = 10.0  # seconds between sparkline points
SPARK_POINTS = 360  # one hour at SPARK_EVERY
SHOP_EVERY = 5.0  # seconds between reads of the shop's figures
QUEUE = 4  # updates a slow console may fall behind before its oldest is dropped
ROOM_SPARKS = ("fps", "viewers", "kbps")
MACHINE_SPARKS = ("cpu", "mem", "loop_lag_ms")


def _num(x, default: float = 0.0) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


class Deltas:
    """Cumulative counters sampled over time: how much each grew over the last WINDOW s."""

    def __init__(self) -> None:
        self._seen: deque[tuple[float, dict[str, float]]] = deque(maxlen=64)

    def add(self, now: float, counters: dict[str, float]) -> dict[str, float]:
        self._seen.append((now, counters))
        base = self._seen[0]
        for t, c in self._seen:  # the newest sample at least WINDOW s old, else the oldest
            if now - t >= WINDOW:
                base = (t, c)
        return {k: max(0.0, v - base[1].get(k, v)) for k, v in counters.items()}


class OpsWatch:
    def __init__(
        self,
        engine,
        store=None,
        alerts=None,
        interval: float = 1.0,
        data_dir: str | Path = ".",
        shop_every: float = SHOP_EVERY,
        http_counts=None,  # () -> (requests, 5xx answers) since start
    ) -> None:
        self.http_counts = http_counts
        self.engine = engine
        self.store = store
        self.alerts = alerts  # web.alerts.AlertDesk or None
        self.interval = interval
        self.data_dir = str(data_dir)
        self.shop_every = shop_every
        self.consoles: set[asyncio.Queue] = set()
        self.last: dict | None = None
        self.last_text = ""
        self.samples = 0
        self.sample_cpu_s = 0.0  # thread CPU spent sampling (the desk's own cost)
        self.send_cpu_s = 0.0  # thread CPU spent sending updates to consoles
        self.loop_lag_ms = 0.0
        self._task: asyncio.Task | None = None
        self._deltas: dict[str, Deltas] = {}
        self._room_sessions: dict[str, datetime] = {}
        self._gmv: dict[str, int] = {}
        self._payments: tuple[int, datetime | None] = (0, None)
        self._shop_at = 0.0
        self._shop_task: asyncio.Task | None = None
        self._net: tuple[float, int, int] | None = None
        self._procs: dict[int, psutil.Process] = {}
        self._spark_at = 0.0
        self.spark_rooms: dict[str, dict[str, deque]] = {}
        self.spark_machine = {k: deque(maxlen=SPARK_POINTS) for k in MACHINE_SPARKS}
        self.spark_times: deque[float] = deque(maxlen=SPARK_POINTS)
        self._me = psutil.Process(os.getpid())
        psutil.cpu_percent(None)  # the first call only starts the measurement
        self._me.cpu_percent(None)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ops-watch")

    async def close(self) -> None:
        for task in (self._task, self._shop_task):
            if task is not None:
                task.cancel()
                try:
                    await asyncio.wait_for(task, 5)
                except (asyncio.CancelledError, TimeoutError, Exception):
                    pass
        self._task = self._shop_task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += self.interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            lag = max(0.0, loop.time() - due)  # how late the loop woke us: its lag
            self.loop_lag_ms = round(lag * 1000, 1)
            if lag > 5 * self.interval:  # suspended: start afresh, no burst of catch-up ticks
                due = loop.time()
            try:
                self.tick()
            except Exception:  # the desk must never die of one bad sample
                log.exception("ops desk: sample failed")

    # --- consoles ---------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=QUEUE)
        self.consoles.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.consoles.discard(q)

    def history(self) -> dict:
        """The sparklines so far (sent once when a console connects)."""
        return {
            "every_s": SPARK_EVERY,
            "times": list(self.spark_times),
            "machine": {k: list(v) for k, v in self.spark_machine.items()},
            "rooms": {
                rid: {k: list(v) for k, v in series.items()}
                for rid, series in self.spark_rooms.items()
            },
        }

    def _publish(self, text: str) -> None:
        for q in list(self.consoles):
            if q.full():
                try:
                    q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            q.put_nowait(text)

    # --- sampling ---------------------------------------------------------------------------
    def tick(self) -> dict:
        c0 = time.thread_time()
        now = time.monotonic()
        m = self.engine.metrics()
        worker_of = {}
        for w in m.get("workers") or []:
            for rid in w.get("rooms", []):
                worker_of[rid] = str(w["index"])
        rooms = [
            self._room(rid, s, worker_of.get(rid, "main"), now) for rid, s in m["rooms"].items()
        ]
        for gone in set(self._deltas) - set(m["rooms"]):
            self._deltas.pop(gone, None)
            self._room_sessions.pop(gone, None)
        machine = self._machine(now)
        workers = self._workers(m)
        self._maybe_read_shop(now)
        snap = {
            "type": "update",
            "t": round(time.time(), 3),
            "rooms": rooms,
            "machine": machine,
            "workers": workers,
            "worker_restarts": m.get("worker_restarts", 0),
            "viewers": m.get("viewers", 0),
            "payments": {
                "waiting": self._payments[0],
                "last_webhook": self._payments[1].isoformat() if self._payments[1] else None,
            },
        }
        if self.http_counts is not None:
            requests, errors = self.http_counts()
            snap["http"] = {"requests": requests, "errors": errors}
        if self.alerts is not None:
            self.alerts.evaluate(snap)
            snap["alerts"] = self.alerts.active_view()
        spark = now - self._spark_at >= SPARK_EVERY
        if spark:
            self._spark_at = now
            self._add_spark(snap)
        snap["spark"] = spark  # the console appends the current values to its sparklines
        self.last = snap
        self.last_text = json.dumps(snap, ensure_ascii=False, separators=(",", ":"))
        self._publish(self.last_text)
        self.samples += 1
        self.sample_cpu_s += time.thread_time() - c0
        return snap

    def _room(self, rid: str, s: dict, worker: str, now: float) -> dict:
        answers = s.get("answers") or {}
        danmaku = s.get("danmaku") or {}
        voice = s.get("voice") or {}
        counters = {
            "tts_fallbacks": _num(voice.get("fallbacks")),
            # answers the template desk gave (timeouts included) + script lines the model
            # backend failed to write
            "llm_fallbacks": _num(answers.get("writer_fallbacks"))
            + _num((s.get("writer") or {}).get("fallbacks")),
            "danmaku": _num(danmaku.get("messages")),
            "blocked": sum(_num(v) for v in (danmaku.get("blocked") or {}).values()),
            "tts_failures": sum(_num(v) for v in (voice.get("failures") or {}).values()),
        }
        deltas = self._deltas.get(rid)
        if deltas is None:
            deltas = self._deltas[rid] = Deltas()
            age = time.time() - _num(s.get("started_at"))
            if 0 <= age < WINDOW:  # a room seen in its first seconds: its own counters began
                # at 0 when it started (the voice chain's are the process's, so not those)
                own = ("llm_fallbacks", "danmaku", "blocked")
                deltas.add(now - age, {k: 0.0 for k in own})
        d = deltas.add(now, counters)
        if rid not in self._room_sessions:
            started = s.get("started_at")
            self._room_sessions[rid] = (
                datetime.fromtimestamp(started, UTC).replace(tzinfo=None)
                if started
                else datetime.now(UTC).replace(tzinfo=None)
            )
        cpu = s.get("cpu") or {}
        outputs = [
            {
                "id": "webrtc",
                "kind": "webrtc",
                "name": "WebRTC",
                "state": "live",
                "viewers": s.get("viewers", 0),
                "kbps": s.get("video_kbps", 0),
            }
        ]
        for o in s.get("outputs") or []:
            outputs.append(
                {
                    "id": str(o.get("id", "")),
                    "kind": "rtmp",
                    "name": str(o.get("name") or o.get("id") or "")[:40],
                    "state": o.get("state"),
                    "viewers": None,  # a platform counts its own viewers
                    "kbps": o.get("kbps", 0),
                }
            )
        mood = s.get("mood") or {}
        onset = (answers.get("onset") or {}).get("recent_s")
        return {
            "room_id": rid,
            "title": s.get("title", rid),
            "worker": worker,
            "live": bool(s.get("live", True)),
            "fps": s.get("fps", 0),
            "fps_target": s.get("fps_target", 25),
            "late_frames": s.get("skipped_frames", 0),
            "tick_age_s": s.get("tick_age_s"),
            "render_ms": (cpu.get("render_ms") or {}).get("mean", s.get("render_ms")),
            "encode_ms": (cpu.get("encode_ms") or {}).get("mean", s.get("encode_ms")),
            "kbps": s.get("video_kbps", 0),
            "viewers": s.get("viewers", 0),
            "outputs": outputs,
            "onset_s": onset,
            "tts_fallbacks": int(d["tts_fallbacks"]),
            "tts_failures": int(d["tts_failures"]),
            "llm_fallbacks": int(d["llm_fallbacks"]),
            "danmaku_per_min": round(d["danmaku"] * 60 / WINDOW, 1),
            "blocked": int(d["blocked"]),
            "mood": {"label": mood.get("label"), "score": mood.get("score")},
            "gmv_fen": self._gmv.get(rid, 0),
        }

    def _machine(self, now: float) -> dict:
        net = psutil.net_io_counters()
        rx = tx = 0.0
        if self._net is not None:
            dt = max(now - self._net[0], 1e-3)
            rx = (net.bytes_recv - self._net[1]) * 8 / 1000 / dt
            tx = (net.bytes_sent - self._net[2]) * 8 / 1000 / dt
        self._net = (now, net.bytes_recv, net.bytes_sent)
        try:
            disk = psutil.disk_usage(self.data_dir)
            disk_free = round(100.0 * disk.free / disk.total, 1)
        except OSError:
            disk_free = None
        vm = psutil.virtual_memory()
        return {
            "cpu": psutil.cpu_percent(None),
            "cores": psutil.cpu_count() or 1,
            "mem": vm.percent,
            "net_rx_kbps": round(rx, 1),
            "net_tx_kbps": round(tx, 1),
            "disk_free_pct": disk_free,
            "loop_lag_ms": self.loop_lag_ms,
        }

    def _proc(self, pid: int) -> psutil.Process | None:
        p = self._procs.get(pid)
        if p is None:
            try:
                p = self._procs[pid] = psutil.Process(pid)
                p.cpu_percent(None)
            except psutil.Error:
                return None
        return p

    def _workers(self, m: dict) -> list[dict]:
        out = [self._proc_view("main", self._me, True, self.loop_lag_ms)]
        live = {self._me.pid}
        for w in m.get("workers") or []:
            pid = w.get("pid")
            p = self._proc(pid) if pid else None
            if pid:
                live.add(pid)
            lag = w.get("loop_lag_ms")
            out.append(self._proc_view(str(w["index"]), p, bool(w.get("ready")), lag, w))
        for pid in set(self._procs) - live:
            self._procs.pop(pid, None)
        return out

    @staticmethod
    def _proc_view(name, p, up: bool, lag, w: dict | None = None) -> dict:
        view = {"id": name, "pid": None, "up": up, "cpu": None, "rss_mb": None}
        view["loop_lag_ms"] = lag
        view["rooms"] = len((w or {}).get("rooms", [])) if w else None
        if p is not None:
            try:
                with p.oneshot():
                    view.update(
                        pid=p.pid,
                        cpu=round(p.cpu_percent(None), 1),
                        rss_mb=round(p.memory_info().rss / 2**20, 1),
                    )
            except psutil.Error:
                view["up"] = False
        return view

    def _maybe_read_shop(self, now: float) -> None:
        if self.store is None or now - self._shop_at < self.shop_every:
            return
        if self._shop_task is not None and not self._shop_task.done():
            return  # the last read is still running: never pile them up
        self._shop_at = now
        self._shop_task = asyncio.get_running_loop().create_task(self._read_shop())

    async def _read_shop(self) -> None:
        try:
            async with asyncio.timeout(5):
                self._gmv = await session_gmv(self.store.db, dict(self._room_sessions))
                wait = self.alerts.rules.payments_silent_s if self.alerts else 600
                older = datetime.fromtimestamp(time.time() - wait, UTC).replace(tzinfo=None)
                self._payments = await payments_waiting(self.store.db, older)
        except Exception as exc:  # the database may be gone: /readyz and alerts say so
            log.warning("ops desk: shop figures unavailable: %s", type(exc).__name__)

    def _add_spark(self, snap: dict) -> None:
        self.spark_times.append(snap["t"])
        for k in MACHINE_SPARKS:
            self.spark_machine[k].append(snap["machine"].get(k))
        seen = set()
        for r in snap["rooms"]:
            rid = r["room_id"]
            seen.add(rid)
            series = self.spark_rooms.get(rid)
            if series is None:
                series = self.spark_rooms[rid] = {
                    k: deque([None] * (len(self.spark_times) - 1), maxlen=SPARK_POINTS)
                    for k in ROOM_SPARKS
                }
            for k in ROOM_SPARKS:
                series[k].append(r.get(k))
        for rid in list(self.spark_rooms):
            if rid not in seen:  # a stopped room's history goes with it
                del self.spark_rooms[rid]
