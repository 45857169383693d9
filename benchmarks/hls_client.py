"""A lean HLS load client: many players per process, each one keep-alive HTTP/1.1 connection
that reloads the live playlist once a target duration and fetches each new segment, as a
player does at playback rate. Nothing is decoded and nothing is kept: a segment's bytes are
read straight into one scratch buffer the whole process shares (`asyncio.BufferedProtocol`,
no allocation per read) and counted. uvloop runs the event loop; the players are split over
several processes.

Reported per run: segment fetch times, errors, bytes, the clients' own CPU, and how far
behind the live edge they are: for each segment, the time from its first appearance in any
playlist this process read to the moment a player has all of it ("edge delay"). A player
that keeps up stays within about one target duration plus a fetch; one that falls behind
grows without bound.

Usage (any HLS live playlist; the `hls` benchmark section runs it against its own room):
  python -m benchmarks.hls_client http://127.0.0.1:8080/hls/demo.m3u8 --clients 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import time
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 10.0  # a response not complete within this is an error
MAX_HEAD = 16 * 1024
SCRATCH = 1 << 20  # bytes read per call at most (one buffer per process, reused)


class ResponseError(Exception):
    pass


class Conn(asyncio.BufferedProtocol):
    """One keep-alive connection: one request at a time; a body is counted, kept only when
    asked (playlists)."""

    def __init__(self, scratch: memoryview) -> None:
        self.scratch = scratch
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.head = bytearray()
        self.remaining = -1  # body bytes still to come; -1 while reading the head
        self.keep = False
        self.body = bytearray()
        self.status = 0
        self.got = 0
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.scratch

    def buffer_updated(self, n: int) -> None:
        if self.waiter is None or self.waiter.done():
            self._fail(ResponseError("bytes with no request"))
            return
        start = 0
        if self.remaining < 0:
            before = len(self.head)
            self.head += self.scratch[: min(n, MAX_HEAD)]
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) >= MAX_HEAD:
                    self._fail(ResponseError("response head too long"))
                return
            start = end + 4 - before
            lines = bytes(self.head[:end]).split(b"\r\n")
            self.head.clear()
            try:
                self.status = int(lines[0].split(b" ", 2)[1])
            except (IndexError, ValueError):
                self._fail(ResponseError("not an HTTP response"))
                return
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
                elif name.strip().lower() == b"transfer-encoding":
                    self._fail(ResponseError("chunked bodies are not read"))
                    return
            if length is None:
                self._fail(ResponseError("no content-length"))
                return
            self.remaining = length
        take = min(n - start, self.remaining)
        if self.keep:
            self.body += self.scratch[start : start + take]
        self.got += take
        self.remaining -= take
        if self.remaining == 0:
            self.remaining = -1
            self.waiter.set_result((self.status, self.got, bytes(self.body) if self.keep else b""))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ResponseError("connection closed"))

    def eof_received(self) -> bool:
        return False

    async def get(self, request: bytes, keep: bool) -> tuple[int, int, bytes]:
        if self.closed:
            raise ResponseError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.keep, self.got, self.remaining = keep, 0, -1
        self.body.clear()
        self.transport.write(request)
        async with asyncio.timeout(REQUEST_TIMEOUT):
            return await self.waiter


class Run:
    """What one process's players saw."""

    def __init__(self) -> None:
        self.fetch: list[tuple[float, float]] = []  # (when, seconds) per segment fetch
        self.edge: list[tuple[float, float]] = []  # (when, seconds behind the live edge)
        self.errors = {"connect": 0, "playlist": 0, "segment": 0}
        self.bytes = 0
        self.segments = 0
        self.playlists = 0
        self.first_seen: dict[str, float] = {}


def _request(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: yunlian-hls-load\r\n\r\n".encode()


def _parse(text: str) -> tuple[float, list[str]]:
    target, segs = 2.0, []
    for line in text.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1] or 2)
        elif line and not line.startswith("#"):
            segs.append(line.strip())
    return target, segs


async def player(url: str, stop_at: float, run: Run, scratch: memoryview, delay: float, t0: float):
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    base = parts.path.rsplit("/", 1)[0]
    playlist_req = _request(parts.netloc, parts.path)
    await asyncio.sleep(delay)  # players arrive spread over the ramp
    conn: Conn | None = None
    seen: set[str] = set()
    while loop.time() < stop_at:
        if conn is None or conn.closed:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    _, conn = await loop.create_connection(lambda: Conn(scratch), host, port)
            except (OSError, TimeoutError):
                run.errors["connect"] += 1
                conn = None
                await asyncio.sleep(1.0)
                continue
        reload_at = loop.time()
        try:
            status, _, body = await conn.get(playlist_req, keep=True)
            if status != 200:
                raise ResponseError(f"status {status}")
        except (ResponseError, TimeoutError, OSError):
            run.errors["playlist"] += 1
            conn.transport.abort()
            await asyncio.sleep(1.0)
            continue
        run.playlists += 1
        target, segs = _parse(body.decode("latin-1"))
        now = time.monotonic()
        for s in segs:
            run.first_seen.setdefault(s, now)
        new = [s for s in segs if s not in seen]
        if not seen:
            new = new[-2:]  # a player starts near the live edge
        seen.update(segs)
        for seg in new:
            t = time.monotonic()
            try:
                status, got, _ = await conn.get(_request(parts.netloc, f"{base}/{seg}"), False)
                if status != 200 or not got:
                    raise ResponseError(f"status {status}")
            except (ResponseError, TimeoutError, OSError):
                run.errors["segment"] += 1
                conn.transport.abort()
                break
            done = time.monotonic()
            run.fetch.append((done, done - t))
            run.bytes += got
            run.segments += 1
            if run.first_seen[seg] > t0 + target:  # appeared while the run was on
                run.edge.append((done, done - run.first_seen[seg]))
        wait = reload_at + target - loop.time()
        if wait > 0:  # a player reloads the live playlist once a target duration
            await asyncio.sleep(wait)


