"""The ops desk's own cost and how fast it pages someone.

1. Update cost: 10 live 720p rooms in one process (more than 2 cores can draw on time: the
   desk must cost little on a loaded server too) and 5 consoles on the desk's WebSocket, one
   update a second. The desk's CPU is its sampler's and its sends'
   thread CPU, measured in place, as a share of one core (target ≤ 2 %). The whole
   process's CPU with the desk on and then off is reported beside it (a noisier check).
2. Stall → webhook, with one room left live: its media thread stops (an injected sleep);
   seconds until a robot webhook on loopback receives the alert (target ≤ 15 s). Also a starved room (frames late,
   fps falling under 22) until its fps alert arrives.

Usage: python -m benchmarks.run ops
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil
import websockets

from streamer.room import RoomConfig
from testkit.server import AppServer
from testkit.webhook import RobotReceiver

ROOMS = 10
CONSOLES = 5
PHASE_S = 15.0
STALL_TRIALS = 3


class Consoles:
    """CONSOLES ops consoles on the desk's socket, in their own thread and loop."""

    def __init__(self, url: str, headers: dict) -> None:
        self.url, self.headers = url, headers
        self.received = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _one(self) -> None:
        async with websockets.connect(self.url, additional_headers=self.headers) as ws:
            while not self._stop.is_set():
                try:
                    msg = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                self.received += 1
                self.bytes = len(msg)

    async def _main(self) -> None:
        await asyncio.gather(*(self._one() for _ in range(CONSOLES)))

    def __enter__(self) -> Consoles:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def _cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def _wait_for(robot: RobotReceiver, needle: str, since: int, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for t, text in zip(
            [t for t, _ in robot.messages][since:], robot.texts()[since:], strict=True
        ):
            if all(n in (text or "") for n in needle.split("&")):
                return t
        time.sleep(0.02)
    return None


def run() -> dict:
    out: dict = {"rooms": ROOMS, "consoles": CONSOLES}
    with tempfile.TemporaryDirectory() as tmp, RobotReceiver() as robot:
        with AppServer(Path(tmp) / "ops.db", max_rooms=ROOMS + 2, alert_webhook=robot.url) as srv:
            engine, watch = srv.app.state.engine, srv.app.state.ops_watch
            for i in range(ROOMS):
                cfg = RoomConfig(room_id=f"b{i}", title=f"基准直播间{i}")
                srv.call(engine.start_room(cfg))
            time.sleep(10)  # every room's last-10-s figures are real ones
            ws_url = srv.url.replace("http://", "ws://") + "/api/ops/live"

            with Consoles(ws_url, srv.headers()) as consoles:
                time.sleep(3)
                s0, w0, c0, n0, r0 = (
                    watch.sample_cpu_s + watch.send_cpu_s,
                    time.monotonic(),
                    _cpu(),
                    watch.samples,
                    consoles.received,
                )
                time.sleep(PHASE_S)
                wall = time.monotonic() - w0
                desk = watch.sample_cpu_s + watch.send_cpu_s - s0
                on_cores = (_cpu() - c0) / wall
                samples = watch.samples - n0
                received = consoles.received - r0
                update_bytes = consoles.bytes
            srv.call(watch.close())  # the desk off: the same rooms, no sampler, no consoles
            c0, w0 = _cpu(), time.monotonic()
            time.sleep(PHASE_S)
            off_cores = (_cpu() - c0) / (time.monotonic() - w0)
            srv.app.state.loop.call_soon_threadsafe(watch.start)
            out["update_cost"] = {
                "desk_share_of_one_core": round(desk / wall, 5),
                "target_share": 0.02,
                "updates_per_s": round(samples / wall, 2),
                "sample_ms": round(watch.sample_cpu_s / max(watch.samples, 1) * 1000, 3),
                "send_ms_per_update_per_console": round(
                    watch.send_cpu_s / max(received, 1) * 1000, 3
                ),
                "updates_received_by_consoles": received,
                "update_bytes": update_bytes,
                "process_cores_desk_on": round(on_cores, 3),
                "process_cores_desk_off": round(off_cores, 3),
                "process_difference_cores": round(on_cores - off_cores, 3),
                "phase_s": round(wall, 1),
                "fps_of_rooms": sorted(round(r.stats()["fps"], 1) for r in engine.rooms.values()),
            }

            for i in range(1, ROOMS):  # one room left: a server that is not overloaded
                srv.call(engine.stop_room(f"b{i}"))
            time.sleep(6)
            room = engine.rooms["b0"]
            stalls = []
            for _ in range(STALL_TRIALS):
                seen = len(robot.messages)
                t0 = time.monotonic()
                room.tick_delay = 5.0  # the media thread stops drawing
                got = _wait_for(robot, "【告警】直播间画面停滞&直播间 b0", seen, 30)
                stalls.append(round(got - t0, 2) if got else None)
                room.tick_delay = 0.0
                if _wait_for(robot, "【已恢复】直播间画面停滞&直播间 b0", seen, 30) is None:
                    break
            alerts = srv.app.state.alerts
            deadline = time.monotonic() + 60  # the stalls' own fps alert resolved first
            while any(k == ("fps_low", "直播间 b0") for k in list(alerts.active)):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            seen = len(robot.messages)
            t0 = time.monotonic()
            room.tick_delay = 0.09  # starved: frames late and skipped, fps falls under 22
            got = _wait_for(robot, "【告警】直播间帧率过低&直播间 b0", seen, 60)
            room.tick_delay = 0.0
            fps_alert = round(got - t0, 2) if got else None
            done = [s for s in stalls if s is not None]
            out["stall_to_webhook_s"] = {
                "trials": stalls,
                "median": statistics.median(done) if done else None,
                "max": max(done) if done else None,
                "target": 15.0,
                "rule": "no frame for 3 s (room_stalled), sampled every 1 s",
            }
            out["starved_to_fps_webhook_s"] = {
                "seconds": fps_alert,
                "rule": "under 22 fps (last 10 s) held 10 s",
            }
            out["webhook_messages"] = len(robot.messages)
            for r in list(engine.rooms):
                srv.call(engine.stop_room(r))
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
