"""The cost of the API fuzz run CI makes (tests/web/test_fuzz_api.py): Schemathesis over every
operation of the OpenAPI schema, each case sent once per role, against a live server.

Reports wall time, the CPU seconds of this process (client and server share it: the server
runs in a thread), cases generated, requests sent, and any 5xx found (the test allows none).
Run alone: python -m benchmarks.run fuzz
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import psutil


def run() -> dict:
    from testkit.fuzzing import FUZZ_EXAMPLES, fuzz
    from testkit.livesrv import LiveServer

    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        with LiveServer(
            Path(tmp) / "fuzz.db", stamp=False, max_rooms=2, max_rooms_per_operator=1
        ) as srv:
            cpu0 = sum(proc.cpu_times()[:2])
            t0 = time.monotonic()
            report = fuzz(srv, max_examples=FUZZ_EXAMPLES)
            wall = time.monotonic() - t0
            cpu = sum(proc.cpu_times()[:2]) - cpu0
    return {
        "operations": report.operations,
        "roles": 5,
        "examples_per_operation": FUZZ_EXAMPLES,
        "cases": report.cases,
        "requests": report.requests,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "requests_per_s": round(report.requests / wall, 1) if wall else None,
        "server_errors": len(report.failures),
        "fuzzer_errors": len(report.errors),
        "statuses": {str(k): v for k, v in sorted(report.statuses.items())},
        "slowest_operations": {label: s for s, label in report.slowest[:5]},
    }
