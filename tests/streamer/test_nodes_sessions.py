"""场次复盘 across nodes: two `yunlian serve` nodes on one real PostgreSQL and one real Redis.
A room on node A is recorded once (by its lease holder, not once per node), its orders land
in the minute they were placed; after `kill -9` of A, node B takes the room and goes on with
the same session: each minute written once, none missing. Every wait is bounded."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select

from commerce import open_store
from commerce.models import Order, RoomSession, RoomSessionMinute
from testkit.nodes import SECRET_KEY, Node, RedisServer, admin_token, wait_for
from testkit.pg import create_database, postgres_server

ROOM = "farm-sessions"
SKU = "fp-walnut-500g"
BUCKET = 10  # seconds a row covers here (60 in production): a takeover stays within 3 rows


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nodes-sessions")
    with postgres_server() as admin_url, RedisServer() as redis:
        db_url = create_database(admin_url)

        token = admin_token(db_url)
        env = {"YUNLIAN_SESSION_BUCKET_S": str(BUCKET)}
        a = Node(db_url, redis.url, "a", tmp, **env)
        b = Node(db_url, redis.url, "b", tmp, **env)
        try:
            a.start()
            b.start()
            yield {"a": a, "b": b, "db": db_url, "headers": {"Authorization": f"Bearer {token}"}}
        finally:
            a.stop()
            b.stop()


def _rows(db_url: str) -> tuple[list, list, list]:
    """The room's sessions, their minute rows and the room's orders, read from the database."""

    async def read():
        store = await open_store(db_url, secret_key=SECRET_KEY, background=False)
        try:
            async with store.db.read() as s:
                sessions = (
                    (await s.execute(select(RoomSession).where(RoomSession.room_id == ROOM)))
                    .scalars()
                    .all()
                )
                ids = [x.id for x in sessions]
                minutes = (
                    (
                        await s.execute(
                            select(RoomSessionMinute)
                            .where(RoomSessionMinute.session_id.in_(ids))
                            .order_by(RoomSessionMinute.minute)
                        )
                    )
                    .scalars()
                    .all()
                )
                orders = (
                    await s.execute(select(Order.id, Order.created_at).where(Order.room_id == ROOM))
                ).all()
            return list(sessions), list(minutes), list(orders)
        finally:
            await store.close()

    return asyncio.run(read())


def _order(node: Node) -> str:
    res = httpx.post(
        node.url + "/api/shop/orders",
        json={
            "buyer": {
                "id": f"b-{uuid.uuid4().hex[:8]}",
                "name": "赵六",
                "phone": "13912340006",
                "address": "河北省保定市阜平县6号",
            },
            "items": [{"sku": SKU, "quantity": 1}],
            "room_id": ROOM,
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert res.status_code == 201, res.text
    return res.json()["id"]


def _minute_of(started: datetime, at: datetime) -> int:
    return int((at - started).total_seconds() // BUCKET)


def test_one_writer_per_room_and_the_session_goes_on_after_kill_9(cluster):
    a, b, headers, db = cluster["a"], cluster["b"], cluster["headers"], cluster["db"]
    res = httpx.post(
        a.url + "/api/rooms",
        json={"room_id": ROOM, "title": "阜平核桃直播间"},
        headers=headers,
        timeout=60,
    )
    assert res.status_code == 201, res.text
    # both nodes list the room; only A (its holder) opens a session for it
    wait_for(lambda: _rows(db)[1], 3 * BUCKET, "A's first minute written")
    _order(b)  # an order placed through B, for the room running on A
    time.sleep(BUCKET)
    _order(a)
    wait_for(lambda: len(_rows(db)[1]) >= 3, 4 * BUCKET, "three minutes written")
    sessions, minutes, _ = _rows(db)
    assert len(sessions) == 1, [(x.id, x.started_at) for x in sessions]  # not one per node

    a.kill9()
    httpx_b = httpx.Client(base_url=b.url, headers=headers, timeout=15)

    def moved() -> bool:
        node = httpx_b.get("/api/metrics").json()["node"]
        return ROOM in node["held"] and ROOM not in node["adopting"]

    try:
        wait_for(moved, 60, "room held by B after kill -9 of A")
        after = len(_rows(db)[1])
        _order(b)
        wait_for(lambda: len(_rows(db)[1]) >= after + 2, 4 * BUCKET, "B writing minutes")
        res = httpx_b.post(f"/api/rooms/{ROOM}/stop")
        assert res.is_success, res.text
        wait_for(lambda: all(x.ended_at for x in _rows(db)[0]), 30, "session ended")
    finally:
        httpx_b.close()

    sessions, minutes, orders = _rows(db)
    assert len(sessions) == 1, [(x.id, x.started_at, x.ended_at) for x in sessions]
    started = sessions[0].started_at
    numbers = [m.minute for m in minutes]
    assert numbers == list(range(len(numbers))), numbers  # each minute once, none missing
    assert len(orders) == 3
    per_minute: dict[int, int] = {}
    for _oid, at in orders:
        per_minute[_minute_of(started, at)] = per_minute.get(_minute_of(started, at), 0) + 1
    assert {m.minute: m.orders for m in minutes if m.orders} == per_minute
