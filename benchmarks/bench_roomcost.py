"""What a live room costs, against the floor measured in the same run.

- floor: the room's own x264 settings plus a full-frame cv2 BGR→I420 conversion, on a 720p25
  scene (the room's background) with a host-sized patch (the host) moving every frame;
  floor_abr: the same with the rooms' former rate control (ABR 1.8 Mb/s + VBV), the floor
  the cost issue was written against (the room now codes at a constant quantiser);
- isolation: render, video and audio encode per frame on a real line, in this process;
- live: a served room per persona, from its own stats ("cpu", the last 10 s) and from /proc
  (the whole server process, no viewers), as cores and as a ratio to the floor;
- curve: rooms in one server process, 1 to 14: CPU, worst fps and late (skipped) frames;
- x264: encoder options for this content, CPU per frame and SSIM against the source.

Usage: python -m benchmarks.run roomcost
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import psutil

from avatars.gestures import plan_gestures
from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, AvatarState, Card
from avatars.voice import ESpeakVoice
from streamer.encoder import RoomEncoder
from streamer.timeline import SpeechTimeline, Utterance, avatar_state

ROOT = Path(__file__).resolve().parent.parent
FPS = 25
LINES = (
    "大家好，欢迎来到阜平好物直播间！看这里，阜平大枣个大肉厚，今天只要二十九块九一斤。",
    "谢谢家人们的支持，喜欢的点点关注，拍了的家人们马上发货。",
)
CARD = Card("阜平大枣", "29.9", "斤", ("个大肉厚", "皮薄核小"), category="jujube")
CURVE = (1, 2, 4, 6, 8, 10, 12, 14)
LIVE_SECONDS = 20.0
CURVE_SECONDS = 10.0
TARGET_CORES = 0.15
TARGET_RATIO = 1.5


def _stats(xs: list[float]) -> dict:
    return {
        "median": round(float(np.median(xs)), 3),
        "p95": round(float(np.percentile(xs, 95)), 3),
    }


# --- in this process -------------------------------------------------------------------------


def floor(frames: int = 300, **encoder) -> dict:
    """x264 (the room's settings, or `encoder`'s) + cv2 full-frame conversion on a scene
    with a moving patch; `width` and `height` in `encoder` pick the frame size (720p)."""
    size = {k: encoder[k] for k in ("width", "height") if k in encoder}
    r = AvatarRenderer(PERSONAS["xiaowang"], **size)
    scene = r._base[:, :, :3].copy()  # the room's own background, with no host
    x0, y0, x1, y1 = r.layout.char_box
    host = r.render(AvatarState(t=0.0))[y0:y1, x0:x1].copy()
    enc = RoomEncoder(**encoder)
    cpu = []
    for n in range(frames):
        img = scene.copy()
        dx, dy = int(12 * np.sin(n / 9)), int(4 * np.sin(n / 5))
        img[y0 + 4 + dy : y1 - 4 + dy, x0 + 12 + dx : x1 - 12 + dx] = host[4:-4, 12:-12]
        c0 = time.process_time()  # this process runs nothing else: its CPU is the encode's
        enc.encode_video(img, n)
        cpu.append((time.process_time() - c0) * 1000)
    ms = float(np.mean(cpu[50:]))
    return {"ms_per_frame": round(ms, 3), "cores": round(ms * FPS / 1000, 4), **_stats(cpu[50:])}


def _timeline_states(persona_id: str, frames: int):
    persona = PERSONAS[persona_id]
    voice = ESpeakVoice()
    speeches = [voice.synthesize_sync(line, persona) for line in LINES]
    timeline = SpeechTimeline()
    k = 0
    for n in range(frames):
        if timeline.queued_seconds() < 1:
            s = speeches[k % len(speeches)]
            timeline.enqueue(
                Utterance(
                    speech=s,
                    expression=("happy", "excited", "neutral")[k % 3],
                    card=CARD,
                    gestures=plan_gestures(s.text, s.duration, "jujube"),
                )
            )
            k += 1
        pcm, playing = timeline.read(48_000 // FPS)
        yield n, pcm, playing


def isolation(persona_id: str, frames: int = 300, warmup: int = 50) -> dict:
    """Render, video encode (changed regions only, as a room does) and audio encode."""
    r = AvatarRenderer(PERSONAS[persona_id])
    r.set_card(CARD)
    enc = RoomEncoder()
    render, encode, audio = [], [], []
    for n, pcm, playing in _timeline_states(persona_id, frames):
        if playing.started and playing.utterance is not None:
            r.set_caption(playing.utterance.speech.text)
        c0 = time.thread_time()
        enc.encode_audio(pcm, n * len(pcm))
        c1 = time.thread_time()
        r.draw(avatar_state(playing, n / FPS), n)  # as a room does: the host's pixels in BGRA
        c2 = time.thread_time()
        enc.encode_patches(r.take_patches(), n)
        c3 = time.thread_time()
        if n >= warmup:
            audio.append((c1 - c0) * 1000)
            render.append((c2 - c1) * 1000)
            encode.append((c3 - c2) * 1000)
    total = float(np.mean(render) + np.mean(encode) + np.mean(audio))
    return {
        "render_ms": _stats(render),
        "encode_ms": _stats(encode),
        "audio_ms": _stats(audio),
        "ms_per_frame": round(total, 3),
        "cores": round(total * FPS / 1000, 4),
    }


# --- x264 options ------------------------------------------------------------------------


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two 8-bit planes (Gaussian window 11, sigma 1.5, as Wang et al.)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


ABR = {"qp": None}  # the rooms' settings before: ABR 1.8 Mb/s with a VBV of the same rate
X264_CASES = {
    "room (ultrafast, constant QP 28)": {},
    "QP 26": {"qp": 26},
    "QP 30": {"qp": 30},
    "ABR 1.8 Mb/s + VBV (the rooms' before)": ABR,
    "ABR 1.2 Mb/s + VBV": {**ABR, "video_bitrate": 1_200_000},
    "ABR 1.8 Mb/s + VBV, qpmin 28": {**ABR, "x264": "qpmin=28"},
    "CRF 23 + VBV 1.8 Mb/s": {**ABR, "x264": "crf=23"},
    "CRF 28 + VBV 1.8 Mb/s": {**ABR, "x264": "crf=28"},
    "CRF 28 qcomp 1 + VBV 1.8 Mb/s": {**ABR, "x264": "crf=28:qcomp=1"},
    "ABR + aq-mode=1": {**ABR, "x264": "aq-mode=1"},
    "QP 28, me=hex subme=2": {"x264": "me=hex:subme=2"},
    "QP 28, wider deadzones": {"x264": "deadzone-inter=24:deadzone-intra=14"},
    "QP 28, no fast P-skip": {"x264": "no-fast-pskip=1"},
    "QP 28, 2 slice threads": {"threads": 2},
    "QP 28, superfast preset": {"preset": "superfast"},
}
ROOM_X264 = "room (ultrafast, constant QP 28)"
X264_ROUNDS = 2  # every case once a round, rounds in turn: load drifts hit all cases alike
X264_NOISE = 0.05  # a case must be this much cheaper than the room's, every round


def x264_options(frames: int = 150) -> dict:
    """CPU per frame (cv2 conversion + encode, process CPU time so that slice threads count)
    and SSIM of the decoded luma against the source, on a live line of the landscape room.
    Each case runs X264_ROUNDS times, interleaved; its CPU is the median of its rounds."""
    r = AvatarRenderer(PERSONAS["xiaowang"])
    r.set_card(CARD)
    source = []
    for n, _, playing in _timeline_states("xiaowang", frames):
        if playing.started and playing.utterance is not None:
            r.set_caption(playing.utterance.speech.text)
        source.append(r.render(avatar_state(playing, n / FPS), n).copy())
    gray = [cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) for img in source]
    rounds: dict[str, list[float]] = {name: [] for name in X264_CASES}
    out: dict[str, dict] = {}
    for _ in range(X264_ROUNDS):
        for name, opts in X264_CASES.items():
            enc = RoomEncoder(**opts)
            cpu, packets = [], []
            for n, img in enumerate(source):
                c0 = time.process_time()
                packets += enc.encode_video(img, n)
                cpu.append((time.process_time() - c0) * 1000)
            rounds[name].append(float(np.mean(cpu[10:])))
            if name in out:
                continue  # the same options encode the same stream: score it once
            dec = av.CodecContext.create("h264", "r")
            frames_out = [f for p in packets for f in dec.decode(p)]
            scores = [_ssim(f.to_ndarray(format="gray"), gray[n]) for n, f in enumerate(frames_out)]
            kbps = sum(p.size for p in packets) * 8 / (len(source) / FPS) / 1000
            out[name] = {
                "ssim_luma": round(float(np.mean(scores)), 4),
                "ssim_min": round(float(np.min(scores)), 4),
                "kbps": round(kbps, 1),
            }
    for name, cpu in rounds.items():
        out[name] = {
            "cpu_ms_per_frame": round(float(np.median(cpu)), 3),
            "cpu_ms_rounds": [round(x, 3) for x in cpu],
            **out[name],
        }
    # every frame at SSIM 0.95 or better: a mean would hide the blurred frames after a change
    ok = {k: v for k, v in out.items() if v["ssim_min"] >= 0.95}
    # cheaper only if its dearest round beats the room's cheapest one by more than the noise
    room = min(out[ROOM_X264]["cpu_ms_rounds"])
    cheaper = {k: v for k, v in ok.items() if max(v["cpu_ms_rounds"]) < (1 - X264_NOISE) * room}
    pick = min(cheaper, key=lambda k: cheaper[k]["cpu_ms_per_frame"]) if cheaper else ROOM_X264
    return {
        "cases": out,
        "rounds": X264_ROUNDS,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "cheapest_with_every_frame_at_ssim_0_95": min(
            ok, key=lambda k: ok[k]["cpu_ms_per_frame"], default=None
        ),
        # the room's settings stay unless a case is cheaper by more than the noise
        "pick": pick,
    }


# --- a served room -----------------------------------------------------------------------


class Server:
    """The benchmark's `yunlian serve` (no demo room) in its own process."""

    def __init__(self, workers: int = 0, max_rooms: int = 16) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.roomcost_server",
                "--workers",
                str(workers),
                "--max-rooms",
                str(max_rooms),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()  # bounded: the server gives up after 30 s
        if not line:
            raise RuntimeError("benchmark server did not start")
        hello = json.loads(line)
        self.http = httpx.Client(base_url=hello["url"], headers=hello["headers"], timeout=30)
        self.ps = psutil.Process(self.proc.pid)

    def cpu(self) -> float:
        """CPU seconds of the server and its room workers (the whole process tree)."""
        total = 0.0
        for proc in [self.ps, *self.ps.children(recursive=True)]:
            try:
                t = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total

    def metrics(self) -> dict:
        return self.http.get("/api/metrics").json()

    def start(self, room_id: str, persona: str, orientation: str = "landscape") -> None:
        res = self.http.post(
            "/api/rooms", json={"room_id": room_id, "persona": persona, "orientation": orientation}
        )
        if res.status_code != 201:
            raise RuntimeError(f"room {room_id} did not start: {res.status_code} {res.text}")

    def stop(self, room_id: str) -> None:
        self.http.post(f"/api/rooms/{room_id}/stop")

    def stats(self, room_id: str) -> dict:
        return self.http.get(f"/api/rooms/{room_id}").json()

    def close(self) -> None:
        self.http.close()
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def live_room(server: Server, persona: str, floor_cores: float, abr_floor_cores: float) -> dict:
    room = f"cost-{persona}"
    server.start(room, persona)
    try:
        time.sleep(5)  # warm: first lines, head tilts and hands drawn
        s0 = server.stats(room)
        c0, w0 = server.cpu(), time.monotonic()
        time.sleep(LIVE_SECONDS)
        cores = (server.cpu() - c0) / (time.monotonic() - w0)
        s1 = server.stats(room)
    finally:
        server.stop(room)
    cpu = s1["cpu"]
    frames = s1["frames"] - s0["frames"]
    late = s1["skipped_frames_total"] - s0["skipped_frames_total"]
    return {
        "load": [round(x, 2) for x in os.getloadavg()],
        "server_cores_proc": round(cores, 4),
        "room_cores_own_stats": cpu["cpu_share"],
        "ratio_to_floor_proc": round(cores / floor_cores, 2),
        "ratio_to_floor_own_stats": round(cpu["cpu_share"] / floor_cores, 2),
        "ratio_to_abr_floor_proc": round(cores / abr_floor_cores, 2),
        "ratio_to_abr_floor_own_stats": round(cpu["cpu_share"] / abr_floor_cores, 2),
        "render_ms": cpu["render_ms"],
        "encode_ms": cpu["encode_ms"],
        "audio_ms": cpu["audio_ms"],
        "fps": s1["fps"],
        "late_frames": late,
        "late_pct": round(100 * late / max(frames + late, 1), 2),
        "silence_reused": s1["silence_reused"],
        "host_region_share": s1.get("host_region_share"),
        "cache_hits": {k: v["hits"] for k, v in s1["render_cache"].items()},
        "cache_size": {k: [v["size"], v["limit"]] for k, v in s1["render_cache"].items()},
    }


