"""Schemathesis over a live server: every operation of the OpenAPI schema, valid and invalid
inputs, each case sent once per role with that role's token. No answer may be a 5xx.

Shared by tests/web/test_fuzz_api.py and benchmarks/bench_fuzz.py, so the benchmark measures
exactly the run CI makes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import hypothesis
import hypothesis.strategies as st
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from tests.livesrv import LiveServer

ROLES = ("admin", "operator", "cs", "ops", "anonymous")
CALL_TIMEOUT = 15.0  # seconds one request may take before the case counts as a failure
# Generated ids rarely name the demo room; these paths do, so room routes are reached too.
DEMO_ROOM = "demo"


@dataclass
class FuzzReport:
    """What one run did: operations, cases generated, requests sent, and every 5xx seen."""

    operations: int = 0
    cases: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # operations the fuzzer could not run
    labels: list[str] = field(default_factory=list)
    seconds: float = 0.0


def role_headers(srv: LiveServer) -> dict[str, dict[str, str]]:
    """Each role's `Authorization` header (anonymous: none)."""
    out = {role: srv.headers(role) for role in ROLES if role != "anonymous"}
    out["anonymous"] = {}
    return out


def _strategy(op) -> st.SearchStrategy:
    """Valid and invalid cases; the demo room's id is one of the room ids tried."""
    modes = [op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)]
    if any(p.name == "room_id" for p in op.path_parameters):
        modes.append(
            op.as_strategy(GenerationMode.POSITIVE, path_parameters={"room_id": DEMO_ROOM})
        )
    return st.one_of(*modes)


def fuzz(srv: LiveServer, max_examples: int = 8, seed: int = 16) -> FuzzReport:
    """Run every operation of `srv`'s schema; returns the report (never raises on a 5xx)."""
    t0 = time.monotonic()
    report = FuzzReport()
    schema = schemathesis.openapi.from_url(f"{srv.url}/openapi.json")
    headers = role_headers(srv)
    session = requests.Session()
    try:
        for result in schema.get_all_operations():
            try:
                op = result.ok()
            except Exception as exc:  # an operation the fuzzer cannot read is reported
                report.errors.append(f"schema: {exc}")
                continue
            report.operations += 1
            report.labels.append(op.label)
            _fuzz_one(op, srv.url, headers, session, report, max_examples, seed)
    finally:
        session.close()
    report.seconds = time.monotonic() - t0
    return report


def _fuzz_one(op, base_url, headers, session, report, max_examples, seed) -> None:
    seen: set[str] = set()

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=_strategy(op))
    def run(case) -> None:
        report.cases += 1
        for role, auth in headers.items():
            report.requests += 1
            try:
                res = case.call(
                    base_url=base_url, session=session, headers=auth, timeout=CALL_TIMEOUT
                )
            except requests.RequestException as exc:
                _note(report, seen, f"{op.label} as {role}: no answer ({type(exc).__name__})")
                continue
            if res.status_code >= 500:
                _note(
                    report,
                    seen,
                    f"{op.label} as {role}: {res.status_code} {res.text[:200]!r}\n"
                    f"    {case.as_curl_command(headers=auth)[:600]}",
                )

    try:
        hypothesis.seed(seed)(run)()
    except Exception as exc:  # a strategy that cannot be built is an error, not a skip
        report.errors.append(f"{op.label}: {type(exc).__name__}: {str(exc)[:300]}")


def _note(report: FuzzReport, seen: set[str], line: str) -> None:
    key = line.split("\n")[0][:120]
    if key not in seen:
        seen.add(key)
        report.failures.append(line)
