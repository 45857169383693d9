"""Schemathesis over a live server: every operation of the OpenAPI schema, valid and invalid
inputs, each case sent once per role with that role's token. No answer may be a 5xx.

Shared by tests/web/test_fuzz_api.py and benchmarks/bench_fuzz.py, so the benchmark measures
exactly the run CI makes.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import hypothesis.strategies as st
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from streamer.room import RoomConfig
from testkit.livesrv import LiveServer

ROLES = ("admin", "operator", "cs", "ops", "anonymous")
CALL_TIMEOUT = 15.0  # seconds one request may take before the case counts as a failure
DEMO_ROOM = "demo"


@schemathesis.serializer("application/sdp")
def _sdp(ctx, value) -> bytes:
    """WHEP offers are text; the fuzzer's strings go out as the raw body."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)


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
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (seconds, operation)
    statuses: Counter = field(default_factory=Counter)  # answers by status code


def role_headers(srv: LiveServer) -> dict[str, dict[str, str]]:
    """Each role's `Authorization` header (anonymous: none)."""
    out = {role: srv.headers(role) for role in ROLES if role != "anonymous"}
    out["anonymous"] = {}
    return out


def reset_rooms(srv: LiveServer) -> None:
    """Undo what an admin's fuzzed calls did to the machine, not to the data: a simulator
    feeding the demo room up to 2,000 comments/s would slow every later operation, and a
    stopped demo room would leave the room routes only 404s to answer."""
    engine = srv.engine
    for room_id in list(engine.rooms):
        engine.simulate(room_id, 0)
        if room_id != DEMO_ROOM:
            srv.call(engine.stop_room(room_id))
    if DEMO_ROOM not in engine.rooms:
        srv.call(
            engine.start_room(
                RoomConfig(room_id=DEMO_ROOM, persona="xiaowang", title="阜平大枣直播间")
            )
        )


@dataclass
class Known:
    """Real ids of the live shop: random strings alone reach little past a 404."""

    path: dict[str, list[str]]  # path parameter -> real values
    skus: list[str]


def known_ids(srv: LiveServer) -> Known:
    """The demo catalog's SKUs and batches, and one real order with a started payment."""
    http = requests.Session()
    try:
        products = http.get(f"{srv.url}/api/shop/products", timeout=CALL_TIMEOUT).json()
        skus = [p["sku"] for p in products]
        batches = [p["batch_id"] for p in products if p.get("batch_id")]
        order = http.post(
            f"{srv.url}/api/shop/orders",
            json={
                "buyer": {"name": "测试", "phone": "13800000099", "address": "阜平县1号"},
                "items": [{"sku": skus[0], "quantity": 1}],
            },
            headers={"Idempotency-Key": "fuzz-order"},
            timeout=CALL_TIMEOUT,
        ).json()
        pay = http.post(
            f"{srv.url}/api/shop/orders/{order['id']}/payments",
            headers={"X-Order-Token": order["order_token"]},
            timeout=CALL_TIMEOUT,
        ).json()
    finally:
        http.close()
    return Known(
        path={
            "room_id": [DEMO_ROOM],
            "sku": skus,
            "batch_id": batches,
            "order_id": [order["id"]],
            "payment_id": [pay["payment_id"]],
        },
        skus=skus,
    )


def _with_known(case, known: Known, draw_index: int):
    """The case with real ids in its path and its body's "sku" fields (one pick per case)."""
    for name in list(case.path_parameters or {}):
        values = known.path.get(name)
        if values:
            case.path_parameters[name] = values[draw_index % len(values)]
    body = case.body
    sku = known.skus[draw_index % len(known.skus)]
    if isinstance(body, dict):
        if "sku" in body:
            body["sku"] = sku
        for money in ("price", "value", "min_spend"):
            if money in body:
                body[money] = "1"  # a price every product has, so the other fields decide
        for item in body.get("items") or []:
            if isinstance(item, dict) and "sku" in item:
                item["sku"] = sku
    return case


def _strategy(op, known: Known | None) -> st.SearchStrategy:
    """Valid and invalid cases, half of them aimed at real rooms, products and orders."""
    cases = st.one_of(
        op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)
    )
    if known is None:
        return cases
    aimed = st.tuples(cases, st.integers(0, 1000)).map(lambda t: _with_known(t[0], known, t[1]))
    return st.one_of(cases, aimed)


def fuzz(
    srv: LiveServer, max_examples: int = 8, seed: int = 16, only: str | None = None
) -> FuzzReport:
    """Run every operation of `srv`'s schema (or those whose label contains `only`); returns
    the report (never raises on a 5xx)."""
    t0 = time.monotonic()
    report = FuzzReport()
    schema = schemathesis.openapi.from_url(f"{srv.url}/openapi.json")
    headers = role_headers(srv)
    known = known_ids(srv)
    session = requests.Session()
    try:
        for result in schema.get_all_operations():
            try:
                op = result.ok()
            except Exception as exc:  # an operation the fuzzer cannot read is reported
                report.errors.append(f"schema: {exc}")
                continue
            if only and only not in op.label:
                continue
            report.operations += 1
            report.labels.append(op.label)
            started = time.monotonic()
            _fuzz_one(op, srv.url, headers, session, report, max_examples, seed, known)
            report.slowest.append((round(time.monotonic() - started, 2), op.label))
            reset_rooms(srv)
    finally:
        session.close()
    report.seconds = time.monotonic() - t0
    report.slowest = sorted(report.slowest, reverse=True)[:8]
    return report


def _fuzz_one(op, base_url, headers, session, report, max_examples, seed, known) -> None:
    seen: set[str] = set()

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=_strategy(op, known))
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
            report.statuses[res.status_code] += 1
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


FUZZ_EXAMPLES = 8  # generated cases a route, in the test and the benchmark