def curve(
    server: Server, floor_cores: float, abr_floor_cores: float, points: tuple[int, ...] = CURVE
) -> dict:
    personas = list(PERSONAS)
    started: list[str] = []
    out = {}
    try:
        for n in points:
            while len(started) < n:
                room = f"curve-{len(started)}"
                server.start(room, personas[len(started) % len(personas)])
                started.append(room)
            time.sleep(4)
            s0 = {r: server.stats(r) for r in started}
            c0, w0 = server.cpu(), time.monotonic()
            time.sleep(CURVE_SECONDS)
            wall = time.monotonic() - w0
            cores = (server.cpu() - c0) / wall
            s1 = {r: server.stats(r) for r in started}
            frames = sum(s1[r]["frames"] - s0[r]["frames"] for r in started)
            late = sum(
                s1[r]["skipped_frames_total"] - s0[r]["skipped_frames_total"] for r in started
            )
            worst = min((s1[r]["frames"] - s0[r]["frames"]) / wall for r in started)
            out[str(n)] = {
                "load": [round(x, 2) for x in os.getloadavg()],
                "server_cores": round(cores, 3),
                "cores_per_room": round(cores / n, 4),
                "ratio_per_room_to_floor": round(cores / n / floor_cores, 2),
                "ratio_per_room_to_abr_floor": round(cores / n / abr_floor_cores, 2),
                "worst_room_fps": round(worst, 1),
                "late_frames": late,
                "late_pct": round(100 * late / max(frames + late, 1), 2),
            }
    finally:
        for room in started:
            server.stop(room)
    zero = [int(k) for k, v in out.items() if v["late_frames"] == 0]
    return {"rooms": out, "most_rooms_with_0_late_frames": max(zero) if zero else 0}


