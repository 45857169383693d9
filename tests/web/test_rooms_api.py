"""Rooms REST and WHEP endpoints: lifecycle and hostile input."""

import httpx
import pytest

from testkit.whep import WhepViewer

VALID_SDP_HEAD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


@pytest.fixture
async def http(live_server):
    async with httpx.AsyncClient(
        base_url=live_server.url, timeout=20, headers=live_server.headers("admin")
    ) as client:
        yield client


async def _offer(http, body, ctype="application/sdp", room="demo"):
    return await http.post(f"/api/rooms/{room}/whep", content=body, headers={"Content-Type": ctype})


async def test_demo_room_is_listed_live(http):
    rooms = (await http.get("/api/rooms")).json()
    demo = next(r for r in rooms if r["room_id"] == "demo")
    assert demo["live"] is True and demo["persona"] == "xiaowang"


@pytest.mark.parametrize(
    "body, reason",
    [
        ("", "not an SDP offer"),
        ("hello world", "not an SDP offer"),
        (VALID_SDP_HEAD, "no audio or video"),
        (VALID_SDP_HEAD + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", "H.264"),
        (VALID_SDP_HEAD + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n", "Opus"),
        (
            VALID_SDP_HEAD
            + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\na=garbage\r\n",
            "ICE credentials",
        ),
    ],
)
async def test_malformed_offers_get_400_with_a_reason(http, body, reason):
    res = await _offer(http, body)
    assert res.status_code == 400
    assert reason in res.json()["detail"]


async def test_offer_with_wrong_content_type_gets_415(http):
    res = await _offer(http, "v=0\r\n", ctype="application/json")
    assert res.status_code == 415
    assert "application/sdp" in res.json()["detail"]


async def test_offer_to_unknown_room_gets_404(http):
    res = await _offer(http, "v=0\r\n", room="nope")
    assert res.status_code == 404


async def test_oversized_offer_gets_413_without_being_buffered(http):
    res = await _offer(http, "v=0\r\n" + "a=x\r\n" * 40_000)
    assert res.status_code == 413


async def test_offer_that_is_not_utf8_gets_400(http):
    res = await _offer(http, b"v=0\r\n\xff\xfe\xfa")
    assert res.status_code == 400


async def test_deleting_an_unknown_session_gets_404(http):
    res = await http.delete("/api/rooms/demo/whep/does-not-exist")
    assert res.status_code == 404


async def test_trickle_ice_patch_is_refused_cleanly(http):
    res = await http.patch(
        "/api/rooms/demo/whep/x",
        content="a=candidate:1",
        headers={"Content-Type": "application/trickle-ice-sdpfrag"},
    )
    assert res.status_code == 405


@pytest.mark.parametrize(
    "body, status",
    [
        ({"room_id": "bad id!", "persona": "xiaowang"}, 422),
        ({"room_id": "x" * 65}, 422),
        ({"room_id": "ok", "persona": "nobody"}, 400),
        ({"room_id": "demo"}, 409),
        ({"room_id": "ok", "title": "长" * 500}, 422),
    ],
)
async def test_bad_room_starts_are_refused_with_a_reason(http, body, status):
    res = await http.post("/api/rooms", json=body)
    assert res.status_code == status
    assert res.json()["detail"]


async def test_malformed_json_room_start_gets_422(http):
    res = await http.post(
        "/api/rooms", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert res.status_code == 422


async def test_start_watch_and_stop_a_second_room(live_server, http):
    res = await http.post(
        "/api/rooms", json={"room_id": "li-apples", "persona": "xiaoli", "lineup": ["fp-apple-5kg"]}
    )
    assert res.status_code == 201
    v = WhepViewer(live_server.url, room_id="li-apples")
    await v.connect()
    try:
        await v.wait_frames(video=10, audio=20)
    finally:
        await v.close()
    stats = (await http.get("/api/rooms/li-apples")).json()
    assert stats["current_sku"] == "fp-apple-5kg" and stats["persona"] == "xiaoli"
    assert (await http.post("/api/rooms/li-apples/stop")).status_code == 200
    assert (await http.get("/api/rooms/li-apples")).status_code == 404
    assert (await http.post("/api/rooms/li-apples/stop")).status_code == 404


async def test_metrics_are_exposed_for_ops(http):
    m = (await http.get("/api/metrics")).json()
    assert m["rooms"]["demo"]["frames"] > 0
    text = (await http.get("/metrics")).text
    assert 'yunlian_room_fps{room="demo",worker="main"}' in text


async def test_pages_are_served_in_chinese(http):
    for path in ("/", "/panel", "/rooms/demo"):
        res = await http.get(path)
        assert res.status_code == 200 and 'lang="zh-CN"' in res.text
