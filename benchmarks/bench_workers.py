"""Rooms in one server process against rooms in 2 worker processes, in the same run.

For each layout, the same curve as `roomcost` (720p25 rooms, no viewers, personas in turn):
cores used by the whole process tree from /proc, the worst room's fps and late (skipped)
frames over 10 s, measured from the rooms' own stats. The floor of x264 + cv2 conversion
is measured before and after, so a busy machine shows as a moved floor. Then failover:
`kill -9` of the worker holding a room, 5 trials each with 2 workers and with 1 (each
with its started spare, which is ready again before the next kill).

Usage: python -m benchmarks.run workers
"""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np

from benchmarks.bench_roomcost import Server, curve, floor

POINTS = (2, 4, 6, 8, 10)
LAYOUTS = {"one_process": 0, "two_workers": 2}
FAILOVER_TRIALS = 5
FAILOVER_LIMIT = 30.0  # seconds a trial may take before it counts as a failure


def layout(workers: int, floor_cores: float) -> dict:
    server = Server(workers)
    try:
        out = curve(server, floor_cores, POINTS)
        out["workers"] = server.metrics().get("workers")  # placement after the curve
        return out
    finally:
        server.close()


def _holder(server: Server, room: str) -> int | None:
    return next((w["pid"] for w in server.metrics()["workers"] if room in w["rooms"]), None)


def _all_ready(metrics: dict) -> bool:
    spare = metrics.get("spare") or {"ready": True}
    return spare["ready"] and all(w["ready"] for w in metrics["workers"])


def failover(workers: int, trials: int = FAILOVER_TRIALS) -> dict:
    """kill -9 the worker holding a 720p room; seconds until the room ticks again on a
    live worker (its own frame count, read over HTTP every 50 ms)."""
    server = Server(workers)
    times, failed = [], 0
    try:
        server.start("failover", "xiaowang")
        for _ in range(trials):
            deadline = time.monotonic() + FAILOVER_LIMIT  # every worker and the spare ready
            while not _all_ready(server.metrics()):
                if time.monotonic() > deadline:
                    raise RuntimeError("a replacement worker never became ready")
                time.sleep(0.2)
            time.sleep(3)  # a settled room
            victim = _holder(server, "failover")
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            while time.monotonic() - killed < FAILOVER_LIMIT:
                res = server.http.get("/api/rooms/failover")
                if res.status_code == 200 and res.json()["frames"] >= 1:
                    if _holder(server, "failover") not in (None, victim):
                        times.append(time.monotonic() - killed)
                        break
                time.sleep(0.05)
            else:
                failed += 1
        restored = server.metrics()["rooms_restored"]
    finally:
        server.close()
    return {
        "trials": trials,
        "failed": failed,
        "seconds_to_ticking": [round(t, 2) for t in times],
        "p50_s": round(float(np.median(times)), 2) if times else None,
        "max_s": round(max(times), 2) if times else None,
        "server_restore_seconds": [r["seconds"] for r in restored],
    }


def run() -> dict:
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()},
        "resolution": "1280x720, 25 fps",
    }
    fl = floor()
    results["floor"] = fl
    for name, workers in LAYOUTS.items():
        results[name] = layout(workers, fl["cores"])
    results["floor_after"] = floor()
    results["failover"] = {
        "two_workers_and_a_spare": failover(2),
        "one_worker_and_a_spare": failover(1),
    }
    results["load_at_end"] = os.getloadavg()
    results["summary"] = {
        name: {
            n: {k: results[name]["rooms"][n][k] for k in ("server_cores", "late_pct")}
            for n in results[name]["rooms"]
        }
        for name in LAYOUTS
    }
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
