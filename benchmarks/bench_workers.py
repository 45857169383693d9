"""Rooms in one server process against rooms in 2 worker processes, at 720p25 and 480p25,
in the same run.

For each resolution and layout, rooms are added up to each point of the curve (personas in
turn, no viewers) and measured over a window (10 s):
- the CPU of the server's whole process tree from /proc (web process, workers and the
  spare), and of each process by its role;
- the machine's per-core use from /proc/stat over the same window (is the second core used?
  on a shared machine this includes other work: the load average is reported with it);
- the worst room's fps and the late (skipped) frames, from the rooms' own stats over their
  last 10 s (`fps`, `skipped_frames`), and from their counters over the window.
The floor (x264 at the rooms' own settings + a cv2 colour conversion, benchmarks.bench_roomcost)
is measured at both resolutions before and after the curves, so a busy machine shows as a
moved floor. Then failover: `kill -9` of the worker holding a room, N trials each with 2
workers and with 1 (each with its started spare, ready again before the next kill), p50 and
max. Then the flood of benchmarks.bench_flood (viewer budget as shipped) on the demo room in
the web process and in one of 2 workers, same run.

Usage: python -m benchmarks.run workers  (the full run: about 20 minutes on a quiet machine)
       python -m benchmarks.bench_workers --rooms 2,4 --seconds 5 --trials 2 --flood-seconds 10
Environment for `benchmarks.run`: YUNLIAN_BENCH_ROOMS ("2,4,...,16"), _SECONDS, _TRIALS,
_FLOOD_SECONDS, _RESOLUTIONS ("720p,480p").
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import numpy as np
import psutil

from avatars.layout import frame_size
from avatars.personas import PERSONAS
from benchmarks import bench_flood
from benchmarks.bench_roomcost import Server, floor

POINTS = (2, 4, 6, 8, 10, 12, 14, 16)
LAYOUTS = {"one_process": 0, "two_workers": 2}
RESOLUTIONS = ("720p", "480p")
WINDOW_SECONDS = 10.0
SETTLE_SECONDS = 10.0  # after the last room of a point starts: its start-up (first lines
# written and spoken, scene drawn) is out of the rooms' own 10-s window
FAILOVER_TRIALS = 10
FAILOVER_LIMIT = 30.0  # seconds a trial may take before it counts as a failure
FLOOD_SECONDS = 30
TARGET_ROOMS, TARGET_LATE_PCT, TARGET_FLOOD_FPS = 12, 1.0, 24.0


def _say(line: str) -> None:
    print(f"[bench_workers {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# --- measuring a window ------------------------------------------------------------------


def _core_times() -> list[tuple[float, float]]:
    """(busy, total) seconds of each core since boot, from /proc/stat."""
    out = []
    for t in psutil.cpu_times(percpu=True):
        total = sum(t)
        out.append((total - t.idle - getattr(t, "iowait", 0.0), total))
    return out


def _tree(server: Server) -> dict[int, float]:
    """CPU seconds of each process of the server's tree, by pid."""
    out = {}
    for proc in [server.ps, *server.ps.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        out[proc.pid] = t.user + t.system
    return out


def _roles(server: Server, metrics: dict) -> dict[int, str]:
    roles = {server.proc.pid: "web"}
    for i, w in enumerate(metrics.get("workers") or []):
        roles[w["pid"]] = f"worker{i}"
    spare = metrics.get("spare")
    if spare:
        roles[spare["pid"]] = "spare"
    return roles


def start_room(server: Server, room: str, persona: str, resolution: str) -> None:
    res = server.http.post(
        "/api/rooms", json={"room_id": room, "persona": persona, "resolution": resolution}
    )
    if res.status_code != 201:
        raise RuntimeError(f"room {room} did not start: {res.status_code} {res.text}")


def window(server: Server, rooms: list[str], seconds: float) -> dict:
    s0 = {r: server.stats(r) for r in rooms}
    p0, k0, w0 = _tree(server), _core_times(), time.monotonic()
    time.sleep(seconds)
    p1, k1 = _tree(server), _core_times()
    wall = time.monotonic() - w0
    s1 = {r: server.stats(r) for r in rooms}
    metrics = server.metrics()
    roles = _roles(server, metrics)
    per_process: dict[str, float] = {}
    for pid, t in p1.items():
        name = roles.get(pid, "other")  # e.g. multiprocessing's resource tracker
        per_process[name] = per_process.get(name, 0.0) + (t - p0.get(pid, t)) / wall
    cores = sum(per_process.values())
    per_core = [
        round((b1 - b0) / max(t1 - t0, 1e-9), 3) for (b0, t0), (b1, t1) in zip(k0, k1, strict=True)
    ]
    frames = sum(s1[r]["frames"] - s0[r]["frames"] for r in rooms)
    late = sum(s1[r]["skipped_frames_total"] - s0[r]["skipped_frames_total"] for r in rooms)
    # the rooms' own last-10-s figures, read at the end of the window
    own_frames = sum(s1[r]["fps"] * 10 for r in rooms)
    own_late = sum(s1[r]["skipped_frames"] for r in rooms)
    placement = {f"worker{i}": len(w["rooms"]) for i, w in enumerate(metrics.get("workers") or [])}
    return {
        "load": [round(x, 2) for x in os.getloadavg()],
        "server_cores": round(cores, 3),
        "cores_per_room": round(cores / len(rooms), 4),
        "cores_by_process": {k: round(v, 3) for k, v in sorted(per_process.items())},
        "machine_per_core_busy": per_core,
        # each room's media loop over its last 10 s, from its own tick times (mean of rooms)
        "room_media_cores": round(float(np.mean([s1[r]["cpu"]["cpu_share"] for r in rooms])), 4),
        "room_ms_per_frame": {
            k: round(float(np.mean([s1[r]["cpu"][f"{k}_ms"]["mean"] for r in rooms])), 3)
            for k in ("render", "encode", "audio")
        },
        "video_kbps_mean": round(float(np.mean([s1[r]["video_kbps"] for r in rooms])), 1),
        "worst_room_fps_10s": round(min(s1[r]["fps"] for r in rooms), 1),
        "late_pct_10s": round(100 * own_late / max(own_frames + own_late, 1), 2),
        "worst_room_fps_window": round(
            min((s1[r]["frames"] - s0[r]["frames"]) / wall for r in rooms), 1
        ),
        "late_frames_window": late,
        "late_pct_window": round(100 * late / max(frames + late, 1), 2),
        **({"rooms_per_worker": placement} if placement else {}),
    }


def curve(workers: int, resolution: str, points: tuple[int, ...], seconds: float) -> dict:
    server = Server(workers, max_rooms=max(16, *points))
    personas = list(PERSONAS)
    started: list[str] = []
    out: dict[str, dict] = {}
    try:
        for n in points:
            try:
                while len(started) < n:
                    room = f"curve-{len(started)}"
                    start_room(server, room, personas[len(started) % len(personas)], resolution)
                    started.append(room)
            except Exception as exc:  # an overloaded server: the curve ends here, kept so far
                out[str(n)] = {"error": repr(exc)[:300]}
                _say(f"{resolution} workers={workers} rooms={n}: {exc!r}")
                break
            time.sleep(SETTLE_SECONDS)
            out[str(n)] = w = window(server, started, seconds)
            _say(
                f"{resolution} workers={workers} rooms={n}: {w['server_cores']} cores, "
                f"per core {w['machine_per_core_busy']}, worst {w['worst_room_fps_10s']} fps, "
                f"{w['late_pct_10s']} % late, load {w['load'][0]}"
            )
        for room in started:
            try:
                server.stop(room)
            except Exception as exc:  # the server closes anyway, with its rooms
                _say(f"room {room} did not stop: {exc!r}")
    finally:
        server.close()
    ok = [
        int(k)
        for k, v in out.items()
        if "error" not in v and max(v["late_pct_10s"], v["late_pct_window"]) <= TARGET_LATE_PCT
    ]
    return {
        "rooms": out,
        f"most_rooms_with_at_most_{TARGET_LATE_PCT:g}pct_late": max(ok, default=0),
    }


# --- failover ----------------------------------------------------------------------------


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
    _say(f"failover workers={workers}: {[round(t, 2) for t in times]} s, {failed} failed")
    return {
        "trials": trials,
        "failed": failed,
        "seconds_to_ticking": [round(t, 2) for t in times],
        "p50_s": round(float(np.median(times)), 2) if times else None,
        "max_s": round(max(times), 2) if times else None,
        "server_restore_seconds": [r["seconds"] for r in restored],
    }


# --- the run -----------------------------------------------------------------------------


def _floors(resolutions: tuple[str, ...]) -> dict:
    out = {}
    for res in resolutions:
        w, h = frame_size(res, portrait=False)
        out[res] = floor(width=w, height=h)
    return out


def _env_ints(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = os.environ.get(name)
    return tuple(int(x) for x in raw.split(",") if x.strip()) if raw else default


def run(
    points: tuple[int, ...] | None = None,
    seconds: float | None = None,
    trials: int | None = None,
    flood_seconds: float | None = None,
    resolutions: tuple[str, ...] | None = None,
) -> dict:
    env = os.environ.get
    points = points or _env_ints("YUNLIAN_BENCH_ROOMS", POINTS)
    seconds = seconds or float(env("YUNLIAN_BENCH_SECONDS", WINDOW_SECONDS))
    trials = trials if trials is not None else int(env("YUNLIAN_BENCH_TRIALS", FAILOVER_TRIALS))
    if flood_seconds is None:  # 0: no flood
        flood_seconds = float(env("YUNLIAN_BENCH_FLOOD_SECONDS", FLOOD_SECONDS))
    resolutions = resolutions or tuple(
        env("YUNLIAN_BENCH_RESOLUTIONS", ",".join(RESOLUTIONS)).split(",")
    )
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()},
        "settings": {
            "points": points,
            "window_seconds": seconds,
            "failover_trials": trials,
            "flood_seconds": flood_seconds,
            "fps": 25,
            "sizes": {r: frame_size(r, portrait=False) for r in resolutions},
        },
        "floor": _floors(resolutions),
    }
    for res in resolutions:
        results[res] = {
            name: curve(workers, res, points, seconds) for name, workers in LAYOUTS.items()
        }
    results["floor_after"] = _floors(resolutions)
    if trials:
        results["failover"] = {
            "two_workers_and_a_spare": failover(2, trials),
            "one_worker_and_a_spare": failover(1, trials),
        }
    if flood_seconds:
        results["flood"] = {
            "one_process": bench_flood.measure(True, workers=0, flood_seconds=flood_seconds),
            "two_workers": bench_flood.measure(True, workers=2, flood_seconds=flood_seconds),
            "target_fps_with_workers": TARGET_FLOOD_FPS,
        }
        _say(f"flood: {summary(results, ())['flood fps (min 10-s)']}")
    results["load_at_end"] = os.getloadavg()
    results["summary"] = summary(results, resolutions)
    return results


