"""Rooms in worker processes: real `yunlian serve` app, real spawned workers, real aiortc
viewers, and a real `kill -9`. Every wait is bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest

from streamer.bus import Call, Result
from streamer.engine_base import MAX_SDP_BYTES, BadOffer, EngineError, RoomNotFound
from streamer.room import RoomConfig
from streamer.worker import WorkerSpec
from streamer.workers import WorkerEngine
from testkit.livesrv import LiveServer
from testkit.whep import WhepViewer

PINNED = "fp-walnut-500g"
RESTORE_LIMIT = 10.0  # seconds from kill -9 to the room ticking again


# first: before the module's server adds its own rooms to the machine
async def test_rooms_go_to_the_least_loaded_worker(tmp_path):
    engine = WorkerEngine(WorkerSpec(db_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"), 2)
    engine.max_rooms = engine.max_rooms_per_owner = 8
    from commerce.store import open_store

    store = await open_store(engine.spec.db_url)  # migrated and seeded before workers read it
    await store.close()
    await engine.start()
    try:
        for i in range(4):
            await engine.start_room(RoomConfig(f"r{i}"))
        per_worker = sorted(
            sum(1 for h in engine.placement.values() if h is w) for w in engine.workers
        )
        assert per_worker == [2, 2], per_worker
        deadline = time.monotonic() + 20
        while not all(w.report and len(w.report.rooms) == 2 for w in engine.workers):
            assert time.monotonic() < deadline, [
                (w.pid, w.alive, w.report and sorted(w.report.rooms)) for w in engine.workers
            ]
            await asyncio.sleep(0.1)
        assert all(w.report.load > 0 for w in engine.workers), "load comes from tick times"
        result: Result = await asyncio.wait_for(_raw(engine, Call(99, "ping")), 5)
        assert result.value == engine.workers[0].pid
    finally:
        await engine.close()
    assert not any(w.process.is_alive() for w in [*engine.workers, engine.spare])


@pytest.fixture(scope="module")
def worker_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("workers") / "yunlian.db"
    with LiveServer(path, workers=2) as srv:
        yield srv


def _worker_of(srv: LiveServer, room_id: str) -> dict:
    metrics = httpx.get(srv.url + "/api/metrics", headers=srv.headers("admin"), timeout=5).json()
    return next(w for w in metrics["workers"] if room_id in w["rooms"])


async def test_a_room_in_a_worker_streams_to_an_aiortc_viewer(worker_server):
    worker = _worker_of(worker_server, "demo")
    assert worker["pid"] != os.getpid()
    assert worker_server.engine.placement["demo"] is not None
    assert not hasattr(worker_server.engine, "voice"), "the web process holds no room"
    v = WhepViewer(worker_server.url)
    await v.connect()
    try:
        await v.wait_frames(video=50, audio=100, timeout=30)  # 2 s of each
    finally:
        await v.close()
    assert len(v.tracks["video"].frames) >= 50


async def test_a_480p_portrait_room_in_a_worker_streams_at_480_by_854(worker_server):
    staff = worker_server.headers("admin")
    body = {"room_id": "w-480p", "persona": "xiaozhang", "orientation": "portrait"}
    async with httpx.AsyncClient(base_url=worker_server.url, timeout=30, headers=staff) as http:
        res = await http.post("/api/rooms", json=body | {"resolution": "480p"})
        assert res.status_code == 201, res.text
        try:
            assert _worker_of(worker_server, "w-480p")["pid"] != os.getpid()
            v = WhepViewer(worker_server.url, room_id="w-480p", keep_images=True)
            await v.connect()
            try:
                await v.wait_frames(video=25, audio=25, timeout=30)
            finally:
                await v.close()
            video = v.tracks["video"]
            assert (video.width, video.height) == (480, 854)
            info = (await http.get("/api/rooms/w-480p")).json()
            assert (info["width"], info["height"], info["orientation"]) == (480, 854, "portrait")
        finally:
            await http.post("/api/rooms/w-480p/stop")


async def test_a_question_is_answered_across_the_bus(worker_server):
    async with httpx.AsyncClient(base_url=worker_server.url, timeout=10) as c:
        res = await c.post("/api/rooms/demo/questions", json={"text": "大枣多少钱一斤"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["intent"] == "question" and body["text"], body


async def test_bad_input_over_the_bus_gets_a_clear_error_and_the_worker_lives(worker_server):
    engine: WorkerEngine = worker_server.engine
    handle = engine.placement["demo"]
    pid = handle.pid

    async def call(op, *args):
        return await engine._call(handle, op, *args)

    with pytest.raises(RoomNotFound, match="no live room 'nope'"):
        worker_server.call(call("whep_offer", "nope", "v=0\r\n"))
    with pytest.raises(BadOffer, match=f"larger than {MAX_SDP_BYTES} bytes"):
        worker_server.call(call("whep_offer", "demo", "v=0\r\n" + "a=x\r\n" * 20_000))
    with pytest.raises(BadOffer, match="not an SDP offer"):
        worker_server.call(call("whep_offer", "demo", "hello"))
    with pytest.raises(EngineError, match="unknown bus operation 'exec'"):
        worker_server.call(call("exec", "rm -rf /"))
    with pytest.raises(EngineError, match="RoomConfig"):
        worker_server.call(call("start_room", {"room_id": "x"}))
    with pytest.raises(RoomNotFound):
        worker_server.call(call("danmaku", "nope", "u", "n", "你好", "viewer", False))
    handle.send("not a call")  # ignored by the worker, logged
    assert worker_server.call(call("ping")) == pid
    # and over HTTP the same faults are plain 4xx answers
    sdp = {"Content-Type": "application/sdp"}
    async with httpx.AsyncClient(base_url=worker_server.url, timeout=10) as c:
        res = await c.post("/api/rooms/nope/whep", content="v=0\r\n", headers=sdp)
        assert res.status_code == 404 and "nope" in res.json()["detail"]
        res = await c.post("/api/rooms/demo/whep", content="hello", headers=sdp)
        assert res.status_code == 400 and "SDP" in res.json()["detail"]
    assert handle.alive and handle.pid == pid


def test_a_killed_worker_s_room_ticks_again_with_its_pin_and_flash_sale(worker_server):
    srv, headers = worker_server, worker_server.headers("admin")
    with httpx.Client(base_url=srv.url, headers=headers, timeout=10) as c:
        assert c.post("/api/shop/rooms/demo/pin", json={"sku": PINNED}).status_code == 200
        sale = {"sku": PINNED, "price": "19.90", "quantity": 50, "duration_s": 600}
        res = c.post("/api/shop/rooms/demo/flash-sales", json=sale)
        assert res.status_code == 201, res.text
        deadline = time.monotonic() + 30
        while c.get("/api/rooms/demo").json()["current_sku"] != PINNED:
            assert time.monotonic() < deadline, "the pinned product was never presented"
            time.sleep(0.2)
        # a happy room (simulated viewers for 3 s): a new room would start calm
        crowd = {"rate": 8, "mood": "happy", "duration": 3}
        assert c.post("/api/rooms/demo/simulator", json=crowd).status_code == 200
        deadline = time.monotonic() + 10
        while (mood := c.get("/api/rooms/demo").json()["mood"]["label"]) == "calm":
            assert time.monotonic() < deadline, "the simulated crowd never cheered"
            time.sleep(0.2)
        time.sleep(1.2)  # one report: the saved state includes the last comments
        victim = _worker_of(srv, "demo")["pid"]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        ticking, stats = None, {}
        while time.monotonic() - killed < RESTORE_LIMIT + 5:
            res = c.get("/api/rooms/demo")
            if res.status_code == 200:
                stats = res.json()
                if stats["frames"] >= 5 and _worker_of(srv, "demo")["pid"] != victim:
                    ticking = time.monotonic() - killed
                    break
            time.sleep(0.1)
        assert ticking is not None and ticking <= RESTORE_LIMIT, (ticking, stats)
        assert stats["current_sku"] == PINNED, stats
        assert stats["mood"]["label"] in ("happy", "excited"), (mood, stats["mood"])
        promos = c.get("/api/shop/rooms/demo/promotions").json()
        assert promos["pinned"] == PINNED
        assert [s["sku"] for s in promos["flash_sales"] if s["active"]] == [PINNED]
        products = {p["sku"]: p for p in c.get("/api/shop/rooms/demo/products").json()}
        assert "19.9" in str(products[PINNED]), products[PINNED]
        metrics = c.get("/api/metrics").json()
        assert metrics["worker_restarts"] >= 1
        assert any(r["room_id"] == "demo" for r in metrics["rooms_restored"])
        # the replacement worker joins the pool and takes rooms again
        deadline = time.monotonic() + 30
        while not all(w["ready"] for w in c.get("/api/metrics").json()["workers"]):
            assert time.monotonic() < deadline, "the replacement worker never became ready"
            time.sleep(0.2)


async def _raw(engine: WorkerEngine, call: Call) -> Result:
    handle = engine.workers[0]
    fut = asyncio.get_running_loop().create_future()
    handle.pending[call.id] = fut
    handle.send(call)
    return await fut
