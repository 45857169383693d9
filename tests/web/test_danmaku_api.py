"""Danmaku over HTTP and the events WebSocket: the public contract, the platform push,
hostile text, merged questions, tickets, and mood in the room's stats."""

import asyncio
import json
import time

import httpx
import pytest
import websockets

from danmaku.sources.douyin import sign
from testkit.livesrv import LiveServer

SECRET = "push-secret-for-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(
        tmp_path_factory.mktemp("dm") / "yunlian.db",
        stamp=False,
        douyin_secret=SECRET,
        douyin_rooms={"demo": "7300000001"},  # the Douyin room bound to the demo room
    ) as srv:
        yield srv


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(
        base_url=server.url, timeout=20, headers=server.headers("admin")
    ) as client:
        await client.get("/rooms/demo")  # the viewer page issues this test's chat identity
        yield client


def ws_url(server, room="demo") -> str:
    return server.url.replace("http://", "ws://") + f"/api/rooms/{room}/events"


async def next_event(ws, kind: str, timeout: float = 10.0, where=lambda ev: True) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} event within {timeout} s")
        ev = json.loads(await asyncio.wait_for(ws.recv(), left))
        if ev["type"] == kind and where(ev):
            return ev


async def test_danmaku_contract_answers_202_with_analysis(http):
    res = await http.post(
        "/api/rooms/demo/danmaku", json={"user_id": "u-1", "nickname": "老张", "text": "上链接"}
    )
    assert res.status_code == 202
    body = res.json()
    assert set(body) >= {"id", "sentiment", "score", "intent", "action"}
    assert body["intent"] == "purchase" and body["sentiment"] in ("pos", "neu")
    assert -1 <= body["score"] <= 1


async def test_questions_alias_and_danmaku_share_one_path(server, http):
    res = await http.post("/api/rooms/demo/questions", json={"viewer_id": "u-2", "text": "包邮吗"})
    assert res.status_code == 200
    body = res.json()
    assert body["intent"] == "question" and body["text"]
    assert server.engine.rooms["demo"].listener.stats.comments >= 1


async def test_rate_limit_is_a_429_with_a_reason(http):
    codes = []
    for i in range(6):
        res = await http.post(
            "/api/rooms/demo/danmaku",
            json={"user_id": "speedy", "nickname": "快手", "text": f"好吃{i}号"},
        )
        codes.append(res.status_code)
    assert 429 in codes
    last = res.json()
    assert last["reason"] in ("rate_limited", "duplicate") or res.status_code == 202
    assert res.headers.get("retry-after") or res.status_code == 202


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "大\u200b枣\u200d好\ufeff吃",
        "😀" * 500,
        "\u202e反转文字",
    ],
)
async def test_hostile_text_is_refused_or_kept_as_plain_text(server, http, text):
    async with websockets.connect(ws_url(server)) as ws:
        await next_event(ws, "hello")
        user = f"h-{abs(hash(text)) % 10**8}"
        res = await http.post(
            "/api/rooms/demo/danmaku", json={"user_id": user, "nickname": "<b>x</b>", "text": text}
        )
        assert res.status_code in (202, 422), res.text
        if res.status_code == 202 and res.json()["action"] != "blocked":
            ev = await next_event(ws, "danmaku", where=lambda e: e["id"] == res.json()["id"])
            assert "\u200b" not in ev["text"] and "\u202e" not in ev["text"]
            assert len(ev["text"]) <= 100
            assert "<b>" not in ev["nickname"]  # names are said on air: letters only
    assert server.engine.rooms["demo"].running


@pytest.mark.parametrize(
    "body, status",
    [
        ({"user_id": "u", "text": "枣" * 100_000}, 422),
        ({"user_id": "u", "text": ""}, 422),
        ({"user_id": "u", "text": "   "}, 422),
        ({"user_id": "", "text": "你好"}, 422),
        ({"text": "你好"}, 422),
        ({"user_id": "u", "text": 5}, 422),
    ],
)
async def test_bad_danmaku_gets_a_reason(http, body, status):
    res = await http.post("/api/rooms/demo/danmaku", json=body)
    assert res.status_code in (status, 400), res.text
    assert res.json()["detail"]


async def test_invalid_utf8_and_non_json_bodies_are_refused(http):
    for raw in (b'{"user_id": "u", "text": "\xff\xfe"}', b"not json", b"\x00" * 10):
        res = await http.post(
            "/api/rooms/demo/danmaku", content=raw, headers={"Content-Type": "application/json"}
        )
        assert 400 <= res.status_code < 500
    assert (await http.get("/api/rooms/demo")).status_code == 200


