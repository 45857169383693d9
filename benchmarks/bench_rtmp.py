"""RTMP push and HLS, against a real nginx-rtmp (deploy/nginx-rtmp.conf) on this machine.

- cost: one live room in this process, alternating phases with no output and with one or two
  pushes to nginx (same run, same room): the process's added CPU per output, the push
  threads' own CPU (FLV muxing and sending, their /proc thread times) and the hub thread's
  (the one AAC encode all of a room's pushes share);
- recovery: nginx killed and started again at once; seconds until the push is live again,
  and until nginx's HLS playlist moves on;
- glass_to_glass: a stamped room; a frame rendered → decoded from nginx by an RTMP player
  (PyAV, as a platform's ingest would see it), and → its fragment fetched and decoded at the
  HLS live edge;
- hls: N concurrent asyncio clients (aiohttp, no decoding, spread over 2 load processes)
  follow the live playlist and fetch each new segment, as a player does; segment fetch
  p50/p95, errors, nginx's CPU, the load processes' CPU (on the same 2 cores).

Usage: python -m benchmarks.run rtmp   (YUNLIAN_BENCH_HLS_CLIENTS=500,1000,2000 chooses N)
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import aiohttp
import av
import httpx
import psutil

from avatars.renderer import read_stamp
from commerce.demo import DEMO_PRODUCTS
from streamer.engine import Engine
from streamer.room import RoomConfig
from testkit.nginx_rtmp import NginxRtmp

PHASE = float(os.environ.get("YUNLIAN_BENCH_RTMP_PHASE", "15"))  # seconds per phase
CLIENT_PROCS = 2  # load processes (aiohttp, no decoding), apart from the room's process
HLS_SECONDS = float(os.environ.get("YUNLIAN_BENCH_HLS_SECONDS", "30"))


async def _catalog(room_id=None):
    return list(DEMO_PRODUCTS)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def _thread_cpu(native_ids: set[int]) -> float:
    return sum(
        t.user_time + t.system_time for t in psutil.Process().threads() if t.id in native_ids
    )


async def _wait_live(engine: Engine, room: str, oid: str, timeout: float = 30) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        o = next(o for o in engine.list_outputs(room) if o["id"] == oid)
        if o["state"] == "live":
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    raise RuntimeError(f"output {oid} not live within {timeout:g} s")


async def _phase(engine: Engine, room_id: str, outputs: int, nginx: NginxRtmp) -> dict:
    room = engine.rooms[room_id]
    ids = [
        engine.add_output(room_id, nginx.rtmp_url, f"bench-{outputs}-{i}")["id"]
        for i in range(outputs)
    ]
    for oid in ids:
        await _wait_live(engine, room_id, oid)
    await asyncio.sleep(3)  # past the connect and the first keyframe
    proc = psutil.Process()
    threads = {p._thread.native_id for p, _ in room.outputs._pushes.values()}
    hub = {room.outputs._hub.native_id} if outputs else set()
    # each connection's FLV mux and network run in a process of its own (streamer/rtmp_child)
    kids = [psutil.Process(p._child.pid) for p, _ in room.outputs._pushes.values() if p._child]
    k0 = sum(_cpu(k) for k in kids)
    c0, t0, w0, f0 = _cpu(proc), _thread_cpu(threads), time.monotonic(), room.metrics.frames
    h0 = _thread_cpu(hub)
    s0 = room.metrics.skipped_frames
    await asyncio.sleep(PHASE)
    wall = time.monotonic() - w0
    out = {
        "outputs": outputs,
        "process_cores": (_cpu(proc) - c0) / wall,
        "push_threads_cores": (_thread_cpu(threads) - t0) / wall,  # feeding the connections
        "connection_processes_cores": (sum(_cpu(k) for k in kids) - k0) / wall,  # mux + network
        "hub_thread_cores": (_thread_cpu(hub) - h0) / wall,  # the shared AAC encode
        "aac_ms_per_tick": room.outputs.stats()["output_audio"]["aac_ms"],
        "fps": (room.metrics.frames - f0) / wall,
        "skipped": room.metrics.skipped_frames - s0,
        "dropped_ticks": sum(o["dropped_ticks"] for o in engine.list_outputs(room_id)),
        "kbps": [o["kbps"] for o in engine.list_outputs(room_id)],
    }
    pushes = [room.outputs.remove(oid) for oid in ids]
    await asyncio.to_thread(lambda: [p.join(5) for p in pushes])
    return out


async def _cost(nginx: NginxRtmp) -> dict:
    engine = Engine(_catalog)
    await engine.start_room(RoomConfig(room_id="bench"))
    try:
        await asyncio.sleep(5)  # the renderer's caches fill
        phases = []
        for n in (0, 1, 0, 1, 0, 2):  # alternating: drift on a shared machine hits both
            phases.append(await _phase(engine, "bench", n, nginx))
        base = statistics.mean(p["process_cores"] for p in phases if p["outputs"] == 0)
        one = statistics.mean(p["process_cores"] for p in phases if p["outputs"] == 1)
        one_conn = statistics.mean(
            p["connection_processes_cores"] for p in phases if p["outputs"] == 1
        )
        two = next(p for p in phases if p["outputs"] == 2)
        return {
            "room_cores_no_output": round(base, 4),
            "room_cores_one_output": round(one, 4),
            "added_cores_per_output": round(one - base + one_conn, 4),
            "added_cores_two_outputs_each": round(
                (two["process_cores"] - base + two["connection_processes_cores"]) / 2, 4
            ),
            "connection_process_cores_one_output": round(one_conn, 4),
            "push_threads_cores_one_output": round(
                statistics.mean(p["push_threads_cores"] for p in phases if p["outputs"] == 1), 4
            ),
            "push_threads_cores_two_outputs": round(two["push_threads_cores"], 4),
            "aac_hub_cores": round(
                statistics.mean(p["hub_thread_cores"] for p in phases if p["outputs"]), 4
            ),
            "room_skipped_frames_with_outputs": sum(p["skipped"] for p in phases if p["outputs"]),
            "dropped_ticks": sum(p["dropped_ticks"] for p in phases),
            "push_kbps": two["kbps"],
            "phase_seconds": PHASE,
            "phases": [{k: v for k, v in p.items() if k != "kbps"} for p in phases],
        }
    finally:
        await engine.close()


async def _hls_sequence(session: aiohttp.ClientSession, url: str) -> int | None:
    try:
        async with session.get(url) as r:
            text = await r.text()
        return int(text.split("#EXT-X-MEDIA-SEQUENCE:")[1].split()[0])
    except (aiohttp.ClientError, IndexError, ValueError):
        return None


async def _recovery(nginx: NginxRtmp, tries: int = 3) -> dict:
    engine = Engine(_catalog)
    await engine.start_room(RoomConfig(room_id="rec"))
    oid = engine.add_output("rec", nginx.rtmp_url, "rec")["id"]
    live, hls = [], []
    try:
        await _wait_live(engine, "rec", oid)
        async with aiohttp.ClientSession() as s:
            for _ in range(tries):
                await asyncio.sleep(6)  # a few fragments in
                nginx.kill()
                await asyncio.sleep(0.5)  # the push sees its connection die
                await asyncio.to_thread(nginx.start)
                t0 = time.monotonic()
                live.append(await _wait_live(engine, "rec", oid))
                before = await _hls_sequence(s, nginx.hls_url("rec"))
                while time.monotonic() - t0 < 30:
                    seq = await _hls_sequence(s, nginx.hls_url("rec"))
                    if seq is not None and (before is None or seq > before):
                        break
                    await asyncio.sleep(0.1)
                hls.append(time.monotonic() - t0)
        o = engine.list_outputs("rec")[0]
        return {
            "restarts": tries,
            "seconds_to_live_again": [round(x, 2) for x in live],
            "seconds_to_new_hls_fragment": [round(x, 2) for x in hls],
            "reconnects": o["reconnects"],
        }
    finally:
        await engine.close()


async def _hls_client(session, url, stop_at, lat, errors, fetched) -> None:
    seen: set[str] = set()
    base = url.rsplit("/", 1)[0]
    while time.monotonic() < stop_at:
        try:
            async with session.get(url) as r:
                if r.status != 200:
                    errors["playlist"] += 1
                    await asyncio.sleep(1)
                    continue
                text = await r.text()
        except (aiohttp.ClientError, TimeoutError):  # a fetch past 10 s counts as an error
            errors["playlist"] += 1
            await asyncio.sleep(1)
            continue
        segs = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        new = (
            [s for s in segs if s not in seen][-2:]
            if not seen
            else [s for s in segs if s not in seen]
        )
        seen.update(segs)
        for seg in new:
            t0 = time.monotonic()
            try:
                async with session.get(f"{base}/{seg}") as r:
                    body = await r.read()
                    if r.status != 200 or not body:
                        errors["segment"] += 1
                        continue
            except (aiohttp.ClientError, TimeoutError):
                errors["segment"] += 1
                continue
            lat.append(time.monotonic() - t0)
            fetched[0] += len(body)
        await asyncio.sleep(1.0)  # a player reloads a live playlist about once a fragment/2


def _client_proc(url: str, clients: int, seconds: float) -> dict:
    """One load process: `clients` players for `seconds`; its own CPU comes back too."""

    async def main() -> dict:
        lat: list[float] = []
        errors = {"playlist": 0, "segment": 0}
        fetched = [0]
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(
            connector=conn, timeout=aiohttp.ClientTimeout(total=10)
        ) as s:
            stop_at = time.monotonic() + seconds
            await asyncio.gather(
                *(_hls_client(s, url, stop_at, lat, errors, fetched) for _ in range(clients))
            )
        return {"lat": lat, "errors": errors, "bytes": fetched[0]}

    c0 = time.process_time()
    out = asyncio.run(main())
    out["cpu"] = time.process_time() - c0
    return out


async def _hls_load(nginx: NginxRtmp, clients: int) -> dict:
    engine = Engine(_catalog)
    await engine.start_room(RoomConfig(room_id="hls"))
    engine.add_output("hls", nginx.rtmp_url, "hls")
    try:
        await asyncio.sleep(10)  # a playlist with fragments
        ng = psutil.Process(nginx.pid())
        ng_procs = [ng, *ng.children()]
        loop = asyncio.get_running_loop()
        split = [
            clients // CLIENT_PROCS + (i < clients % CLIENT_PROCS) for i in range(CLIENT_PROCS)
        ]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(CLIENT_PROCS, mp_context=ctx) as pool:
            # the pool's processes start (and import) before the clock starts
            await asyncio.gather(*(loop.run_in_executor(pool, time.sleep, 0.5) for _ in split))
            n0 = sum(_cpu(p) for p in ng_procs)
            pushes = engine.rooms["hls"].outputs._pushes.values()
            me = [psutil.Process(), *(psutil.Process(p._child.pid) for p, _ in pushes if p._child)]
            me0, w0 = sum(_cpu(p) for p in me), time.monotonic()
            url = nginx.hls_url("hls")
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, _client_proc, url, n, HLS_SECONDS) for n in split)
            )
            wall = time.monotonic() - w0
            nginx_cores = (sum(_cpu(p) for p in ng_procs) - n0) / wall
            room_cores = (sum(_cpu(p) for p in me) - me0) / wall  # with its push's process
        lat = sorted(x for part in parts for x in part["lat"])
        errors = {k: sum(part["errors"][k] for part in parts) for k in ("playlist", "segment")}
        fetched = [sum(part["bytes"] for part in parts)]
        client_cores = sum(part["cpu"] for part in parts) / wall
        room = engine.rooms["hls"]
        return {
            "clients": clients,
            "seconds": round(wall, 1),
            "segments_fetched": len(lat),
            "segment_p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "segment_p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 1) if lat else None,
            "errors": errors,
            "mbit_per_s_served": round(fetched[0] * 8 / wall / 1e6, 1),
            "nginx_cores": round(nginx_cores, 3),
            "room_process_cores": round(room_cores, 3),
            "load_client_cores": round(client_cores, 3),
            "client_processes": CLIENT_PROCS,
            "room_fps": room.stats()["fps"],
        }
    finally:
        await engine.close()


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))], 1)


def _read_rtmp_stamps(url: str, seconds: float, out: list[tuple[int, float]]) -> None:
    """Play RTMP from nginx, as a platform's player would, noting when each frame decodes."""
    c = av.open(url, timeout=10, options={"fflags": "nobuffer"})
    try:
        end = time.monotonic() + seconds
        for frame in c.decode(video=0):
            out.append((read_stamp(frame.to_ndarray(format="gray")), time.time()))
            if time.monotonic() > end:
                break
    finally:
        c.close()