def summary(results: dict, resolutions: tuple[str, ...]) -> dict:
    out: dict = {}
    for res in resolutions:
        floor_cores = results["floor"][res]["cores"]
        for name in LAYOUTS:
            c = results[res][name]
            out[f"{res} {name}"] = {
                n: v["error"]
                if "error" in v
                else (
                    f"{v['server_cores']} cores ({v['cores_per_room'] / floor_cores:.2f}× floor a room), "
                    f"cores busy {v['machine_per_core_busy']}, worst {v['worst_room_fps_10s']} fps, "
                    f"{v['late_pct_10s']} % late"
                )
                for n, v in c["rooms"].items()
            }
            key = f"most_rooms_with_at_most_{TARGET_LATE_PCT:g}pct_late"
            out[f"{res} {name} {key}"] = c[key]
    if "failover" in results:
        out["failover p50/max s"] = {
            k: [v["p50_s"], v["max_s"], f"{v['failed']} failed of {v['trials']}"]
            for k, v in results["failover"].items()
        }
    if "flood" in results:
        out["flood fps (min 10-s)"] = {
            k: [v["flood_fps"], v["flood_min_fps_10s"]]
            for k, v in results["flood"].items()
            if isinstance(v, dict)
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", default=",".join(map(str, POINTS)), help="e.g. 2,4,6")
    parser.add_argument("--seconds", type=float, default=WINDOW_SECONDS)
    parser.add_argument("--trials", type=int, default=FAILOVER_TRIALS, help="0: no failover")
    parser.add_argument("--flood-seconds", type=float, default=FLOOD_SECONDS, help="0: none")
    parser.add_argument("--resolutions", default=",".join(RESOLUTIONS))
    args = parser.parse_args()
    out = run(
        points=tuple(int(x) for x in args.rooms.split(",")),
        seconds=args.seconds,
        trials=args.trials,
        flood_seconds=args.flood_seconds,
        resolutions=tuple(args.resolutions.split(",")),
    )
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
