"""Media figures: render and encode cost, one room's CPU share, viewer fan-out against
aiortc's usual per-viewer encoding (MediaRelay), and glass-to-glass latency on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, Card, read_stamp
from avatars.voice import ESpeakVoice
from streamer.encoder import RoomEncoder
from streamer.timeline import SpeechTimeline, Utterance, avatar_state
from testkit.livesrv import free_port
from testkit.whep import WhepViewer

ROOT = Path(__file__).resolve().parent.parent
FANOUT_NS = (1, 5, 20)


def p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95))


def render_and_encode(frames: int = 500) -> dict:
    """Per-frame cost of the avatar renderer and the room encoder on real speech."""
    persona = PERSONAS["xiaowang"]
    speech = ESpeakVoice().synthesize_sync(
        "阜平大枣，个大肉厚，今天直播间二十九块九一斤，喜欢的家人们点点关注。", persona
    )
    timeline = SpeechTimeline()
    renderer = AvatarRenderer(persona)
    renderer.set_card(Card("阜平大枣", "29.9", "斤", ("个大肉厚", "皮薄核小")))
    enc = RoomEncoder()
    render_ms, encode_ms, audio_ms = [], [], []
    for n in range(frames):
        if timeline.queued_seconds() < 1:
            timeline.enqueue(Utterance(speech=speech, expression="happy"))
        t0 = time.perf_counter()
        pcm, playing = timeline.read(1920)
        img = renderer.render(avatar_state(playing, n / 25), n)
        t1 = time.perf_counter()
        enc.encode_video(img, n)
        t2 = time.perf_counter()
        enc.encode_audio(pcm, n * 1920)
        t3 = time.perf_counter()
        render_ms.append((t1 - t0) * 1000)
        encode_ms.append((t2 - t1) * 1000)
        audio_ms.append((t3 - t2) * 1000)
    return {
        "render_ms_per_frame": {"median": statistics.median(render_ms), "p95": p95(render_ms)},
        "video_encode_ms_per_frame": {
            "median": statistics.median(encode_ms),
            "p95": p95(encode_ms),
        },
        "audio_encode_ms_per_40ms": {"median": statistics.median(audio_ms), "p95": p95(audio_ms)},
        "frames": frames,
        "resolution": "1280x720",
    }


def _start_server(stamp: bool = False) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fanout_server", "--port", str(port)]
        + (["--stamp"] if stamp else []),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("benchmark server did not start")


def _cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def room_cpu_share(seconds: float = 10.0) -> dict:
    """CPU of a whole server process with one live 720p25 room and no viewers."""
    proc, url = _start_server()
    try:
        p = psutil.Process(proc.pid)
        time.sleep(3)
        c0, w0 = _cpu_seconds(p), time.monotonic()
        time.sleep(seconds)
        share = (_cpu_seconds(p) - c0) / (time.monotonic() - w0)
        stats = httpx.get(url + "/bench/stats").json()
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "cpu_share_of_one_core": round(share, 4),
        "fps": stats["fps"],
        "skipped_frames": stats["skipped_frames_total"],
    }


def fanout(mode: str, window: float = 8.0) -> dict:
    """Server CPU (share of one core) with N viewers; mode 'shared' (ours) or 'relay' (baseline)."""
    path = "/api/rooms/demo/whep" if mode == "shared" else "/bench/relay/whep"
    proc, url = _start_server()
    out: dict = {}
    try:
        p = psutil.Process(proc.pid)
        for n in FANOUT_NS:
            client = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.fanout_client", url, path, str(n)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            ready = json.loads(client.stdout.readline() or "{}")
            time.sleep(2)
            c0, w0 = _cpu_seconds(p), time.monotonic()
            first = _mark(client)  # frames are counted when the mark arrives
            time.sleep(window - 0.5)
            cpu_s, wall = _cpu_seconds(p) - c0, time.monotonic() - w0
            last = _mark(client)
            client.stdin.close()
            client.wait(30)
            fps = httpx.get(url + "/bench/stats").json()["fps"]
            delivered = last["frames"] - first["frames"]
            out[str(n)] = {
                "server_cpu_share": round(cpu_s / wall, 4),
                "viewer_fps": round(delivered / n / wall, 2),
                "viewers_receiving": ready.get("receiving"),
                "viewers_still_receiving": last["still_receiving"],
                "room_fps": fps,
                "cpu_s": round(cpu_s, 4),
                "frames_delivered": delivered,
            }
            time.sleep(2)  # let closed sessions go
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def _mark(client: subprocess.Popen) -> dict:
    client.stdin.write("mark\n")
    client.stdin.flush()
    return json.loads(client.stdout.readline() or '{"frames": 0, "still_receiving": 0}')


def per_viewer(curve: dict, lo: int, hi: int) -> float:
    """Added CPU (share of a core) per added viewer between `lo` and `hi` viewers."""
    return (curve[str(hi)]["server_cpu_share"] - curve[str(lo)]["server_cpu_share"]) / (hi - lo)


def per_frame(curve: dict, lo: int, hi: int) -> float:
    """Added CPU ms per added delivered viewer-frame: fair when a saturated server drops frames."""
    a, b = curve[str(lo)], curve[str(hi)]
    return (b["cpu_s"] - a["cpu_s"]) * 1000 / max(b["frames_delivered"] - a["frames_delivered"], 1)


async def _glass_to_glass(seconds: float) -> dict:
    """Frame rendered (server process) → frame decoded by an aiortc viewer (this process)."""
    proc, url = _start_server(stamp=True)
    decoded: list[tuple[int, float]] = []
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            await http.post("/bench/rendered/start")
            v = WhepViewer(url, on_video=lambda img, t: decoded.append((read_stamp(img), t)))
            await v.connect()
            await v.wait_frames(video=25)
            decoded.clear()
            await asyncio.sleep(seconds)
            await v.close()
            rendered = {int(k): t for k, t in (await http.get("/bench/rendered")).json().items()}
    finally:
        proc.terminate()
        proc.wait(10)
    latencies = [(t - rendered[n]) * 1000 for n, t in decoded if n in rendered]
    return {
        "samples": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(p95(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "target_p95_ms": 150,
        "setup": "server and viewer in separate processes on loopback; viewer decodes with aiortc",
    }


def run() -> dict:
    results: dict = {"render_encode": render_and_encode()}
    results["one_room"] = room_cpu_share()
    shared, relay = fanout("shared"), fanout("relay")
    ours, base = per_viewer(shared, 1, 20), per_viewer(relay, 1, 20)
    ours5, base5 = per_viewer(shared, 1, 5), per_viewer(relay, 1, 5)
    results["fanout"] = {
        "shared_encode": shared,
        "baseline_mediarelay_per_viewer_encode": relay,
        "cpu_per_added_viewer_shared_1_to_20": round(ours, 5),
        "cpu_per_added_viewer_baseline_1_to_20": round(base, 5),
        "ratio_1_to_20": round(ours / base, 4) if base > 0 else None,
        "cpu_per_added_viewer_shared_1_to_5": round(ours5, 5),
        "cpu_per_added_viewer_baseline_1_to_5": round(base5, 5),
        "ratio_1_to_5": round(ours5 / base5, 4) if base5 > 0 else None,
        "marginal_cpu_ms_per_viewer_frame_shared_1_to_20": round(per_frame(shared, 1, 20), 4),
        "marginal_cpu_ms_per_viewer_frame_baseline_1_to_20": round(per_frame(relay, 1, 20), 4),
        "ratio_per_delivered_frame_1_to_20": round(
            per_frame(shared, 1, 20) / per_frame(relay, 1, 20), 4
        ),
        "target_ratio": 0.1,
        "note": "CPU share is of one core (2 cores here); the baseline saturates both cores near 20 viewers",
    }
    results["glass_to_glass"] = asyncio.run(_glass_to_glass(10.0))
    results["machine"] = {"cpus": os.cpu_count()}
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
