"""Where the workers curve bends: the `workers` section's curve (2–16 rooms) never reached a
late frame on a quiet machine, so this runs the same measurement past it, without the
failover and flood parts.

Usage: python -m benchmarks.run workers_knee
       (rooms from YUNLIAN_BENCH_KNEE_ROOMS, default 20,24,28; both sizes; about 5 minutes)"""

from __future__ import annotations

import os

from benchmarks import bench_workers

KNEE_POINTS = (20, 24, 28)


def run() -> dict:
    raw = os.environ.get("YUNLIAN_BENCH_KNEE_ROOMS", "")
    points = tuple(int(x) for x in raw.split(",") if x.strip()) or KNEE_POINTS
    return bench_workers.run(points=points, trials=0, flood_seconds=0)
