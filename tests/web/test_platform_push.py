"""Replaying Douyin live-data pushes against a real server (issue 16, failure 4): a push
signed a week ago, a push for r1 sent to r2, an exact replay after 50,000 other messages,
and a replay after the server restarts. Each is refused with a reason and nothing is heard."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from danmaku.sources.douyin import sign
from testkit.livesrv import LiveServer

SECRET = "push-secret-枣乡"
ROOMS = {"r1": "dy-7300000001", "r2": "dy-7300000002"}  # our room -> its Douyin room


def headers_for(
    body: bytes,
    douyin_room: str,
    *,
    msg_type: str = "live_comment",
    at: float | None = None,
    nonce: str = "n0nce",
) -> dict[str, str]:
    h = {
        "x-msg-type": msg_type,
        "x-nonce-str": nonce,
        "x-roomid": douyin_room,
        "x-timestamp": str(int((time.time() if at is None else at) * 1000)),
        "content-type": "application/json",
    }
    h["x-signature"] = sign(h, body, SECRET)
    return h


def comments(*ids: str) -> bytes:
    now = int(time.time() * 1000)
    items = [
        {
            "msg_id": i,
            "sec_openid": "open-" + i,
            "content": "这枣甜吗",
            "nickname": "枣乡人",
            "timestamp": now,
        }
        for i in ids
    ]
    return json.dumps(items, ensure_ascii=False).encode()


def likes(ids: range, prefix: str) -> bytes:
    now = int(time.time() * 1000)
    items = [
        {"msg_id": f"{prefix}-{i}", "sec_openid": f"fan-{i}", "like_num": 1, "timestamp": now}
        for i in ids
    ]
    return json.dumps(items).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(
        tmp_path_factory.mktemp("push") / "yunlian.db",
        stamp=False,
        demo_room=False,
        douyin_secret=SECRET,
    ) as srv:
        admin = srv.headers("admin")
        for room, dy in ROOMS.items():
            res = httpx.post(
                srv.url + "/api/rooms",
                json={"room_id": room, "douyin_room_id": dy},
                headers=admin,
                timeout=30,
            )
            assert res.status_code == 201, res.text
        yield srv


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client  # no credentials: the platform signs, it does not log in


def heard(server, room: str) -> int:
    return server.engine.rooms[room].listener.stats.messages


async def test_a_push_signed_seven_days_ago_is_refused_with_a_reason(server, http):
    url = "/api/rooms/r1/platforms/douyin"
    before = heard(server, "r1")
    body = comments("week-old-1")
    week_ago = time.time() - 7 * 86400
    res = await http.post(url, content=body, headers=headers_for(body, ROOMS["r1"], at=week_ago))
    assert res.status_code == 401 and res.json()["reason"] == "stale"
    assert "过期" in res.json()["detail"]
    ahead = await http.post(
        url, content=body, headers=headers_for(body, ROOMS["r1"], at=time.time() + 3600)
    )
    assert ahead.status_code == 401 and ahead.json()["reason"] == "stale"
    for stamp in ("", "soon", "-1", "9" * 30, "1.7e12"):
        h = headers_for(body, ROOMS["r1"])
        h["x-timestamp"] = stamp
        h["x-signature"] = sign(h, body, SECRET)  # validly signed garbage is still refused
        res = await http.post(url, content=body, headers=h)
        assert res.status_code == 401 and res.json()["reason"] == "stale", stamp
    assert heard(server, "r1") == before
    # the same message pushed now is fresh: it was never marked as seen by the refusals
    fresh = await http.post(url, content=body, headers=headers_for(body, ROOMS["r1"]))
    assert fresh.status_code == 200 and fresh.json()["accepted"] == 1


async def test_a_push_for_r1_sent_to_r2_is_refused(server, http):
    body = comments("room-bound-1")
    for_r1 = headers_for(body, ROOMS["r1"])
    before = heard(server, "r2")
    res = await http.post("/api/rooms/r2/platforms/douyin", content=body, headers=for_r1)
    assert res.status_code == 403 and res.json()["reason"] == "wrong_room"
    assert ROOMS["r1"] in res.json()["detail"]
    assert heard(server, "r2") == before
    # a room id spoofed in an unsigned header breaks the signature instead
    spoofed = {**for_r1, "x-roomid": ROOMS["r2"]}
    res = await http.post("/api/rooms/r2/platforms/douyin", content=body, headers=spoofed)
    assert res.status_code == 401 and res.json()["reason"] == "bad_signature"
    ok = await http.post("/api/rooms/r1/platforms/douyin", content=body, headers=for_r1)
    assert ok.status_code == 200 and ok.json()["accepted"] == 1


async def test_an_exact_replay_after_50000_other_messages_is_still_refused(server, http):
    url = "/api/rooms/r1/platforms/douyin"
    body = comments("replayed-1")
    captured = headers_for(body, ROOMS["r1"])
    first = await http.post(url, content=body, headers=captured)
    assert first.status_code == 200 and first.json()["accepted"] == 1
    for n in range(25):  # 25 pushes of 2,000 likes: 50,000 other message ids
        filler = likes(range(n * 2000, (n + 1) * 2000), "flood")
        res = await http.post(
            url, content=filler, headers=headers_for(filler, ROOMS["r1"], msg_type="live_like")
        )
        assert res.status_code == 200 and res.json()["accepted"] == 2000
    before = heard(server, "r1")
    again = await http.post(url, content=body, headers=captured)  # byte for byte the same
    assert again.status_code == 200
    assert again.json() == {"received": 1, "accepted": 0, "duplicates": 1}
    assert heard(server, "r1") == before


async def test_a_push_carrying_an_already_seen_id_among_new_ones_hears_only_the_new(server, http):
    url = "/api/rooms/r1/platforms/douyin"
    a = comments("mix-1", "mix-2")
    assert (await http.post(url, content=a, headers=headers_for(a, ROOMS["r1"]))).json()[
        "accepted"
    ] == 2
    b = comments("mix-2", "mix-3", "mix-3")
    res = await http.post(url, content=b, headers=headers_for(b, ROOMS["r1"], nonce="n2"))
    assert res.json() == {"received": 3, "accepted": 1, "duplicates": 2}


def test_a_replay_is_refused_after_the_server_restarts(tmp_path):
    db = tmp_path / "yunlian.db"
    body = comments("before-restart-1")
    settings = {"douyin_secret": SECRET, "douyin_rooms": {"demo": "dy-demo"}, "stamp": False}
    url = "/api/rooms/demo/platforms/douyin"
    with LiveServer(db, **settings) as srv:
        captured = headers_for(body, "dy-demo")
        res = httpx.post(srv.url + url, content=body, headers=captured, timeout=30)
        assert res.status_code == 200 and res.json()["accepted"] == 1
    with LiveServer(db, **settings) as srv:
        before = srv.engine.rooms["demo"].listener.stats.messages
        res = httpx.post(srv.url + url, content=body, headers=captured, timeout=30)
        assert res.status_code == 200 and res.json()["duplicates"] == 1
        assert res.json()["accepted"] == 0
        assert srv.engine.rooms["demo"].listener.stats.messages == before
        new = comments("after-restart-1")
        res = httpx.post(
            srv.url + url, content=new, headers=headers_for(new, "dy-demo"), timeout=30
        )
        assert res.json()["accepted"] == 1


def test_the_freshness_window_and_room_bindings_are_configured_and_checked(tmp_path):
    from web.settings import ConfigError, Settings

    path = tmp_path / "c.json"
    path.write_text(json.dumps({"push_window": 120, "douyin_rooms": {"demo": "dy-1"}}))
    s = Settings()
    s.load(path)
    assert (s.push_window, s.douyin_rooms) == (120, {"demo": "dy-1"})
    for bad in (
        {"push_window": 0},
        {"push_window": "300"},
        {"push_window": 10**9},
        {"douyin_rooms": ["dy-1"]},
        {"douyin_rooms": {"demo": 7}},
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(ConfigError):
            Settings().load(path)
