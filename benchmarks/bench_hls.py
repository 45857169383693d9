"""HLS for large audiences, in real time: one live 720p room pushes to a local nginx-rtmp
(deploy/nginx-rtmp.conf, 2 workers, 2 s fragments) and N players of the lean load client
(benchmarks/hls_client.py: uvloop, raw keep-alive connections, one scratch buffer, several
processes) follow its live playlist at playback rate for a while.

Reported for each N: segment fetch p50/p95, errors, Gb/s served, nginx's CPU, the clients'
own CPU, how far behind the live edge the players were (p50/p95, first and last third of the
run) and whether they kept up, and the room's process CPU (with its push's connection
process) with no players and under the load: the room's added CPU.

Usage: python -m benchmarks.run hls
  YUNLIAN_BENCH_HLS_CLIENTS=1000,5000   players per run (default 5000)
  YUNLIAN_BENCH_HLS_SECONDS=60          seconds per run (default 60)
  YUNLIAN_BENCH_HLS_PROCS=2             load processes (default: one per core)
  YUNLIAN_BENCH_HLS_RAMP=2              seconds over which the players arrive (default 2: a
                                        flash crowd, each fetching 2 segments as it joins)
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.hls_client import run_load
from commerce.demo import DEMO_PRODUCTS
from streamer.engine import Engine
from streamer.room import RoomConfig
from testkit.nginx_rtmp import NginxRtmp

BASELINE = 10.0  # seconds of the room with no players, before each run


async def _catalog(room_id=None):
    return list(DEMO_PRODUCTS)


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _room_procs(engine: Engine, room_id: str) -> list[psutil.Process]:
    pushes = engine.rooms[room_id].outputs._pushes.values()
    return [psutil.Process(), *(psutil.Process(p._child.pid) for p, _ in pushes if p._child)]


async def _one(tmp: Path, clients: int, seconds: float, procs: int | None, ramp: float) -> dict:
    nginx = NginxRtmp(tmp / f"hls{clients}", workers=2).start()
    engine = Engine(_catalog)
    try:
        await engine.start_room(RoomConfig(room_id="hls"))
        engine.add_output("hls", nginx.rtmp_url, "hls")
        await asyncio.sleep(8)  # a playlist with fragments
        ng = psutil.Process(nginx.pid())
        ng_procs = [ng, *ng.children()]
        room = _room_procs(engine, "hls")
        r0, w0 = _cpu(room), time.monotonic()
        await asyncio.sleep(BASELINE)
        idle = (_cpu(room) - r0) / (time.monotonic() - w0)
        room = _room_procs(engine, "hls")  # the push may have reconnected
        n0, r0, w0 = _cpu(ng_procs), _cpu(room), time.monotonic()
        url = nginx.hls_url("hls")
        out = await asyncio.to_thread(run_load, url, clients, seconds, procs, ramp)
        wall = time.monotonic() - w0
        loaded = (_cpu(room) - r0) / wall
        out |= {
            "nginx_cores": round((_cpu(ng_procs) - n0) / wall, 3),
            "room_cores_idle": round(idle, 3),
            "room_cores_under_load": round(loaded, 3),
            "room_added_cores": round(loaded - idle, 3),
            "room_fps": engine.rooms["hls"].stats()["fps"],
            "room_push_state": engine.list_outputs("hls")[0]["state"],
        }
        return out
    finally:
        await engine.close()
        nginx.stop()
        nginx.cleanup()


async def _run() -> dict:
    counts = [int(n) for n in os.environ.get("YUNLIAN_BENCH_HLS_CLIENTS", "5000").split(",")]
    seconds = float(os.environ.get("YUNLIAN_BENCH_HLS_SECONDS", "60"))
    procs = (
        int(os.environ["YUNLIAN_BENCH_HLS_PROCS"])
        if "YUNLIAN_BENCH_HLS_PROCS" in os.environ
        else None
    )
    ramp = float(os.environ.get("YUNLIAN_BENCH_HLS_RAMP", "2"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-hls-"))
    out: dict = {}
    load0 = os.getloadavg()[0]
    for n in counts:
        out[f"hls_{n}"] = await _one(tmp, n, seconds, procs, ramp)
    out["machine"] = {
        "cpus": os.cpu_count(),
        "load_avg_1m_before": round(load0, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }
    return out


def run() -> dict:
    return asyncio.run(_run())
