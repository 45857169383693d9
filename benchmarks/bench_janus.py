"""Janus vs the Python fan-out, in the same run: cores per viewer and viewers per core.

One server process (benchmarks/fanout_server.py: the real app, its demo room live) forwards
its room to a real Janus (Debian's package, deploy/janus/, testkit/janus.py). Receive-only
clients that do not decode (aiortc with a null decoder, in their own process) watch N at a
time, either directly over WHEP (the room's own aiortc peers) or through Janus's streaming
plugin. For each N the server's and Janus's CPU are read from /proc over the same window;
a viewer's cost is the added CPU over the same path at 0 viewers.

Usage: python -m benchmarks.run janus   (YUNLIAN_BENCH_JANUS_NS=10,20 chooses N)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from benchmarks.bench_media import _mark
from testkit.janus import Janus
from testkit.nginx_rtmp import free_port

ROOT = Path(__file__).resolve().parents[1]
NS = tuple(int(n) for n in os.environ.get("YUNLIAN_BENCH_JANUS_NS", "10,20").split(","))
WINDOW = float(os.environ.get("YUNLIAN_BENCH_JANUS_WINDOW", "8"))


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def _server(janus: Janus) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fanout_server", "--port", str(port)]
        + ["--janus-url", janus.api_url, "--janus-key", janus.admin_key],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            res = httpx.get(url + "/api/rooms/demo/janus", timeout=2)
            if res.status_code == 200 and res.json()["live"]:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("benchmark server with Janus did not start within 90 s")


def _window(server: psutil.Process, janus: psutil.Process, client, n: int) -> dict:
    """CPU of the server and of Janus over one window, and what the clients received."""
    c0 = (_cpu(server), _cpu(janus), time.monotonic())
    first = _mark(client) if client else {"frames": 0}
    time.sleep(WINDOW - 0.5)
    s1, j1, w1 = _cpu(server), _cpu(janus), time.monotonic()
    last = _mark(client) if client else {"frames": 0, "still_receiving": 0}
    wall = w1 - c0[2]
    delivered = last["frames"] - first["frames"]
    return {
        "viewers": n,
        "server_cores": round((s1 - c0[0]) / wall, 4),
        "janus_cores": round((j1 - c0[1]) / wall, 4),
        "viewer_fps": round(delivered / n / wall, 2) if n else None,
        "still_receiving": last.get("still_receiving"),
    }


def _client(path: str, url: str, mount: int, n: int) -> subprocess.Popen:
    args = (
        ["benchmarks.fanout_client", url, "/api/rooms/demo/whep", str(n)]
        if path == "direct"
        else ["benchmarks.janus_client", url, str(mount), str(n)]
    )
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="yunlian-janus-") as tmp, Janus(Path(tmp)) as janus:
        proc, url = _server(janus)
        try:
            mount = httpx.get(url + "/api/rooms/demo/janus", timeout=5).json()
            server, jp = psutil.Process(proc.pid), psutil.Process(janus.pid())
            time.sleep(3)
            idle = _window(server, jp, None, 0)
            curves: dict[str, list[dict]] = {"direct": [], "janus": []}
            for n in NS:
                for path in ("direct", "janus"):  # interleaved: the same machine load for both
                    client = _client(
                        path, url if path == "direct" else mount["url"], mount["mountpoint"], n
                    )
                    try:
                        ready = json.loads(client.stdout.readline() or "{}")
                        time.sleep(2)
                        row = _window(server, jp, client, n)
                        row["receiving"] = ready.get("receiving")
                    finally:
                        client.stdin.close()
                        client.wait(60)
                    curves[path].append(row)
                    time.sleep(2)  # let the sessions close
            stats = httpx.get(url + "/bench/stats", timeout=5).json()
        finally:
            proc.terminate()
            proc.wait(15)
    out: dict = {"idle": idle, "curves": curves}
    for path, rows in curves.items():
        top = rows[-1]
        n = top["viewers"]
        server_added = (top["server_cores"] - idle["server_cores"]) / n
        janus_added = (top["janus_cores"] - idle["janus_cores"]) / n
        per_viewer = server_added + janus_added
        out[path] = {
            "viewers": n,
            "cores_per_viewer": round(per_viewer, 5),
            "server_cores_per_viewer": round(server_added, 5),
            "janus_cores_per_viewer": round(janus_added, 5),
            "viewers_per_core": round(1 / per_viewer) if per_viewer > 0 else None,
            "viewer_fps": top["viewer_fps"],
            "receiving": top["receiving"],
        }
    d, j = out["direct"]["cores_per_viewer"], out["janus"]["cores_per_viewer"]
    out["janus_vs_direct_cost_ratio"] = round(j / d, 3) if d > 0 else None
    out["room_fps"] = stats.get("fps")
    out["forward_rtp_note"] = (
        "the room's forward to Janus runs in every window (idle included): one viewer's "
        "packetizing, no second encode"
    )
    out["machine"] = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    out["_command"] = "python -m benchmarks.run janus"
    return out
