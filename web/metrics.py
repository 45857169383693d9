"""`/metrics` in the Prometheus text format, produced by `prometheus-client`.

Room figures live with the rooms (in this process or in worker processes), so they are
read from `engine.metrics()` at scrape time by a custom collector: every series carries
`room` and `worker` labels, output series also `output`. Request latency is a real
`Histogram` observed by an ASGI layer in this process. Each app has its own registry, so
several apps in one process (tests) never share series."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ROOM_GAUGES = {
    "fps": ("fps", "frames a second over the last 10 s"),
    "skipped_frames_10s": ("skipped_frames", "late (skipped) video frames over the last 10 s"),
    "render_ms": ("render_ms", "render time per frame, moving average"),
    "encode_ms": ("encode_ms", "video encode time per frame, moving average"),
    "video_kbps": ("video_kbps", "video bitrate"),
    "viewers": ("viewers", "WebRTC viewers"),
}
ROOM_COUNTERS = {
    "frames": ("frames", "video frames drawn"),
    "skipped_frames": ("skipped_frames_total", "late (skipped) video frames"),
    "keyframes": ("keyframes", "keyframes encoded"),
    "viewer_drops": ("viewer_drops", "packets dropped for slow viewers"),
    "lines": ("lines", "lines spoken"),
    "fillers": ("fillers", "filler lines spoken while a backend was slow"),
}
OUTPUT_GAUGES = {
    "up": ("gauge", lambda o: int(o.get("state") == "live")),
    "kbps": ("gauge", lambda o: o.get("kbps", 0)),
}
OUTPUT_COUNTERS = {
    "reconnects": lambda o: o.get("reconnects", 0),
    "failures": lambda o: o.get("failures", 0),
    "dropped_ticks": lambda o: o.get("dropped_ticks", 0),
}


def worker_of(m: dict) -> dict[str, str]:
    """room id -> worker label ("main": rooms in the web process)."""
    out = {}
    for w in m.get("workers") or []:
        for rid in w.get("rooms", []):
            out[rid] = str(w["index"])
    return out


def _num(value) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


class EngineCollector:
    """Reads the engine's metrics once per scrape."""

    def __init__(self, engine_of) -> None:
        self._engine_of = engine_of  # () -> engine or None (before startup)

    def collect(self):
        engine = self._engine_of()
        if engine is None:
            return
        m = engine.metrics()
        workers = worker_of(m)
        rooms = m.get("rooms", {})
        labels = ["room", "worker"]

        yield GaugeMetricFamily("yunlian_sessions", "WebRTC viewer sessions", value=m["viewers"])
        for name, (key, doc) in ROOM_GAUGES.items():
            g = GaugeMetricFamily(f"yunlian_room_{name}", doc, labels=labels)
            for rid, s in rooms.items():
                g.add_metric([rid, workers.get(rid, "main")], _num(s.get(key)))
            yield g
        for name, (key, doc) in ROOM_COUNTERS.items():
            c = CounterMetricFamily(f"yunlian_room_{name}", doc, labels=labels)
            for rid, s in rooms.items():
                c.add_metric([rid, workers.get(rid, "main")], _num(s.get(key)))
            yield c

        onset = HistogramMetricFamily(
            "yunlian_answer_onset_seconds",
            "seconds from a question to the first sound of its spoken answer",
            labels=labels,
        )
        for rid, s in rooms.items():
            h = (s.get("answers") or {}).get("onset")
            if not h:
                continue
            cumulative, running = [], 0
            for bound, count in zip([*h["buckets"], float("inf")], h["counts"], strict=True):
                running += count
                cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
            onset.add_metric([rid, workers.get(rid, "main")], cumulative, h["sum"])
        yield onset

        out_labels = ["room", "worker", "output"]
        for name, (_kind, value) in OUTPUT_GAUGES.items():
            g = GaugeMetricFamily(
                f"yunlian_output_{name}", f"RTMP output {name}", labels=out_labels
            )
            for rid, s in rooms.items():
                for o in s.get("outputs", []):
                    g.add_metric([rid, workers.get(rid, "main"), o["id"]], _num(value(o)))
            yield g
        for name, value in OUTPUT_COUNTERS.items():
            c = CounterMetricFamily(
                f"yunlian_output_{name}", f"RTMP output {name}", labels=out_labels
            )
            for rid, s in rooms.items():
                for o in s.get("outputs", []):
                    c.add_metric([rid, workers.get(rid, "main"), o["id"]], _num(value(o)))
            yield c

        voice = m.get("voice", {})
        yield CounterMetricFamily(
            "yunlian_voice_fallbacks",
            "TTS calls served by a fallback voice",
            value=voice.get("fallbacks", 0),
        )
        failures = CounterMetricFamily(
            "yunlian_voice_failures", "TTS backend failures", labels=["backend"]
        )
        for backend, n in (voice.get("failures") or {}).items():
            failures.add_metric([str(backend)], _num(n))
        yield failures
        writer = CounterMetricFamily(
            "yunlian_writer_fallbacks",
            "lines and answers the template gave because the model backend failed or was late",
            labels=labels,
        )
        for rid, s in rooms.items():
            a = s.get("answers") or {}
            writer.add_metric(
                [rid, workers.get(rid, "main")],
                _num(a.get("writer_fallbacks")) + _num((s.get("writer") or {}).get("fallbacks")),
            )
        yield writer

        up = GaugeMetricFamily("yunlian_worker_up", "room worker process ready", labels=["worker"])
        for w in m.get("workers") or []:
            up.add_metric([str(w["index"])], 1.0 if w.get("ready") else 0.0)
        if not m.get("workers"):
            up.add_metric(["main"], 1.0)
        yield up
        yield CounterMetricFamily(
            "yunlian_worker_restarts",
            "room worker processes restarted",
            value=m.get("worker_restarts", 0),
        )
        yield CounterMetricFamily(
            "yunlian_events_dropped", "room events dropped", value=m.get("events_dropped", 0)
        )
        node = m.get("node")  # one node of several (streamer/nodes.py)
        if node:
            bus = node["bus"]
            for name, kind, value, doc in (
                ("rooms_held", "gauge", len(node["held"]), "rooms whose lease this node holds"),
                ("rooms_moving", "gauge", len(node["moving"]), "rooms being taken over"),
                ("database_ok", "gauge", int(node["database"]), "the lease database answers"),
                ("bus_connected", "gauge", int(bus["connected"]), "the Redis bus is connected"),
                ("bus_rejected", "counter", bus["bad_signature"], "bus messages rejected"),
                ("bus_send_failed", "counter", bus["send_failed"], "bus sends that failed"),
                ("takeovers", "counter", node["takeovers_total"], "rooms taken over"),
            ):
                family = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
                f = family(f"yunlian_node_{name}", doc, labels=["node"])
                f.add_metric([str(node["id"])], float(value))
                yield f


class Metrics:
    """One app's registry: the engine collector and the request-latency histogram."""

    def __init__(self, engine_of) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(EngineCollector(engine_of))
        self.requests = Histogram(
            "yunlian_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.requests_total = 0
        self.errors_total = 0  # 5xx answers: the alert's error rate

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestTimer:
    """ASGI layer: observes each HTTP request's latency by route template (bounded labels:
    an unmatched path counts as "other")."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = scope.get("route")
            path = getattr(route, "path", None) or "other"
            self.metrics.requests.labels(method, path, str(status)).observe(
                time.perf_counter() - started
            )
            self.metrics.requests_total += 1
            if status >= 500:
                self.metrics.errors_total += 1
