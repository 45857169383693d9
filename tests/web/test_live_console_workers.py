"""The live console with rooms in a worker process (YUNLIAN_WORKERS=1): take-over and the
answer mode cross the bus as typed operations, the line is checked against the facts its
room holds in the worker, and a ticket reply still reaches the viewer (events fan out from
the web process). In Chromium, the console plays the room and its take-over is spoken."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from streamer.bus import OPS, check_args
from streamer.engine_base import EngineError
from testkit.livesrv import LiveServer
from tests.web.test_live_console_chromium import console_plays_and_takes_over
from tests.web.test_live_console_http import next_event, until, ws_url
from tests.web.test_workbench_chromium import browser, signed_in
from web.settings import Settings

ROOM = "demo"


@pytest.fixture(scope="module")
def server(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("YUNLIAN_WORKERS", "1")
    workers = Settings.from_env().workers
    assert workers == 1
    root = tmp_path_factory.mktemp("console-workers")
    with LiveServer(root / "y.db", stamp=False, workers=workers) as srv:
        yield srv


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_console_operations_are_typed_bus_operations():
    assert {"take_over", "set_answer_mode"} <= OPS
    check_args("take_over", ("demo", "大家好"))
    check_args("set_answer_mode", ("demo", "muted", 10))
    check_args("set_answer_mode", ("demo", "spoken", None))
    for op, args in (
        ("take_over", ("demo",)),
        ("take_over", ("demo", 5)),
        ("take_over", ("demo", b"bytes")),
        ("set_answer_mode", ("demo", "muted", "10")),
        ("set_answer_mode", ("demo", "muted", True)),
        ("set_answer_mode", ("demo", None, 5)),
    ):
        with pytest.raises(EngineError):
            check_args(op, args)


async def test_a_badly_typed_call_is_refused_by_the_worker(server):
    handle = server.engine.placement[ROOM]

    async def call():
        return await server.engine._call(handle, "take_over", ROOM, 12345)

    with pytest.raises(EngineError, match="bad arguments"):
        server.call(call())
    assert handle.alive


async def test_takeover_and_answer_mode_cross_the_bus(server):
    assert server.engine.placement[ROOM].pid  # the room lives in a worker process
    async with (
        httpx.AsyncClient(base_url=server.url, headers=server.headers("operator")) as http,
        websockets.connect(ws_url(server)) as ws,
    ):
        await next_event(ws, "hello")
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": "大枣今天只要9.9元"})
        assert res.status_code == 422 and "价格 9.9 元不是本店商品的价格" in res.json()["reasons"]
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": "大家\x00好"})
        assert res.status_code == 422 and res.json()["detail"]
        res = await http.post(f"/api/rooms/{ROOM}/takeover", json={"text": "枣" * 121})
        assert res.status_code == 422 and "120" in res.json()["detail"]
        res = await http.post(
            f"/api/rooms/{ROOM}/takeover", json={"text": "家人们，核桃25.8元，欢迎下单"}
        )
        assert res.status_code == 202, res.text
        assert res.json()["sku"] == "fp-walnut-500g"
        line = await next_event(ws, "line", timeout=30, where=lambda e: e["kind"] == "takeover")
        assert "25.8" in line["text"]

        res = await http.post(f"/api/rooms/{ROOM}/answer-mode", json={"mode": "muted"})
        assert res.status_code == 200 and res.json()["mode"] == "muted"
        res = await http.post(f"/api/rooms/{ROOM}/answer-mode", json={"mode": "loud"})
        assert res.status_code == 422
        await ws.send(json.dumps({"type": "danmaku", "nickname": "小李", "text": "小米多少钱？"}))
        ack = await next_event(ws, "danmaku_ack")
        assert ack["intent"] == "question" and ack["action"] == "noted"
        res = await http.post(f"/api/rooms/{ROOM}/answer-mode", json={"mode": "text", "minutes": 5})
        assert res.json()["mode"] == "text"

        async def reported():  # the worker's report carries the mode and the take-over
            snap = (await http.get(f"/api/rooms/{ROOM}/console")).json()
            return (
                snap if snap["takeovers"] >= 1 and snap["answer_mode"]["mode"] == "text" else None
            )

        snap = await until(reported, 20, "console snapshot from the worker")
        assert snap["session"]["orders"] >= 0 and snap["mood"]["label"]
        await http.post(f"/api/rooms/{ROOM}/answer-mode", json={"mode": "spoken"})


async def test_ticket_reply_reaches_the_viewer_with_workers(server):
    async with websockets.connect(ws_url(server)) as viewer:
        me = (await next_event(viewer, "hello"))["viewer_id"]
        await viewer.send(
            json.dumps({"type": "danmaku", "nickname": "王大姐", "text": "上次买的大枣烂了好几个"})
        )
        ack = await next_event(viewer, "danmaku_ack")
        assert ack["action"] == "ticket"
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers("cs")) as cs:

            async def mine():
                rows = (await cs.get("/api/tickets", params={"room_id": ROOM})).json()
                return [t for t in rows if t["user_id"] == me]

            ticket = (await until(mine, 30, "ticket filed by the worker"))[0]
            res = await cs.post(f"/api/tickets/{ticket['id']}/reply", json={"text": "马上补发"})
            assert res.status_code == 200 and res.json()["reply"]["delivered"] is True
        ev = await next_event(viewer, "cs_reply")
        assert ev["text"] == "马上补发"
    await asyncio.sleep(0)


async def test_console_in_chromium_with_workers(server):
    async with browser() as b, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        page = await signed_in(b, server, f"/workbench/live/{ROOM}")
        times = await console_plays_and_takes_over(server, page, http)
        print(f"console with workers: {times}")


async def test_a_restored_room_keeps_the_answer_mode(server):
    import os
    import signal

    engine = server.engine
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("operator")) as http:
        res = await http.post(
            f"/api/rooms/{ROOM}/answer-mode", json={"mode": "muted", "minutes": 30}
        )
        assert res.status_code == 200

        async def saved():
            return (engine.positions.get(ROOM) or {}).get("answer_mode", {}).get("mode") == "muted"

        await until(saved, 20, "the worker's report of the answer mode")
        restored = len(engine.restored)
        os.kill(engine.placement[ROOM].pid, signal.SIGKILL)

        async def back():
            return len(engine.restored) > restored

        await until(back, 60, "the room restored on another worker")

        async def muted():
            res = await http.get(f"/api/rooms/{ROOM}/console")
            return res.status_code == 200 and res.json()["answer_mode"]["mode"] == "muted"

        await until(muted, 20, "the restored room's answer mode")
        left = (await http.get(f"/api/rooms/{ROOM}/console")).json()["answer_mode"]
        assert 25 * 60 < left["seconds_left"] <= 30 * 60