def _hls_edge(url: str, seconds: float, out: list[tuple[int, float]]) -> None:
    """Follow the playlist's live edge: each new fragment's first frame, noted when the
    fragment is fetched and that frame decoded (a player adds its own buffer on top)."""
    seen: set[str] = set()
    base = url.rsplit("/", 1)[0]
    end = time.monotonic() + seconds
    with httpx.Client(timeout=5) as http:
        while time.monotonic() < end:
            segs = [s for s in http.get(url).text.splitlines() if s and not s.startswith("#")]
            for seg in segs if seen else []:
                if seg in seen:
                    continue
                body = http.get(f"{base}/{seg}").content
                c = av.open(io.BytesIO(body), format="mpegts")
                try:
                    frame = next(c.decode(video=0))
                    out.append((read_stamp(frame.to_ndarray(format="gray")), time.time()))
                finally:
                    c.close()
            seen.update(segs)
            time.sleep(0.1)


async def _latency(nginx: NginxRtmp, seconds: float = 20.0) -> dict:
    """Glass to glass: a frame rendered in the room → decoded from nginx (RTMP play) or
    fetched at the HLS live edge, by its stamped frame index."""
    engine = Engine(_catalog)
    await engine.start_room(RoomConfig(room_id="g2g", stamp=True))
    rendered: dict[int, float] = {}
    engine.rooms["g2g"].on_frame = lambda n, at, img, pcm: rendered.__setitem__(n, at)
    engine.add_output("g2g", nginx.rtmp_url, "g2g")
    try:
        await asyncio.sleep(8)  # live, and a few fragments in the playlist
        rtmp: list[tuple[int, float]] = []
        hls: list[tuple[int, float]] = []
        await asyncio.gather(
            asyncio.to_thread(_read_rtmp_stamps, f"{nginx.rtmp_url}/g2g", seconds, rtmp),
            asyncio.to_thread(_hls_edge, nginx.hls_url("g2g"), seconds, hls),
        )
    finally:
        await engine.close()
    out = {}
    for name, got, skip in (("rtmp_play", rtmp, 50), ("hls_live_edge", hls, 0)):
        ms = [(t - rendered[n]) * 1000 for n, t in got[skip:] if n in rendered]
        out[name] = {
            "samples": len(ms),
            "p50_ms": _pct(ms, 0.5) if ms else None,
            "p95_ms": _pct(ms, 0.95) if ms else None,
        }
    out["hls_player_note"] = (
        "hls.js (liveSyncDurationCount 2) plays about 2 fragments (4 s) behind the live edge"
    )
    return out


async def _run() -> dict:
    out: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-rtmp-"))
    nginx = NginxRtmp(tmp / "cost").start()
    try:
        out["cost"] = await _cost(nginx)
        out["recovery"] = await _recovery(nginx)
        out["glass_to_glass"] = await _latency(nginx)
    finally:
        nginx.stop()
        nginx.cleanup()
    counts = os.environ.get("YUNLIAN_BENCH_HLS_CLIENTS", "500,1000,2000").split(",")
    counts = [int(n) for n in counts]
    for n in counts:
        ng = NginxRtmp(tmp / f"hls{n}", workers=2).start()
        try:
            out[f"hls_{n}"] = await _hls_load(ng, n)
        finally:
            ng.stop()
            ng.cleanup()
    out["machine"] = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    return out


def run() -> dict:
    return asyncio.run(_run())