async def test_danmaku_to_unknown_room_is_404(http):
    res = await http.post("/api/rooms/nope/danmaku", json={"user_id": "u", "text": "你好"})
    assert res.status_code == 404


async def test_websocket_chat_reaches_other_viewers_and_replies_reach_the_asker(server):
    async with websockets.connect(ws_url(server)) as a, websockets.connect(ws_url(server)) as b:
        hello_a = await next_event(a, "hello")
        await next_event(b, "hello")
        await a.send(json.dumps({"type": "danmaku", "nickname": "枣乡人", "text": "阜平大枣真甜"}))
        ack = await next_event(a, "danmaku_ack")
        seen = await next_event(b, "danmaku", where=lambda e: e["id"] == ack["id"])
        assert seen["nickname"] == "枣乡人" and seen["text"] == "阜平大枣真甜"
        assert "user_id" not in seen  # viewers never learn each other's ids

        await a.send(
            json.dumps({"type": "danmaku", "nickname": "枣乡人", "text": "核桃怎么保存？"})
        )
        ack = await next_event(a, "danmaku_ack")
        assert ack["intent"] == "question"
        reply = await next_event(a, "reply", where=lambda e: ack["id"] in e["question_ids"])
        assert reply["text"] and hello_a["viewer_id"] in reply["to"]
        with pytest.raises((AssertionError, TimeoutError)):
            await next_event(b, "reply", timeout=1.0)  # a reply is the asker's alone


async def test_websocket_refuses_garbage_without_closing(server):
    async with websockets.connect(ws_url(server)) as ws:
        await next_event(ws, "hello")
        for raw in ("not json", json.dumps([1, 2]), json.dumps({"type": "danmaku", "text": 5})):
            await ws.send(raw)
            assert (await next_event(ws, "danmaku_rejected"))["detail"]
        await ws.send("枣" * 5000)
        assert (await next_event(ws, "danmaku_rejected"))["reason"] == "too_long"
        await ws.send(json.dumps({"type": "danmaku", "nickname": "x", "text": "还能聊"}))
        await next_event(ws, "danmaku_ack")


async def test_same_question_from_many_viewers_is_answered_once_to_all(server, http):
    room = server.engine.rooms["demo"]

    def spoken() -> int:  # said (whole, shortened, merged) or, in a busy room, text only
        return sum(room.director.stats.spoken.values())

    spoken0 = spoken()
    answered0 = room.director.questions.stats.answered
    viewers = [httpx.AsyncClient(base_url=server.url, timeout=20) for _ in range(6)]
    try:
        for v in viewers:  # six browsers, six chat identities
            await v.get("/rooms/demo")
        results = await asyncio.gather(
            *(
                v.post("/api/rooms/demo/questions", json={"text": "香菇是野生的吗？"})
                for v in viewers
            )
        )
    finally:
        for v in viewers:
            await v.aclose()
    bodies = [r.json() for r in results]
    assert all(r.status_code == 200 for r in results)
    assert all(b["text"] for b in bodies), bodies
    assert len({b["text"] for b in bodies}) == 1
    await asyncio.sleep(1.0)
    assert room.director.questions.stats.answered - answered0 == 1
    assert spoken() - spoken0 == 1


async def test_quality_complaint_opens_a_ticket_that_persists(server, http):
    res = await http.post(
        "/api/rooms/demo/danmaku",
        json={"user_id": "angry-1", "nickname": "王大姐", "text": "上次买的大枣烂了好几个"},
    )
    assert res.status_code == 202
    assert res.json()["intent"] == "complaint" and res.json()["action"] == "ticket"
    me = http.cookies["yl_viewer"].split(".")[0]  # the ticket names the server-issued viewer
    for _ in range(50):
        tickets = (await http.get("/api/tickets", params={"room_id": "demo"})).json()
        if any(t["user_id"] == me for t in tickets):
            break
        await asyncio.sleep(0.1)
    mine = [t for t in tickets if t["user_id"] == me]
    assert mine and mine[0]["kind"] == "complaint" and mine[0]["reason"] == "quality"