def run_process(url: str, clients: int, seconds: float, seed: int = 0, ramp: float = 2.0) -> dict:
    """One load process: `clients` players for `seconds` (then the stragglers' last fetch),
    arriving spread over the first `ramp` seconds."""
    import uvloop

    random.seed(seed)

    async def main() -> dict:
        loop = asyncio.get_running_loop()
        scratch = memoryview(bytearray(SCRATCH))
        run = Run()
        t0 = time.monotonic()  # fetch and edge times (uvloop's loop.time() has 1 ms steps)
        stop_at = loop.time() + seconds
        await asyncio.gather(
            *(
                player(url, stop_at, run, scratch, random.uniform(0, ramp), t0)
                for _ in range(clients)
            )
        )
        return {
            "fetch": [(w - t0, d) for w, d in run.fetch],
            "edge": [(w - t0, d) for w, d in run.edge],
            "errors": run.errors,
            "bytes": run.bytes,
            "segments": run.segments,
            "playlists": run.playlists,
            "unique_segments": len(run.first_seen),
        }

    c0, w0 = time.process_time(), time.monotonic()
    out = uvloop.run(main())
    out["cpu"] = time.process_time() - c0
    out["wall"] = time.monotonic() - w0
    return out


def _q(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def summarize(
    parts: list[dict], clients: int, seconds: float, wall: float, ramp: float = 2.0
) -> dict:
    fetch = [x for p in parts for _, x in p["fetch"]]
    # once every player has arrived and caught up (after the first third): steady state
    settled = max(seconds / 3, ramp + 4.0)
    steady = [x for p in parts for w, x in p["fetch"] if w >= settled]
    edge = [e for p in parts for e in p["edge"]]
    delays = [d for _, d in edge]
    third = seconds / 3
    early = [d for w, d in edge if w < max(third, ramp) + 2]
    late = [d for w, d in edge if w >= seconds - third]
    errors = {k: sum(p["errors"][k] for p in parts) for k in ("connect", "playlist", "segment")}
    segments = sum(p["segments"] for p in parts)
    cpu = sum(p["cpu"] for p in parts)

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x * 1000, 1)

    p95_edge = _q(delays, 0.95)
    late_p95, early_p95 = _q(late, 0.95), _q(early, 0.95)
    return {
        "clients": clients,
        "processes": len(parts),
        "ramp_s": ramp,
        "seconds": round(wall, 1),
        "segments_fetched": segments,
        "segments_per_client_per_s": round(segments / clients / wall, 3) if clients else 0,
        "segment_fetch_p50_ms": ms(_q(fetch, 0.5)),
        "segment_fetch_p95_ms": ms(_q(fetch, 0.95)),
        "segment_fetch_max_ms": ms(max(fetch) if fetch else None),
        "segment_fetch_p95_steady_ms": ms(_q(steady, 0.95)),
        "errors": errors,
        "gbit_per_s_served": round(sum(p["bytes"] for p in parts) * 8 / wall / 1e9, 2),
        "edge_delay_p50_s": None if not delays else round(_q(delays, 0.5), 2),
        "edge_delay_p95_s": None if p95_edge is None else round(p95_edge, 2),
        "edge_delay_p95_first_third_s": None if early_p95 is None else round(early_p95, 2),
        "edge_delay_p95_last_third_s": None if late_p95 is None else round(late_p95, 2),
        "client_cores": round(cpu / wall, 3),
        "client_cpu_ms_per_segment": round(cpu * 1000 / segments, 3) if segments else None,
    }


def kept_up(summary: dict, target: float = 2.0) -> bool:
    """Players kept real time: no errors, and the live-edge delay neither exceeds two target
    durations at p95 nor grows from the first third of the run to the last."""
    late = summary["edge_delay_p95_last_third_s"]
    early = summary["edge_delay_p95_first_third_s"]
    return (
        not any(summary["errors"].values())
        and late is not None
        and late <= 2 * target
        and (early is None or late <= early + target / 2)
    )


def run_load(
    url: str, clients: int, seconds: float, processes: int | None = None, ramp: float = 2.0
) -> dict:
    """`clients` players over `processes` (default: one per core) for `seconds`, arriving over
    the first `ramp` seconds; the summary (see `summarize`) plus whether they kept up."""
    from concurrent.futures import ProcessPoolExecutor

    procs = max(1, min(processes or os.cpu_count() or 1, clients))
    split = [clients // procs + (i < clients % procs) for i in range(procs)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(procs, mp_context=ctx) as pool:
        list(pool.map(time.sleep, [0.3] * procs))  # started and imported before the clock
        w0 = time.monotonic()
        parts = list(
            pool.map(
                run_process, [url] * procs, split, [seconds] * procs, range(procs), [ramp] * procs
            )
        )
        wall = time.monotonic() - w0
    out = summarize(parts, clients, seconds, wall, ramp)
    out["kept_up"] = kept_up(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="the live playlist, http://host:port/path.m3u8")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--procs", type=int, default=None, help="load processes (default: cores)")
    ap.add_argument("--ramp", type=float, default=2.0, help="seconds over which players arrive")
    args = ap.parse_args(argv)
    if urlsplit(args.url).scheme != "http":
        ap.error("only http:// playlists (put the client next to nginx, not behind TLS)")
    out = run_load(args.url, args.clients, args.seconds, args.procs, args.ramp)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
