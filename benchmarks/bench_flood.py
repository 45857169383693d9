"""A room under a chat flood, with and without the viewer budget, in the same run.

One live server (demo room, real uvicorn) per mode: `viewer_limits=False` restores the old
behaviour (no socket caps or pacing, no HTTP chat budget, 16 MB WebSocket frames,
compressed frames), `True` is the server as shipped. Each mode: 10 s quiet, then 50 flood
clients (25 HTTP, 25 WebSocket, `benchmarks.flood_client`, their own process) for 30 s,
while an ordinary viewer on another address chats every 2 s. Figures come from the room's
own counters: frames drawn a second and frames skipped during the flood, the lowest
10-second fps, and how many of the ordinary viewer's lines were refused.

The room's figures are read over HTTP (`GET /api/rooms/demo`, from another address than
the flood's), so the same round measures a room in a worker process: `measure(True,
workers=2)` (used by `benchmarks.bench_workers`).

`python -m benchmarks.run flood` (or `python -m benchmarks.bench_flood`).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

FLOOD_SECONDS = 30
QUIET_SECONDS = 10
VIEWER_ADDRESS = "127.0.0.2"
STATS_ADDRESS = "127.0.0.3"  # the benchmark's own reads: neither the flood's nor the viewer's


async def _flood_round(srv, flood_seconds: float = FLOOD_SECONDS) -> dict:
    stats_client = httpx.AsyncClient(
        base_url=srv.url,
        timeout=30,
        headers=srv.headers("admin"),
        transport=httpx.AsyncHTTPTransport(local_address=STATS_ADDRESS),
    )
    async with stats_client:
        return await _flood_round_with(srv, stats_client, flood_seconds)


async def _flood_round_with(srv, stats_client: httpx.AsyncClient, flood_seconds: float) -> dict:
    async def stats() -> dict:
        res = await stats_client.get("/api/rooms/demo")
        res.raise_for_status()
        return res.json()

    deadline = time.monotonic() + 120
    while True:  # the 10 s window is full
        st = (await stats_client.get("/api/rooms/demo")).json()
        if "started_at" in st and time.time() - st["started_at"] >= 11:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo room never ran 11 s: {st}")
        await asyncio.sleep(0.5)
    st = await stats()
    f0, t0, c0 = st["frames"], time.monotonic(), _cpu()
    await asyncio.sleep(QUIET_SECONDS)
    quiet_fps = ((await stats())["frames"] - f0) / (time.monotonic() - t0)
    quiet_cores = _cores(c0, _cpu(), time.monotonic() - t0)
    transport = httpx.AsyncHTTPTransport(local_address=VIEWER_ADDRESS)
    async with httpx.AsyncClient(base_url=srv.url, timeout=10, transport=transport) as viewer:
        await viewer.get("/rooms/demo")
        flood = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.flood_client",
            srv.url,
            "--seconds",
            str(flood_seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        st = await stats()
        f0, s0, t0 = st["frames"], st["skipped_frames_total"], time.monotonic()
        c0 = _cpu(exclude=flood.pid)
        heard0 = st.get("danmaku", {}).get("messages", 0)
        fps, refused, sent = [], 0, 0
        try:
            while time.monotonic() - t0 < flood_seconds:
                await asyncio.sleep(2.0)
                fps.append((await stats())["fps"])
                sent += 1
                try:
                    res = await viewer.post(
                        "/api/rooms/demo/danmaku",
                        json={"user_id": "me", "text": f"老顾客第{sent}次来买枣"},
                    )
                    refused += res.status_code != 202 or res.json().get("reason") != "ok"
                except httpx.HTTPError:
                    refused += 1
            st = await stats()
            elapsed = time.monotonic() - t0
            flood_cores = _cores(c0, _cpu(exclude=flood.pid), elapsed)
            frames, skipped = st["frames"] - f0, st["skipped_frames_total"] - s0
            out, _ = await asyncio.wait_for(flood.communicate(), 60)
        finally:
            if flood.returncode is None:
                flood.kill()
                await asyncio.wait_for(flood.wait(), 10)
    counts = json.loads(out or b"{}")
    return {
        "quiet_fps": round(quiet_fps, 2),
        "flood_fps": round(frames / elapsed, 2),
        "flood_min_fps_10s": min(fps),
        "flood_skipped_frames": skipped,
        "viewer_lines_refused": refused,
        "viewer_lines_sent": sent,
        "flood_http_requests": sum(v for k, v in counts.items() if k.startswith("http_")),
        "flood_ws_messages_sent": counts.get("ws_sent", 0),
        # this process (web server + the benchmark's own loop) and its room workers, in cores
        "cores_quiet": quiet_cores,
        "cores_flood": flood_cores,
        "messages_heard_by_room": st.get("danmaku", {}).get("messages", 0) - heard0,
    }


def _cpu(exclude: int | None = None) -> dict[str, float]:
    """CPU seconds of this process ("web") and of its children (room workers), by role."""
    me = psutil.Process()
    out = {"web": sum(me.cpu_times()[:2]), "workers": 0.0}
    for child in me.children(recursive=True):
        if child.pid == exclude:
            continue
        try:
            out["workers"] += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return out


def _cores(a: dict[str, float], b: dict[str, float], wall: float) -> dict[str, float]:
    return {k: round(max(0.0, b[k] - a[k]) / wall, 3) for k in a}


def measure(viewer_limits: bool, workers: int = 0, flood_seconds: float = FLOOD_SECONDS) -> dict:
    """One flood round on a fresh server; `workers`: its room worker processes (0: the demo
    room runs in the web process)."""
    from testkit.livesrv import LiveServer

    with tempfile.TemporaryDirectory() as d:
        with LiveServer(
            Path(d) / "yunlian.db", stamp=False, viewer_limits=viewer_limits, workers=workers
        ) as srv:
            return asyncio.run(_flood_round(srv, flood_seconds))


def run() -> dict:
    before = measure(viewer_limits=False)
    after = measure(viewer_limits=True)
    return {
        "flood_seconds": FLOOD_SECONDS,
        "clients": 50,
        "old_limits": before,
        "fixed": after,
        "flood_fps_ratio": round(after["flood_fps"] / max(before["flood_fps"], 0.01), 3),
        "skipped_frames_ratio": round(
            after["flood_skipped_frames"] / max(before["flood_skipped_frames"], 1), 3
        ),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
