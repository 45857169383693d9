"""`/metrics` from prometheus-client: parsed by its own parser, scraped by a real Prometheus
(Debian's `prometheus`, started here on loopback) and queried with PromQL."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit.livesrv import LiveServer, free_port
from testkit.nodes import wait_for

PROMETHEUS = "/usr/bin/prometheus"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("metrics") / "y.db") as srv:
        yield srv


def _families(srv) -> dict:
    res = httpx.get(srv.url + "/metrics", headers=srv.headers("ops"), timeout=10)
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(res.text)}


def test_metrics_parse_with_room_worker_output_labels_and_histograms(server):
    # a question gets a spoken answer: the onset histogram counts it
    res = httpx.post(
        server.url + "/api/rooms/demo/questions", json={"text": "核桃多少钱一斤"}, timeout=10
    )
    assert res.status_code in (200, 202)

    def answered():
        fam = _families(server)["yunlian_answer_onset_seconds"]
        counts = [s for s in fam.samples if s.name.endswith("_count")]
        return fam if counts and counts[0].value >= 1 else None

    onset = wait_for(answered, 40, "an answer onset observed")
    count = next(s for s in onset.samples if s.name.endswith("_count"))
    assert count.labels == {"room": "demo", "worker": "main"}
    total = next(s for s in onset.samples if s.name.endswith("_sum"))
    assert 0 < total.value < 30
    fams = _families(server)
    fps = fams["yunlian_room_fps"]
    assert fps.type == "gauge"
    assert {s.labels["room"] for s in fps.samples} == {"demo"}
    assert fams["yunlian_room_frames"].type == "counter"
    latency = fams["yunlian_http_request_duration_seconds"]
    assert latency.type == "histogram"
    routes = {s.labels["route"] for s in latency.samples}
    assert "/api/rooms/{room_id}/questions" in routes  # the route template, never a raw path
    assert "yunlian_output_up" in fams and "yunlian_worker_up" in fams


def test_metrics_need_a_watcher(server):
    assert httpx.get(server.url + "/metrics", timeout=10).status_code == 401
    cs = httpx.get(server.url + "/metrics", headers=server.headers("cs"), timeout=10)
    assert cs.status_code == 403


def test_a_real_prometheus_scrapes_and_answers_promql(server, tmp_path):
    token = server.headers("ops")["Authorization"].split(" ", 1)[1]
    target = server.url.removeprefix("http://")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "yunlian",
                        "metrics_path": "/metrics",
                        "authorization": {"type": "Bearer", "credentials": token},
                        "static_configs": [{"targets": [target]}],
                    }
                ],
            }
        )
    )
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "wb"),  # noqa: SIM115
    )
    try:
        api = f"http://127.0.0.1:{port}/api/v1"

        def fps():
            res = httpx.get(api + "/query", params={"query": 'yunlian_room_fps{room="demo"}'})
            data = res.json()["data"]["result"] if res.status_code == 200 else []
            return data or None

        result = wait_for(fps, 60, "Prometheus answering yunlian_room_fps")
        assert result[0]["metric"]["room"] == "demo"
        assert result[0]["metric"]["worker"] == "main"
        assert float(result[0]["value"][1]) > 0
        targets = httpx.get(api + "/targets", timeout=5).json()["data"]["activeTargets"]
        assert targets[0]["health"] == "up", targets
        # the histogram is usable from PromQL as a histogram
        q = "histogram_quantile(0.9, sum by (le) (yunlian_http_request_duration_seconds_bucket))"
        res = httpx.get(api + "/query", params={"query": q}, timeout=5).json()
        assert res["status"] == "success"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.returncode not in (0, -15):
            print((tmp_path / "prometheus.log").read_text()[-2000:])
