"""Session recorder and replay on SQLite and PostgreSQL: minutes from room events with a
settable clock, orders put in the minute they were placed, a killed server's session closed,
and the migration (0018) matching the models."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from commerce import open_store
from commerce.models import Base, RoomSession
from commerce.sessions import SessionRecorder, list_sessions, replay
from commerce.sessions.recorder import STALE_BUCKETS
from tests.commerce.conftest import SECRET, add_product
from tests.commerce.test_migrations import _alembic
from tests.commerce.test_store import req

MINE = ("room_sessions", "room_session_minutes")
INDEX = "ix_an_orders_day_amount"


class Rooms:
    """The engine surface the recorder reads (as `streamer.Engine` offers it)."""

    def __init__(self) -> None:
        self.info = {
            "room_id": "r1",
            "title": "枣园直播",
            "persona": "xiaowang",
            "live": True,
            "viewers": 0,
            "current_sku": None,
            "current_product": None,
        }
        self.live = True
        self.queues: list[asyncio.Queue] = []

    def list_rooms(self) -> list[dict]:
        return [dict(self.info)] if self.live else []

    def subscribe(self, room_id, maxsize=100):
        q = asyncio.Queue(maxsize)
        self.queues.append(q)
        return q

    def unsubscribe(self, room_id, q) -> None:
        self.queues.remove(q)

    def room_shop(self, room_id):
        return "default"

    def emit(self, **ev) -> None:
        for q in self.queues:
            q.put_nowait(ev)


async def test_minutes_record_audience_chat_and_the_segment_on_air(store, clock):
    await add_product(store, "sku-a", 100)
    await add_product(store, "sku-b", 100)
    rooms = Rooms()
    rec = SessionRecorder(rooms, store, bucket_s=60)
    rooms.info |= {"current_sku": "sku-a", "current_product": "红枣"}
    await rec.tick()
    sid = rec.open["r1"].id
    rooms.emit(type="viewer_joined")
    rooms.emit(type="viewer_joined")
    rooms.emit(type="danmaku", text="好吃吗")
    rooms.info["viewers"] = 2
    clock.advance(seconds=10)
    await rec.tick()
    order_a, _ = await store.orders.create(req("sku-a", 2, room_id="r1"), "k-a")
    clock.advance(seconds=40)
    await rec.tick()  # 2 viewers for 40 s of minute 0
    rooms.info |= {"current_sku": "sku-b", "current_product": "核桃"}
    rooms.info["viewers"] = 1
    clock.advance(seconds=15)  # minute 1 begins at 60 s
    await rec.tick()
    rooms.emit(type="viewer_left")
    rooms.emit(type="mood", label="happy", score=0.6)
    rooms.emit(type="answer", question="q", text="a")
    order_b, _ = await store.orders.create(req("sku-b", 1, room_id="r1"), "k-b")
    clock.advance(seconds=60)
    await rec.tick()  # minute 1 written, mostly sku-b
    rooms.live = False
    clock.advance(seconds=5)
    await rec.tick()  # the room stopped: the session ends

    async with store.db.read() as s:
        d = await replay(s, "default", sid, store.clock())
        listed = await list_sessions(s, "default")
        assert await list_sessions(s, "other-shop") == []
    m = d["minutes"]
    assert m["minute"] == [0, 1, 2] and m["sku"][:2] == ["sku-a", "sku-b"]
    assert m["entries"][0] == 2 and m["leaves"][1] == 1 and m["danmaku"][0] == 1
    assert m["answers"][1] == 1 and m["mood"][1] == 0.6
    assert m["watch_s"][0] == 2 * 50  # 2 online from 10 s to 60 s of the minute
    assert m["watch_s"][1] == 2 * 5 + 1 * 55  # 2 until the tick at 65 s, then 1 to 120 s
    assert m["orders"][:2] == [1, 1]
    mins = {o["id"]: o["minute"] for o in d["orders"]}
    assert mins == {order_a["id"]: 0, order_b["id"]: 1}
    segs = {g["sku"]: g for g in d["sales_by_segment"]}
    assert segs["sku-a"]["units"] == {"sku-a": 2} and segs["sku-b"]["units"] == {"sku-b": 1}
    assert segs["sku-a"]["product"] == "红枣" and segs["sku-a"]["paid_orders"] == 0
    assert [b["sku"] for b in d["segments"]][:2] == ["sku-a", "sku-b"]
    assert listed[0]["id"] == sid and not listed[0]["live"] and listed[0]["orders"] == 2
    assert listed[0]["entries"] == 2 and listed[0]["peak_viewers"] == 2
    assert not rooms.queues  # unsubscribed


async def test_a_dead_servers_session_is_closed_at_its_last_minute(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        rooms = Rooms()
        rec = SessionRecorder(rooms, store, bucket_s=60)
        await rec.tick()
        sid = rec.open["r1"].id
        clock.advance(seconds=130)
        await rec.tick()  # minutes 0 and 1 written; then the process "dies"
        started = clock()
        clock.advance(hours=3)
        fresh = SessionRecorder(rooms, store, bucket_s=60)
        assert await fresh.close_dangling() == 1
        async with store.db.read() as s:
            rs = await s.get(RoomSession, sid)
        assert rs.ended_at is not None and rs.ended_at < started
        assert (rs.ended_at - rs.started_at).total_seconds() == 120
    finally:
        await store.close()


class NodeRooms(Rooms):
    """One node's engine: every node lists the room, only its lease holder runs it."""

    def __init__(self, holds: bool) -> None:
        super().__init__()
        self.holds = holds

    def holds_room(self, room_id) -> bool:
        return self.holds