def run() -> dict:
    results: dict = {"machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()}}
    fl = floor()
    results["floor"] = fl
    # the floor the issue was written against: x264 at the rooms' former 1.8 Mb/s ABR + VBV
    fl_abr = floor(**ABR)
    results["floor_abr"] = fl_abr
    results["isolation"] = {p: isolation(p) for p in PERSONAS}
    server = Server()
    try:
        results["live"] = {p: live_room(server, p, fl["cores"], fl_abr["cores"]) for p in PERSONAS}
        results["curve"] = curve(server, fl["cores"], fl_abr["cores"])
    finally:
        server.close()
    results["floor_after"] = floor()  # the floor again: how much the machine drifted
    results["x264"] = x264_options()
    results["side_by_side_ms"] = {
        p: {
            "render_live": results["live"][p]["render_ms"],
            "render_isolation": results["isolation"][p]["render_ms"],
            "encode_live": results["live"][p]["encode_ms"],
            "encode_isolation": results["isolation"][p]["encode_ms"],
        }
        for p in PERSONAS
    }
    live = results["live"]
    results["summary"] = {
        "cores_per_room_proc": {p: live[p]["server_cores_proc"] for p in PERSONAS},
        "cores_per_room_own_stats": {p: live[p]["room_cores_own_stats"] for p in PERSONAS},
        "ratio_to_floor_proc": {p: live[p]["ratio_to_floor_proc"] for p in PERSONAS},
        "ratio_to_floor_own_stats": {p: live[p]["ratio_to_floor_own_stats"] for p in PERSONAS},
        "ratio_to_abr_floor_proc": {p: live[p]["ratio_to_abr_floor_proc"] for p in PERSONAS},
        "ratio_to_abr_floor_own_stats": {
            p: live[p]["ratio_to_abr_floor_own_stats"] for p in PERSONAS
        },
        "rooms_with_0_late_frames": results["curve"]["most_rooms_with_0_late_frames"],
        "load_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    results["targets"] = {
        "cores_per_room": TARGET_CORES,
        "ratio_to_floor": TARGET_RATIO,
        "rooms_with_0_late_frames": 8,
    }
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
