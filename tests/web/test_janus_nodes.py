"""Janus with several nodes: two `yunlian serve` nodes on loopback (real PostgreSQL and
Redis) share one real Janus. The node holding a room forwards it to a mountpoint; asking
any node where to watch is routed to the holder over the bus; after `kill -9` of the holder
the node that takes the room over forwards to the same mountpoint again, and a viewer of it
decodes frames again. Every wait is bounded."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from streamer.janus import JanusApi
from testkit.janus import Janus, JanusViewer
from testkit.nodes import Node, RedisServer, admin_token
from testkit.pg import create_database, postgres_server
from tests.web.test_janus_workers import _frames

ROOM = "janus-farm"
FAILOVER_LIMIT = 60.0  # seconds from kill -9 to B answering with a live forward (loaded box)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("janus-nodes")
    with Janus(tmp / "janus") as janus, postgres_server() as admin_url, RedisServer() as redis:
        db_url = create_database(admin_url)

        token = admin_token(db_url)
        env = {"YUNLIAN_JANUS_URL": janus.api_url, "YUNLIAN_JANUS_ADMIN_KEY": janus.admin_key}
        a = Node(db_url, redis.url, "a", tmp, **env)
        b = Node(db_url, redis.url, "b", tmp, **env)
        try:
            a.start()
            b.start()
            yield {"a": a, "b": b, "janus": janus, "headers": {"Authorization": f"Bearer {token}"}}
        finally:
            a.stop()
            b.stop()


async def _where(node: Node, limit: float, holder: str) -> dict:
    """Poll `node` for where to watch ROOM through Janus until `holder` forwards it live."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(base_url=node.url, timeout=20) as http:
        while True:
            res = await http.get(f"/api/rooms/{ROOM}/janus")
            if res.status_code == 200 and res.json()["live"] and res.json()["node"] == holder:
                return res.json()
            assert time.monotonic() < deadline, f"{res.status_code} {res.text}\n{node.log_tail()}"
            await asyncio.sleep(0.3)


def test_room_on_a_watched_through_janus_asking_b_and_again_from_b_after_kill_9_of_a(cluster):
    a, b, janus, headers = cluster["a"], cluster["b"], cluster["janus"], cluster["headers"]
    res = httpx.post(
        a.url + "/api/rooms",
        json={"room_id": ROOM, "title": "阜平大枣直播间"},
        headers=headers,
        timeout=60,
    )
    assert res.status_code == 201, res.text
    api = JanusApi(janus.api_url, janus.admin_key)

    async def run() -> None:
        before = await _where(b, 40, "a")  # asked of B, answered by A (the holder)
        assert before["url"] == janus.api_url
        assert (await api.mountpoint_info(before["mountpoint"]))["metadata"] == ROOM
        viewer = JanusViewer(before["url"], before["mountpoint"])
        try:
            await viewer.connect()
            await _frames(viewer, 25, 40)
            a.kill9()
            killed, killed_wall = time.monotonic(), time.time()
            # the holder does not answer: B says so within its deadline, with a reason
            async with httpx.AsyncClient(base_url=b.url, timeout=30) as http:
                res = await http.get(f"/api/rooms/{ROOM}/janus")
            assert res.status_code == 503, res.text
            assert "秒内未响应" in res.json()["detail"], res.text
            assert time.monotonic() - killed < 20
            # B takes the lease over and forwards the room to the mountpoint A left
            after = await _where(b, FAILOVER_LIMIT, "b")
            assert after["mountpoint"] == before["mountpoint"], "the mountpoint was replaced"
            at_resume = len(viewer.frames)
            await _frames(viewer, 25, FAILOVER_LIMIT)  # the viewer from before the kill
            resumed = viewer.frames[at_resume][0] - killed_wall
            print(f"\nJanus viewer decoding again {resumed:.1f} s after kill -9 of node A")
        finally:
            await viewer.close()
        fresh = JanusViewer(after["url"], after["mountpoint"])  # a new viewer, through B
        try:
            await fresh.connect()
            await _frames(fresh, 25, 40)
        finally:
            await fresh.close()
        listed = (await api.request({"request": "list"}))["list"]
        assert [m.get("metadata") for m in listed].count(ROOM) == 1, listed

    asyncio.run(run())
    # bad input: an unknown room and an oversized id get a 404 with a reason, not a crash
    for rid in ("no-such-room", "x" * 5000):
        res = httpx.get(f"{b.url}/api/rooms/{rid}/janus", timeout=30)
        assert res.status_code == 404 and res.json()["detail"], res.text
