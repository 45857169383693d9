"""Saved RTMP outputs follow their room across nodes: two `yunlian serve` nodes on one real
PostgreSQL and Redis, a room on node A pushing to a real nginx-rtmp, `kill -9` of A, and the
room, taken over by B, pushes to the same output again (same id, read back with PyAV).
Every wait is bounded."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from commerce import open_store
from testkit.nginx_rtmp import NginxRtmp
from testkit.nodes import SECRET_KEY, Node, RedisServer, wait_for
from testkit.pg import create_database, postgres_server
from tests.streamer.test_outputs import _read_rtmp

ROOM = "farm-out"
KEY = "sk-Node-failover-stream-key-0123456789"
FAILOVER_LIMIT = 60.0  # seconds from kill -9 of A to the output live from B


@pytest.fixture
def cluster(tmp_path):
    with postgres_server() as admin_url, RedisServer() as redis, NginxRtmp(tmp_path / "ng") as ng:
        db_url = create_database(admin_url)

        async def setup() -> str:
            store = await open_store(db_url, secret_key=SECRET_KEY, background=False)
            try:
                user = await store.accounts.create_user("ops", "测试密码-推流-0123456789", "admin")
                return await store.accounts.create_token(user, "admin", "tests")
            finally:
                await store.close()

        token = asyncio.run(setup())
        a = Node(db_url, redis.url, "a", tmp_path)
        b = Node(db_url, redis.url, "b", tmp_path)
        try:
            a.start()
            b.start()
            yield a, b, ng, {"Authorization": f"Bearer {token}"}
        finally:
            a.stop()
            b.stop()


def test_a_saved_output_pushes_again_from_the_node_that_takes_the_room_over(cluster):
    a, b, nginx, headers = cluster
    with (
        httpx.Client(base_url=a.url, headers=headers, timeout=30) as on_a,
        httpx.Client(base_url=b.url, headers=headers, timeout=30) as on_b,
    ):
        res = on_a.post("/api/rooms", json={"room_id": ROOM, "title": "推流跟随直播间"})
        assert res.status_code == 201, res.text
        res = on_a.post(
            f"/api/rooms/{ROOM}/outputs",
            json={"url": nginx.rtmp_url, "stream_key": KEY, "name": "快手"},
        )
        assert res.status_code == 201, res.text
        oid = res.json()["id"]

        def live_on(client: httpx.Client):
            res = client.get(f"/api/rooms/{ROOM}/outputs")
            if res.status_code != 200:
                return None
            return next((o for o in res.json() if o["id"] == oid and o["state"] == "live"), None)

        wait_for(lambda: live_on(on_a), 30, "the output live from A")
        a.kill9()
        try:
            again = wait_for(lambda: live_on(on_b), FAILOVER_LIMIT, "the output live from B")
        except AssertionError:
            raise AssertionError(b.log_tail()) from None
        assert again["name"] == "快手" and KEY not in str(again)
        held = on_b.get("/api/metrics").json()["node"]["held"]
        assert held == [ROOM]
        info = _read_rtmp(f"{nginx.rtmp_url}/{KEY}", 3.0)
        assert info["video"] == ("h264", 1280, 720)
        pts = info["video_pts"]
        assert pts[-1] - pts[0] >= 1.5, "the stream from B did not keep growing"