async def test_two_nodes_one_writer_and_a_hand_over_keeps_one_session(store, clock):
    """Two recorders on one database (two nodes): only the room's holder writes; when the
    room moves, the new holder goes on with the same session, each minute written once,
    the minute the room moved in holds both nodes' counts, and orders stay in their minute."""
    await add_product(store, "sku-a", 100)
    a, b = NodeRooms(holds=True), NodeRooms(holds=False)
    rec_a = SessionRecorder(a, store, bucket_s=60)
    rec_b = SessionRecorder(b, store, bucket_s=60)
    for rooms in (a, b):
        rooms.info |= {"viewers": 1, "current_sku": "sku-a", "current_product": "红枣"}
    await rec_a.tick()
    await rec_b.tick()
    assert "r1" in rec_a.open and not rec_b.open and not b.queues  # B does not follow it
    sid = rec_a.open["r1"].id
    a.emit(type="viewer_joined")
    clock.advance(seconds=30)
    order_0, _ = await store.orders.create(req("sku-a", 1, room_id="r1"), "k-0")
    await rec_a.tick()
    await rec_b.tick()
    clock.advance(seconds=45)  # minute 1 (60-120 s) has begun at 75 s
    await rec_a.tick()
    a.emit(type="viewer_joined")
    await rec_a.tick()
    # the room moves to B at 80 s: A lets go (writing minute 1 so far), B takes over
    clock.advance(seconds=5)
    a.holds, b.holds = False, True
    await rec_a.tick()
    assert not rec_a.open and not a.queues
    await rec_b.tick()
    assert rec_b.open["r1"].id == sid and rec_b.open["r1"].minute == 1
    b.emit(type="viewer_joined")
    b.emit(type="danmaku", text="还有货吗")
    order_1, _ = await store.orders.create(req("sku-a", 2, room_id="r1"), "k-1")
    clock.advance(seconds=50)  # 135 s: minute 1 closes on B
    await rec_b.tick()
    await rec_a.tick()  # A, not holding, writes nothing
    b.live = a.live = False
    clock.advance(seconds=10)
    await rec_b.tick()
    await rec_a.tick()

    async with store.db.read() as s:
        sessions = await list_sessions(s, "default")
        d = await replay(s, "default", sid, store.clock())
    assert [x["id"] for x in sessions] == [sid]  # one session, not one per node
    m = d["minutes"]
    assert m["minute"] == [0, 1, 2]  # each minute once, none missing
    assert m["entries"] == [1, 2, 0]  # minute 1: one entry seen on A, one on B
    assert m["danmaku"] == [0, 1, 0]
    assert m["orders"] == [1, 1, 0]
    assert {o["id"]: o["minute"] for o in d["orders"]} == {order_0["id"]: 0, order_1["id"]: 1}
    assert m["watch_s"][1] == 60  # one viewer online the whole minute, across both nodes
    assert sessions[0]["live"] is False


async def test_a_node_stopping_hands_its_session_over(store, clock):
    """A node's clean stop hands its rooms over: the session stays open with the minute so
    far, and the node that takes the room goes on with it."""
    a, b = NodeRooms(holds=True), NodeRooms(holds=False)
    rec_a, rec_b = SessionRecorder(a, store, bucket_s=60), SessionRecorder(b, store, bucket_s=60)
    await rec_a.tick()
    sid = rec_a.open["r1"].id
    a.emit(type="danmaku", text="你好")
    clock.advance(seconds=20)
    await rec_a.close()  # the node stops
    async with store.db.read() as s:
        assert (await s.get(RoomSession, sid)).ended_at is None
    clock.advance(seconds=10)
    b.holds = True
    await rec_b.tick()
    assert rec_b.open["r1"].id == sid
    clock.advance(seconds=40)
    await rec_b.tick()
    async with store.db.read() as s:
        d = await replay(s, "default", sid, store.clock())
    assert d["minutes"]["minute"] == [0] and d["minutes"]["danmaku"] == [1]
    await rec_b.close()


async def test_a_session_recorded_elsewhere_is_not_closed_as_dangling(store, clock):
    """A node starting up does not close a session another node is recording (its last
    minute is recent); it closes one nobody has written to for STALE_BUCKETS minutes."""
    a = NodeRooms(holds=True)
    rec_a = SessionRecorder(a, store, bucket_s=60)
    await rec_a.tick()
    clock.advance(seconds=61)
    await rec_a.tick()  # minute 0 written
    starting = SessionRecorder(NodeRooms(holds=False), store, bucket_s=60)
    assert await starting.close_dangling() == 0
    clock.advance(seconds=60 * STALE_BUCKETS + 1)  # A died long ago: nothing written since
    assert await starting.close_dangling() == 1


async def test_migration_matches_the_models_and_downgrades(store, db_url):
    await store.close()

    def look(conn):
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        indexes = {i["name"] for i in inspect(conn).get_indexes("an_orders")}
        return set(inspect(conn).get_table_names()) | (indexes & {INDEX}), [
            d for d in diffs if any(t in repr(d) for t in (*MINE, INDEX))
        ]

    from commerce.db import make_engine

    async def schema():
        engine = make_engine(db_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    tables, diffs = await schema()
    assert {*MINE, INDEX} <= tables and diffs == []
    await _alembic(db_url, command.downgrade, "0014")
    tables, _ = await schema()
    assert not {*MINE, INDEX} & tables and "shipments" in tables
    await _alembic(db_url, command.upgrade, "head")
    tables, diffs = await schema()
    assert {*MINE, INDEX} <= tables and diffs == []
