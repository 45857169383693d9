"""`make bench`: run every benchmark section, print a table, write benchmarks/results.json.

Usage: python -m benchmarks.run [section ...]   (sections: media, scripts, commerce, workbench…)
A section that fails is recorded with its error; the others still run.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

SECTIONS = {
    "media": "benchmarks.bench_media",
    "scripts": "benchmarks.bench_scripts",
    "commerce": "benchmarks.bench_commerce",
    "analytics": "benchmarks.bench_analytics",
    "analytics_http": "benchmarks.bench_analytics_http",
    "analytics_probe": "benchmarks.bench_analytics_probe",
    "analytics_prices": "benchmarks.bench_analytics_prices",
    "danmaku": "benchmarks.bench_danmaku",
    "avatars": "benchmarks.bench_avatars",
    "answers": "benchmarks.bench_answers",
    "security": "benchmarks.bench_security",
    "facts": "benchmarks.bench_facts",
    "fuzz": "benchmarks.bench_fuzz",
    "flood": "benchmarks.bench_flood",
    "roomcost": "benchmarks.bench_roomcost",
    "rtmp": "benchmarks.bench_rtmp",
    "hls": "benchmarks.bench_hls",
    "janus": "benchmarks.bench_janus",
    "workers": "benchmarks.bench_workers",
    "workers_knee": "benchmarks.bench_workers_knee",
    "workbench": "benchmarks.bench_workbench",
    "ops": "benchmarks.bench_ops",
    "workbench_start": "benchmarks.bench_workbench_start",
    "workbench_lighthouse": "benchmarks.bench_lighthouse",
    "nodes": "benchmarks.bench_nodes",
}
RESULTS = Path(__file__).with_name("results.json")


def flatten(prefix: str, value: object, out: list[tuple[str, object]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append((prefix, value))


def main(argv: list[str]) -> int:
    wanted = argv or list(SECTIONS)
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        print(
            f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}",
            file=sys.stderr,
        )
        return 2
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    failed = False
    for name in wanted:
        print(f"== {name} ...", flush=True)
        t0 = time.monotonic()
        try:
            section = importlib.import_module(SECTIONS[name]).run()
        except Exception as exc:  # record and go on: one broken section must not hide the rest
            traceback.print_exc()
            section = {"error": repr(exc)}
            failed = True
        section["_seconds"] = round(time.monotonic() - t0, 1)
        results[name] = section
    results["_meta"] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    rows: list[tuple[str, object]] = []
    for name in wanted:
        flatten(name, results[name], rows)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {round(v, 4) if isinstance(v, float) else v}")
    print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
