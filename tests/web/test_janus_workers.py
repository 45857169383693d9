"""Janus with room workers: the worker process that holds a room forwards its packets to the
room's mountpoint of a real Janus, an aiortc subscriber through Janus decodes the room, and
after `kill -9` of that worker the restored room forwards again (to the same mountpoint,
whose viewers keep watching). Every wait is bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest

from streamer.janus import JanusApi
from testkit.janus import Janus, JanusViewer
from testkit.livesrv import LiveServer
from tests.web.test_janus import _mount

RESTORE_LIMIT = 30.0  # seconds from kill -9 to frames through Janus again (a loaded machine)


@pytest.fixture(scope="module")
def janus(tmp_path_factory):
    with Janus(tmp_path_factory.mktemp("janus-w")) as j:
        yield j


@pytest.fixture(scope="module")
def server(janus, tmp_path_factory):
    with LiveServer(
        tmp_path_factory.mktemp("janus-workers") / "yunlian.db",
        workers=2,
        janus_url=janus.api_url,
        janus_admin_key=janus.admin_key,
    ) as srv:
        yield srv


def _worker_pid(srv: LiveServer, room_id: str) -> int:
    metrics = httpx.get(srv.url + "/api/metrics", headers=srv.headers("admin"), timeout=10).json()
    return next(w["pid"] for w in metrics["workers"] if room_id in w["rooms"])


async def _frames(viewer: JanusViewer, n: int, timeout: float) -> None:
    start = len(viewer.frames)
    deadline = time.monotonic() + timeout
    while len(viewer.frames) - start < n and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    got = len(viewer.frames) - start
    assert got >= n, f"decoded {got} frames through Janus within {timeout:g} s"


async def test_the_worker_holding_the_room_forwards_to_janus_and_a_subscriber_decodes_it(
    server, janus
):
    assert not hasattr(server.engine, "voice"), "the web process holds no room"
    mount = await _mount(server)
    assert mount["url"] == janus.api_url
    info = await JanusApi(janus.api_url, janus.admin_key).mountpoint_info(mount["mountpoint"])
    assert info["metadata"] == "demo"
    viewer = JanusViewer(mount["url"], mount["mountpoint"])
    try:
        await viewer.connect()
        await _frames(viewer, 50, 40)
        assert {(w, h) for _, w, h in viewer.frames} == {(1280, 720)}
        deadline = time.monotonic() + 20
        while viewer.audio_frames < 50 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert viewer.audio_frames >= 50, "no sound through Janus"
    finally:
        await viewer.close()


async def test_a_room_started_over_the_api_forwards_from_its_worker_and_stops_cleanly(
    server, janus
):
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers=server.headers("admin")
    ) as http:
        res = await http.post("/api/rooms", json={"room_id": "jw", "persona": "xiaoli"})
        assert res.status_code == 201, res.text
        api = JanusApi(janus.api_url, janus.admin_key)
        try:
            mount = (await http.get("/api/rooms/jw/janus")).json()
            assert (await api.mountpoint_info(mount["mountpoint"]))["metadata"] == "jw"
        finally:
            assert (await http.post("/api/rooms/jw/stop")).status_code == 200
        with pytest.raises(Exception, match="No such mountpoint"):
            await api.mountpoint_info(mount["mountpoint"])
        assert (await http.get("/api/rooms/jw/janus")).status_code == 404


async def test_after_kill_9_of_the_worker_forwarding_resumes_and_the_viewer_keeps_watching(
    server, janus
):
    before = await _mount(server)
    viewer = JanusViewer(before["url"], before["mountpoint"])
    try:
        await viewer.connect()
        await _frames(viewer, 25, 40)
        victim = _worker_pid(server, "demo")
        os.kill(victim, signal.SIGKILL)
        killed, killed_wall = time.monotonic(), time.time()
        # the room is restored on another worker, which forwards to the same mountpoint
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            while True:
                res = await http.get("/api/rooms/demo/janus")
                if res.status_code == 200 and res.json()["live"]:
                    try:
                        if _worker_pid(server, "demo") != victim:
                            break
                    except StopIteration:
                        pass
                assert time.monotonic() - killed < RESTORE_LIMIT, (
                    f"no forwarding again: {res.status_code} {res.text}"
                )
                await asyncio.sleep(0.2)
        after = res.json()
        assert after["mountpoint"] == before["mountpoint"], "the room's mountpoint was replaced"
        # the viewer connected before the kill decodes the restored room's frames
        at_resume = len(viewer.frames)
        await _frames(viewer, 25, RESTORE_LIMIT)
        resumed = viewer.frames[at_resume][0] - killed_wall
        print(f"\nJanus viewer decoding again {resumed:.1f} s after kill -9")
    finally:
        await viewer.close()
    async with httpx.AsyncClient(timeout=10, headers=server.headers("admin")) as http:
        metrics = (await http.get(server.url + "/api/metrics")).json()
    assert metrics["worker_restarts"] >= 1
    assert any(r["room_id"] == "demo" for r in metrics["rooms_restored"])
    # Janus holds one mountpoint for the room, not one per worker that ever held it
    listed = await JanusApi(janus.api_url, janus.admin_key).request({"request": "list"})
    rooms = [m.get("metadata") for m in listed["list"]]
    assert rooms.count("demo") == 1, listed


async def test_when_janus_lost_the_mountpoint_the_restored_room_makes_a_new_one(server, janus):
    before = await _mount(server)
    api = JanusApi(janus.api_url, janus.admin_key)
    await api.destroy_mountpoint(before["mountpoint"])  # as if Janus had restarted
    victim = _worker_pid(server, "demo")
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        while True:
            res = await http.get("/api/rooms/demo/janus")
            now = res.json() if res.status_code == 200 else {}
            if now.get("live") and now["mountpoint"] != before["mountpoint"]:
                break
            assert time.monotonic() - killed < RESTORE_LIMIT, f"no new mountpoint: {res.text}"
            await asyncio.sleep(0.2)
    assert (await api.mountpoint_info(now["mountpoint"]))["metadata"] == "demo"
    viewer = JanusViewer(now["url"], now["mountpoint"])
    try:
        await viewer.connect()
        await _frames(viewer, 25, 40)
    finally:
        await viewer.close()


async def test_a_room_takes_over_the_mountpoint_a_dead_server_left_and_destroys_the_rest(
    server, janus
):
    """A server killed with its rooms leaves their mountpoints in Janus: the room, started
    again, sends to one of them (its viewers stay) and no mountpoint of it piles up."""
    api = JanusApi(janus.api_url, janus.admin_key)
    left = [await api.create_mountpoint("jleft", "留下的") for _ in range(2)]
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers=server.headers("admin")
    ) as http:
        res = await http.post("/api/rooms", json={"room_id": "jleft", "persona": "xiaoli"})
        assert res.status_code == 201, res.text
        try:
            mount = (await http.get("/api/rooms/jleft/janus")).json()
            assert mount["mountpoint"] in {m.id for m in left}
            listed = (await api.request({"request": "list"}))["list"]
            assert [m["id"] for m in listed if m.get("metadata") == "jleft"] == [
                mount["mountpoint"]
            ]
            viewer = JanusViewer(mount["url"], mount["mountpoint"])
            try:
                await viewer.connect()
                await _frames(viewer, 25, 40)
            finally:
                await viewer.close()
        finally:
            assert (await http.post("/api/rooms/jleft/stop")).status_code == 200


def test_serve_refuses_a_janus_url_that_is_not_http(tmp_path):
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--port", "0", "--janus-url", "ftp://x/janus"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "--janus-url must be an http:// or https:// URL" in res.stderr
    assert "Traceback" not in res.stderr


async def test_a_room_the_schedule_starts_forwards_to_janus_too(server, janus):
    from datetime import datetime, timedelta

    from streamer.scheduler import zone

    now = datetime.now(zone("Asia/Shanghai"))
    slot = {
        "room_id": "jsched",
        "persona": "xiaowang",
        "start": (now - timedelta(minutes=5)).strftime("%H:%M"),
        "end": (now + timedelta(minutes=30)).strftime("%H:%M"),
    }
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers=server.headers("operator")
    ) as http:
        res = await http.post("/api/shop/schedule", json=slot)
        assert res.status_code == 201, res.text
        sid = res.json()["id"]
        try:
            deadline = time.monotonic() + 40
            while True:
                res = await http.get("/api/rooms/jsched/janus")
                if res.status_code == 200 and res.json()["live"]:
                    break
                assert time.monotonic() < deadline, f"scheduled room not on Janus: {res.text}"
                await asyncio.sleep(0.3)
            info = await JanusApi(janus.api_url, janus.admin_key).mountpoint_info(
                res.json()["mountpoint"]
            )
            assert info["metadata"] == "jsched"
        finally:
            await http.patch(f"/api/shop/schedule/{sid}", json={"enabled": False})
