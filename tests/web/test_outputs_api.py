"""The outputs API: only the room's shop staff configure pushes, bad input gets a clear 4xx,
and a stream key goes in once and never comes back out (responses, stats, audit, logs)."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from testkit.livesrv import free_port
from web.settings import ConfigError, Settings

SECRET = "live_889900_Fuping-dates?expires=1790000000&sign=0a1b2c3d4e5f"


@pytest.fixture
async def http(live_server):
    async with httpx.AsyncClient(
        base_url=live_server.url, timeout=20, headers=live_server.headers("admin")
    ) as client:
        yield client


def _target(**extra) -> dict:
    # nothing listens there: the push only retries, which is all these tests need
    return {"url": f"rtmp://127.0.0.1:{free_port()}/live", "stream_key": SECRET, **extra}


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"url": "http://example.com/live", "stream_key": "k"}, "rtmp://"),
        ({"url": "rtmp://example.com", "stream_key": "k"}, "application path"),
        ({"url": "rtmp://a:b@example.com/live", "stream_key": "k"}, "user name"),
        ({"url": "rtmp://example.com/live", "stream_key": "含中文"}, "stream key"),
        ({"url": "rtmp://example.com/live", "stream_key": ""}, "stream_key"),
        ({"url": "rtmp://example.com/" + "a" * 600, "stream_key": "k"}, "url"),
        ({"url": "rtmp://example.com/live", "stream_key": "k" * 600}, "stream_key"),
        ({"url": "rtmp://example.com/live", "stream_key": "k", "name": "名" * 50}, "name"),
        ({"url": "rtmp://example.com/live", "stream_key": "k", "extra": 1}, "extra"),
        ({"url": "rtmp://example.com/live"}, "stream_key"),
        ([1, 2], "body"),
    ],
)
async def test_malformed_output_config_gets_a_4xx_with_its_reason(http, body, reason):
    res = await http.post("/api/rooms/demo/outputs", json=body)
    assert res.status_code == 422, res.text
    assert reason in res.json()["detail"]
    assert await _ids(http) == set()


async def test_output_of_a_room_that_is_not_live_is_404(http):
    res = await http.post("/api/rooms/no-such-room/outputs", json=_target())
    assert res.status_code == 404


async def _ids(http) -> set[str]:
    return {o["id"] for o in (await http.get("/api/rooms/demo/outputs")).json()}


async def test_stream_key_is_masked_everywhere_and_never_logged(live_server, http, caplog):
    caplog.set_level(logging.DEBUG)
    res = await http.post("/api/rooms/demo/outputs", json=_target(name="抖音"))
    assert res.status_code == 201, res.text
    out = res.json()
    try:
        assert out["stream_key"] == "****" + SECRET[-4:] and out["name"] == "抖音"
        assert out["state"] in ("connecting", "retrying")
        listed = (await http.get("/api/rooms/demo/outputs")).text
        stats = (await http.get("/api/rooms/demo")).text
        metrics = (await http.get("/metrics")).text
        api_metrics = (await http.get("/api/metrics")).text
        for text in (res.text, listed, stats, metrics, api_metrics):
            assert SECRET not in text and SECRET[:12] not in text
        up = f'yunlian_output_up{{output="{out["id"]}",room="demo",worker="main"}} 0.0'
        assert up in metrics
        audit = (await http.get("/api/audit", params={"limit": 20})).text
        assert "rooms.outputs" in audit and SECRET not in audit
    finally:
        res = await http.delete(f"/api/rooms/demo/outputs/{out['id']}")
        assert res.status_code == 200
    assert SECRET not in caplog.text and SECRET[:12] not in caplog.text
    assert (await http.delete(f"/api/rooms/demo/outputs/{out['id']}")).status_code == 404


async def test_a_fifth_output_is_refused_with_409(http):
    made = []
    try:
        for _ in range(4):
            res = await http.post("/api/rooms/demo/outputs", json=_target())
            assert res.status_code == 201, res.text
            made.append(res.json()["id"])
        res = await http.post("/api/rooms/demo/outputs", json=_target())
        assert res.status_code == 409 and "4" in res.json()["detail"]
    finally:
        for oid in made:
            await http.delete(f"/api/rooms/demo/outputs/{oid}")
    assert await _ids(http) == set()


@pytest.mark.parametrize(
    "role, shop, status",
    [(None, None, 401), ("cs", None, 403), ("ops", None, 403), ("operator", "other-farm", 403)],
)
async def test_only_the_rooms_own_merchants_configure_outputs(live_server, role, shop, status):
    headers = live_server.headers(role, shop_id=shop) if role else {}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers, timeout=20) as c:
        assert (await c.post("/api/rooms/demo/outputs", json=_target())).status_code == status
        assert (await c.get("/api/rooms/demo/outputs")).status_code == status
        assert (await c.delete("/api/rooms/demo/outputs/x")).status_code == status


async def test_an_operator_of_the_shop_manages_its_outputs(live_server):
    headers = live_server.headers("operator")
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers, timeout=20) as c:
        res = await c.post("/api/rooms/demo/outputs", json=_target())
        assert res.status_code == 201
        assert (await c.delete(f"/api/rooms/demo/outputs/{res.json()['id']}")).status_code == 200


async def test_hls_address_is_404_when_the_server_has_no_hls(http):
    async with httpx.AsyncClient(base_url=str(http.base_url)) as anonymous:
        res = await anonymous.get("/api/rooms/demo/hls")
    assert res.status_code == 404 and "HLS" in res.json()["detail"]


@pytest.mark.parametrize(
    "conf, reason",
    [
        ({"hls_push_url": "http://127.0.0.1/live"}, "rtmp://"),
        ({"hls_push_url": "rtmp://127.0.0.1"}, "application path"),
        ({"hls_url": "http://127.0.0.1:8080/hls/demo.m3u8"}, "{room_id}"),
    ],
)
def test_a_bad_hls_config_is_refused_at_start(tmp_path, conf, reason):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(conf))
    with pytest.raises(ConfigError, match=re.escape(reason)):
        Settings().load(path)
