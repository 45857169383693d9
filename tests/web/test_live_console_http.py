"""The live console and the ticket desk over plain HTTP and the room's events socket: who may
open what (failing closed for other shops' rooms and rooms not live), take-over lines spoken
or refused with their reasons, hostile input refused with a 4xx, the answer modes, the GMV of
the session, and a complaint's ticket answered into the viewer's chat."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import timedelta

import httpx
import pytest
import websockets
from sqlalchemy import update

from commerce.models import Ticket
from commerce.orders import LineRequest, OrderRequest
from testkit.livesrv import LiveServer

ROOM = "demo"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("console")
    with LiveServer(root / "y.db", stamp=False, media_dir=str(root / "m")) as srv:
        srv.call(srv.store.rooms.claim("rival-room", "shop-b", by="rival", live=False))
        srv.call(srv.store.rooms.claim("quiet-room", "default", by="system", live=False))
        yield srv


def client(server, role: str | None = "operator", shop: str | None = None) -> httpx.AsyncClient:
    headers = server.headers(role, shop) if role else {}
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30)


def ws_url(server, room: str = ROOM) -> str:
    return server.url.replace("http://", "ws://") + f"/api/rooms/{room}/events"


async def next_event(ws, kind: str, timeout: float = 20.0, where=lambda ev: True) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} event within {timeout} s")
        ev = json.loads(await asyncio.wait_for(ws.recv(), left))
        if ev["type"] == kind and where(ev):
            return ev


async def until(check, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout} s")


# --- who may open the console ---------------------------------------------------------------


async def test_console_is_for_the_rooms_own_shop_and_fails_closed(server):
    async with client(server, None) as anon:
        assert (await anon.get(f"/api/rooms/{ROOM}/console")).status_code == 401
        res = await anon.post(f"/api/rooms/{ROOM}/takeover", json={"text": "大家好"})
        assert res.status_code == 401
        page = await anon.get(f"/workbench/live/{ROOM}", headers={"Accept": "text/html"})
        assert page.status_code == 303 and "/login?next=" in page.headers["location"]
    for role in ("ops", "cs"):  # watchers and service staff do not run the host
        async with client(server, role) as http:
            assert (await http.get(f"/api/rooms/{ROOM}/console")).status_code == 403
            res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": "大家好"})
            assert res.status_code == 403
            assert (await http.get(f"/workbench/live/{ROOM}")).status_code == 403
    async with client(server, "operator", "shop-b") as other:  # another shop's operator
        for path in (f"/workbench/live/{ROOM}", f"/api/rooms/{ROOM}/console"):
            assert (await other.get(path)).status_code == 403
        res = await other.post(f"/api/rooms/{ROOM}/takeover", json={"text": "大家好"})
        assert res.status_code == 403
        res = await other.post(f"/api/rooms/{ROOM}/answer-mode", json={"mode": "muted"})
        assert res.status_code == 403
    async with client(server) as http:
        # another shop's room (registered, not live), an unknown room, our own room not live
        assert (await http.get("/workbench/live/rival-room")).status_code == 403
        assert (await http.get("/api/rooms/rival-room/console")).status_code == 403
        assert (await http.get("/workbench/live/no-such-room")).status_code == 404
        res = await http.post("/api/rooms/no-such-room/takeover", json={"text": "大家好"})
        assert res.status_code == 404
        page = await http.get("/workbench/live/quiet-room")
        assert page.status_code == 404 and "没有在直播" in page.text
        assert (await http.get("/api/rooms/quiet-room/console")).status_code == 404
        res = await http.post("/api/rooms/quiet-room/takeover", json={"text": "大家好"})
        assert res.status_code == 404
        page = await http.get(f"/workbench/live/{ROOM}")
        assert page.status_code == 200 and 'id="video"' in page.text
        assert "/static/whep.js" in page.text and 'id="takeover-form"' in page.text
        rooms = await http.get("/workbench/live")
        assert rooms.status_code == 200 and f'href="/workbench/live/{ROOM}"' in rooms.text


# --- take-over -------------------------------------------------------------------------------


async def test_takeover_is_spoken_as_a_takeover_line(server):
    async with client(server) as http, websockets.connect(ws_url(server)) as ws:
        await next_event(ws, "hello")
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": "家人们好，大枣29.9元"})
        assert res.status_code == 202, res.text
        out = res.json()
        assert out["accepted"] and out["sku"] == "fp-jujube-500g" and out["reasons"] == []
        line = await next_event(ws, "line", where=lambda e: e["kind"] == "takeover")
        assert line["text"] == out["text"] and "29.9" in line["text"]
        snap = (await http.get(f"/api/rooms/{ROOM}/console")).json()
        assert snap["takeovers"] >= 1


async def test_a_flood_of_takeovers_waits_its_turn(server):
    line = "家人们好，欢迎来到阜平大枣直播间，今天的大枣又甜又脆，喜欢的朋友点点关注"
    async with client(server) as http:
        codes = [
            (await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": line})).status_code
            for _ in range(8)
        ]
        assert codes[0] == 202 and 429 in codes and set(codes) <= {202, 429}, codes
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": line})
        if res.status_code == 429:
            assert res.headers["retry-after"] and "请稍后再发" in res.json()["detail"]
    room = server.engine.rooms[ROOM]
    assert room.timeline.pending("takeover") <= 3
    async with client(server) as http:  # sent at once: still no more than 3 waiting
        codes = await asyncio.gather(
            *(http.post(f"/api/rooms/{ROOM}/takeover", json={"text": line}) for _ in range(8))
        )
    assert {r.status_code for r in codes} <= {202, 429}
    assert room.timeline.pending("takeover") <= 3

    async def drained():
        return room.timeline.pending("takeover") == 0

    await until(drained, 60, "take-over lines said")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("大枣今天只要9.9元", "价格 9.9 元不是本店商品的价格"),
        ("全网最好的大枣", "绝对化用语"),
        ("吃大枣能治高血压", "安全规则"),
    ],
)
async def test_takeover_the_shop_cannot_stand_behind_is_refused_with_reasons(server, text, reason):
    before = server.engine.rooms[ROOM].director.takeovers
    async with client(server) as http:
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": text})
    assert res.status_code == 422, res.text
    body = res.json()
    assert body["accepted"] is False and any(reason in r for r in body["reasons"])
    assert reason in body["detail"] or any(reason in r for r in body["reasons"])
    assert server.engine.rooms[ROOM].director.takeovers == before  # nothing was said


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "   "},
        {"text": "枣" * 121},  # longer than a take-over line
        {"text": "枣" * 100_000},
        {"text": 5},
        {"text": None},
        {"text": ["大枣"]},
        {},
        {"text": "大家好", "priority": "urgent"},
        {"text": "大家\x00好"},
        {"text": "大家好\u202e反转"},
    ],
)
async def test_malformed_takeover_gets_a_4xx_with_a_reason(server, body):
    async with client(server) as http:
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json=body)
    assert 400 <= res.status_code < 500 and res.status_code != 404, res.text
    assert res.json()["detail"]


async def test_raw_garbage_bodies_are_refused(server):
    async with client(server) as http:
        for raw, ctype in (
            (b"not json", "application/json"),
            (b'{"text": "\xff\xfe"}', "application/json"),
            (b"[" * 5000, "application/json"),
            ("大家好".encode(), "text/plain"),
            (b"{" + b'"a":' * 10 + b"1}", "application/json"),
        ):
            res = await http.post(
                f"/api/rooms/{ROOM}/takeover", content=raw, headers={"Content-Type": ctype}
            )
            assert 400 <= res.status_code < 500, (raw[:20], res.status_code)
        res = await http.post(
            f"/api/rooms/{ROOM}/takeover",
            content=b'{"text": "' + "枣".encode() * 400_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert res.status_code == 413
        assert (await http.get(f"/api/rooms/{ROOM}/console")).status_code == 200
    assert server.engine.rooms[ROOM].running


async def test_a_session_without_its_csrf_token_cannot_take_over(server):
    name, password = server.user("operator")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        res = await http.post("/api/auth/login", json={"username": name, "password": password})
        assert res.status_code == 200, res.text
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": "大家好"})
        assert res.status_code == 403
        csrf = (await http.get("/api/auth/me")).json().get("csrf")
        res = await http.post(
            f"/api/rooms/{ROOM}/takeover", json={"text": "大家好"}, headers={"X-CSRF-Token": csrf}
        )
        assert res.status_code == 202, res.text


# --- answer modes ----------------------------------------------------------------------------


async def test_answer_modes_text_only_muted_and_back(server):
    director = server.engine.rooms[ROOM].director
    async with client(server) as http, websockets.connect(ws_url(server)) as ws:
        await next_event(ws, "hello")
        res = await http.post(
            f"/api/rooms/{ROOM}/answer-mode", json={"mode": "text", "minutes": 10}
        )
        assert res.status_code == 200, res.text
        assert res.json()["mode"] == "text" and 590 < res.json()["seconds_left"] <= 600
        text_only = director.stats.spoken["text_only"]
        await ws.send(json.dumps({"type": "danmaku", "nickname": "小李", "text": "核桃怎么保存？"}))
        ack = await next_event(ws, "danmaku_ack")
        assert ack["action"] in ("answer", "merged")
        reply = await next_event(ws, "reply", where=lambda e: ack["id"] in e["question_ids"])
        assert reply["text"]  # the text reply still comes
        await until(
            lambda: asyncio.sleep(0, director.stats.spoken["text_only"] > text_only),
            what="answer left unspoken",
        )
        snap = (await http.get(f"/api/rooms/{ROOM}/console")).json()
        assert snap["answer_mode"]["mode"] == "text"
        assert any("核桃" in a["question"] and a["text"] for a in snap["last_answers"]), snap

        res = await http.post(f"/api/rooms/{ROOM}/answer-mode", json={"mode": "muted"})
        assert res.json() == {"mode": "muted", "seconds_left": None}
        await ws.send(json.dumps({"type": "danmaku", "nickname": "小李", "text": "小米多少钱？"}))
        ack = await next_event(ws, "danmaku_ack")
        assert ack["intent"] == "question" and ack["action"] == "noted"

        res = await http.post(f"/api/rooms/{ROOM}/answer-mode", json={"mode": "spoken"})
        assert res.json()["mode"] == "spoken"
        await ws.send(json.dumps({"type": "danmaku", "nickname": "小李", "text": "板栗怎么吃？"}))
        ack = await next_event(ws, "danmaku_ack")
        assert ack["action"] in ("answer", "merged")


async def test_a_timed_mode_ends_by_itself(server):
    director = server.engine.rooms[ROOM].director
    director.set_answer_mode("muted", 0.001)  # 60 ms
    await until(lambda: asyncio.sleep(0, director.answer_mode == "spoken"), 5, "mode expiry")


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "shout"},
        {"mode": "muted", "minutes": 0},
        {"mode": "muted", "minutes": -5},
        {"mode": "muted", "minutes": 10**9},
        {"mode": "muted", "minutes": "10"},
        {"mode": "muted", "minutes": True},
        {"mode": 1},
        {},
        {"mode": "text", "extra": 1},
    ],
)
async def test_bad_answer_modes_get_a_reason(server, body):
    async with client(server) as http:
        res = await http.post(f"/api/rooms/{ROOM}/answer-mode", json=body)
    assert res.status_code == 422, res.text
    assert res.json()["detail"]
    assert server.engine.rooms[ROOM].director.answer_mode == "spoken"


# --- figures ---------------------------------------------------------------------------------


async def test_console_shows_the_sessions_gmv(server):
    async with client(server) as http:
        before = (await http.get(f"/api/rooms/{ROOM}/console")).json()
        store = server.store
        req = OrderRequest(
            buyer_id="",
            buyer_name="赵大",
            phone=f"137{secrets.randbelow(10**8):08d}",
            address="河北省保定市阜平县天生桥镇5号",
            items=(LineRequest("fp-walnut-500g", 2),),
            room_id=ROOM,
        )
        order, _ = server.call(store.orders.create(req, secrets.token_hex(8)))
        pay = server.call(store.payments.start(order["id"]))
        server.call(store.payments.confirm(pay["payment_id"]))
        after = (await http.get(f"/api/rooms/{ROOM}/console")).json()
    assert after["session"]["orders"] == before["session"]["orders"] + 1
    from decimal import Decimal

    gained = Decimal(after["session"]["gmv"]) - Decimal(before["session"]["gmv"])
    assert gained == Decimal(order["total"])
    assert after["viewers"] >= 0 and after["mood"]["label"] and after["title"]


# --- the ticket desk -------------------------------------------------------------------------


async def test_complaint_ticket_reply_reaches_the_viewer_in_the_room(server):
    async with websockets.connect(ws_url(server)) as viewer:
        me = (await next_event(viewer, "hello"))["viewer_id"]
        await viewer.send(
            json.dumps({"type": "danmaku", "nickname": "王大姐", "text": "上次买的大枣烂了好几个"})
        )
        ack = await next_event(viewer, "danmaku_ack")
        assert ack["intent"] == "complaint" and ack["action"] == "ticket"
        async with client(server, "cs") as cs:

            async def mine():
                rows = (await cs.get("/api/tickets", params={"room_id": ROOM})).json()
                return [t for t in rows if t["user_id"] == me]

            ticket = (await until(mine, what="ticket filed"))[0]
            assert ticket["due_at"] and ticket["assigned_to"] is None
            page = await cs.get("/workbench/tickets")
            assert page.status_code == 200 and f'data-ticket="{ticket["id"]}"' in page.text
            res = await cs.post(
                f"/api/tickets/{ticket['id']}/reply",
                json={"text": "您好，给您补发一箱，<b>请查收</b>"},
            )
            assert res.status_code == 200, res.text
            assert res.json()["reply"]["delivered"] is True
            assert res.json()["ticket"]["assigned_to"] == "cs-main"  # the replier took it
            assert res.json()["ticket"]["first_reply_at"]
            ev = await next_event(
                viewer, "cs_reply", where=lambda e: e["ticket_id"] == ticket["id"]
            )
            assert ev["text"] == "您好，给您补发一箱，<b>请查收</b>" and ev["to"] == [me]
    # the viewer has left: the reply is recorded, not delivered
    async with client(server, "cs") as cs:
        await asyncio.sleep(0.2)
        res = await cs.post(f"/api/tickets/{ticket['id']}/reply", json={"text": "还在吗？"})
        assert res.status_code == 200 and res.json()["reply"]["delivered"] is False
        got = (await cs.get(f"/api/tickets/{ticket['id']}")).json()
        assert [r["delivered"] for r in got["replies"]] == [True, False]
        res = await cs.post(f"/api/tickets/{ticket['id']}/close", json={"note": "已补发"})
        assert res.status_code == 200 and res.json()["closed_by"] == "cs-main"
        res = await cs.post(f"/api/tickets/{ticket['id']}/reply", json={"text": "再见"})
        assert res.status_code == 409


async def test_reply_to_another_viewer_does_not_reach_this_one(server):
    t = server.call(server.store.tickets.open(ROOM, "v-somebody-else", "甲", "complaint", "太慢"))
    async with websockets.connect(ws_url(server)) as viewer, client(server, "cs") as cs:
        await next_event(viewer, "hello")
        res = await cs.post(f"/api/tickets/{t.id}/reply", json={"text": "马上处理"})
        assert res.status_code == 200 and res.json()["reply"]["delivered"] is False
        with pytest.raises((AssertionError, TimeoutError)):
            await next_event(viewer, "cs_reply", timeout=1.0)


async def test_assign_sla_and_overdue_highlight(server):
    store = server.store
    old = server.call(store.tickets.open(ROOM, "v-late", "老李", "complaint", "发货太慢了"))
    fresh = server.call(store.tickets.open(ROOM, "v-new", "小新", "question", "几天能到"))

    async def age():
        async with store.db.write() as s:
            await s.execute(
                update(Ticket)
                .where(Ticket.id == old.id)
                .values(created_at=store.clock() - timedelta(minutes=25))
            )

    server.call(age())
    server.user("cs", name="cs-helper")
    server.user("ops", name="ops-watcher")
    async with client(server, "operator") as http:
        page = (await http.get("/workbench/tickets")).text
        start = page.index(f'data-ticket="{old.id}"')
        assert "overdue" in page[page.rindex("<li", 0, start) : start]
        start = page.index(f'data-ticket="{fresh.id}"')
        assert "overdue" not in page[page.rindex("<li", 0, start) : start]
        assert page.index(old.id) < page.index(fresh.id)  # overdue first
        res = await http.post(f"/api/tickets/{old.id}/assign", json={"assignee": "cs-helper"})
        assert res.status_code == 200 and res.json()["assigned_to"] == "cs-helper"
        for who in ("ops-watcher", "nobody-here", "x" * 500):
            res = await http.post(f"/api/tickets/{old.id}/assign", json={"assignee": who})
            assert res.status_code == 422, (who, res.text)
        res = await http.post(f"/api/tickets/{old.id}/assign", json={"assignee": ""})
        assert res.status_code == 200 and res.json()["assigned_to"] is None
        res = await http.post("/api/tickets/cs-000000000000/assign", json={"assignee": ""})
        assert res.status_code == 404
    async with client(server, "ops") as ops:
        assert (await ops.get("/workbench/tickets")).status_code == 403
        res = await ops.post(f"/api/tickets/{old.id}/reply", json={"text": "hi"})
        assert res.status_code == 403
    async with client(server, "cs", "shop-b") as other:
        assert (await other.get("/workbench/tickets")).status_code == 403
        res = await other.post(f"/api/tickets/{old.id}/reply", json={"text": "hi"})
        assert res.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "  "},
        {"text": "好" * 301},
        {"text": "好" * 100_000},
        {"text": 3},
        {"text": "a\x00b"},
        {},
        {"text": "ok", "by": "someone"},
    ],
)
async def test_bad_replies_get_a_reason(server, body):
    t = server.call(server.store.tickets.open(ROOM, "v-bad", "丙", "question", "有货吗"))
    async with client(server, "cs") as cs:
        res = await cs.post(f"/api/tickets/{t.id}/reply", json=body)
        assert res.status_code in (413, 422), res.text
        assert res.json()["detail"]
        got = (await cs.get(f"/api/tickets/{t.id}")).json()
        assert got["replies"] == [] and got["first_reply_at"] is None


async def test_hostile_ticket_text_is_shown_as_text(server):
    server.call(
        server.store.tickets.open(
            ROOM, "v-xss", "<img src=x onerror=alert(1)>", "complaint", "<script>alert(1)</script>"
        )
    )
    async with client(server, "cs") as cs:
        page = (await cs.get("/workbench/tickets")).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page
    async with client(server, "cs") as cs:
        assert (await cs.get("/workbench/tickets", params={"status": "<x>"})).status_code == 422