def push_headers(body: bytes, msg_type: str = "live_comment", secret: str = SECRET) -> dict:
    h = {
        "x-msg-type": msg_type,
        "x-nonce-str": "n0nce",
        "x-roomid": "7300000001",
        "x-timestamp": str(int(time.time() * 1000)),
        "content-type": "application/json",
    }
    h["x-signature"] = sign(h, body, secret)
    return h


def comment_payload(msg_id: str, text: str = "主播好") -> bytes:
    item = {
        "msg_id": msg_id,
        "sec_openid": "open-" + msg_id,
        "content": text,
        "avatar_url": "",
        "nickname": "抖音用户",
        "timestamp": int(time.time() * 1000),
    }
    return json.dumps([item], ensure_ascii=False).encode()


async def test_platform_push_verifies_signature_and_accepts_each_id_once(server, http):
    body = comment_payload("m-1001")
    url = "/api/rooms/demo/platforms/douyin"
    first = await http.post(url, content=body, headers=push_headers(body))
    again = await http.post(url, content=body, headers=push_headers(body))
    assert first.status_code == 200 and first.json()["accepted"] == 1
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert again.json()["accepted"] == 0

    bad = await http.post(url, content=body, headers=push_headers(body, secret="wrong"))
    assert bad.status_code == 401 and bad.json()["detail"]
    unsigned = {k: v for k, v in push_headers(body).items() if k != "x-signature"}
    assert (await http.post(url, content=body, headers=unsigned)).status_code == 401

    for junk in (b"{not json", b'{"a": 1}', b'[{"msg_id": 5}]'):
        res = await http.post(url, content=junk, headers=push_headers(junk))
        assert res.status_code == 400 and res.json()["detail"], junk

    huge = b"[" + b" " * (300 * 1024) + b"]"
    assert (await http.post(url, content=huge, headers=push_headers(huge))).status_code == 413
    assert (await http.post("/api/rooms/demo/platforms/weibo", content=body)).status_code == 404


async def test_room_stats_carry_mood_delivery_and_moderation_counters(http):
    stats = (await http.get("/api/rooms/demo")).json()
    assert set(stats["mood"]) == {"score", "label", "intents"}
    assert set(stats["delivery"]) == {"expression", "rate", "pitch"}
    mod = stats["danmaku"]["moderation"]
    reasons = {k: v for k, v in mod.items() if k not in ("checked", "evicted_users")}
    assert sum(reasons.values()) == mod["checked"]


async def test_banned_words_are_editable_and_apply_at_once(http):
    res = await http.post("/api/rooms/demo/banned-words", json={"word": "烂苹果"})
    assert res.status_code == 201
    hit = await http.post(
        "/api/rooms/demo/danmaku", json={"user_id": "bw-1", "text": "你这是烂 苹 果吧"}
    )
    assert hit.json()["action"] == "blocked"
    assert "烂苹果" in (await http.get("/api/rooms/demo/banned-words")).json()
    assert (await http.delete("/api/rooms/demo/banned-words/烂苹果")).status_code == 200
    assert (await http.delete("/api/rooms/demo/banned-words/烂苹果")).status_code == 404


def test_a_recorded_room_replays_through_the_public_api(server, tmp_path):
    import subprocess
    import sys

    from danmaku.messages import Comment, Gift
    from danmaku.sources.replay import write_jsonl

    path = tmp_path / "room.jsonl"
    write_jsonl(
        [
            Comment("demo", f"r-{i}", f"回放{i}", text=t, ts=1000.0 + i * 0.01)
            for i, t in enumerate(["主播好", "大枣多少钱", "已拍", "好吃"])
        ]
        + [Gift("demo", "g-1", "送礼人", gift="小心心", ts=1000.1)],
        path,
    )
    with open(path, "ab") as f:
        f.write(b"{broken json\n\xff\xfe\n")
    before = server.engine.rooms["demo"].listener.stats.comments
    run = [sys.executable, "-m", "web.cli", "danmaku", "replay", str(path), "--url", server.url]
    out = subprocess.run([*run, "--speed", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "已发送 4 条" in out.stdout and "跳过格式错误的 2 行" in out.stdout
    assert server.engine.rooms["demo"].listener.stats.comments - before == 4
    bad = subprocess.run(
        [*run[:5], str(tmp_path / "missing.jsonl")], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "错误" in bad.stderr
    nope = subprocess.run(
        [*run, "--room", "nope", "--speed", "0"], capture_output=True, text=True, timeout=60
    )
    assert nope.returncode == 2 and "错误" in nope.stderr
