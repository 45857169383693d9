"""Janus as the room's WebRTC fan-out: the room forwards its one encode as RTP to a streaming
mountpoint of a real Janus (Debian's package, deploy/janus/), and viewers watch through
Janus's own API: an aiortc subscriber decodes the room's frames, and Chromium plays it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from playwright.async_api import async_playwright

from streamer.janus import JanusApi, JanusError
from testkit.janus import Janus, JanusViewer
from testkit.livesrv import LiveServer
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS

VIDEO = "document.getElementById('video')"


@pytest.fixture(scope="module")
def janus(tmp_path_factory):
    with Janus(tmp_path_factory.mktemp("janus")) as j:
        yield j


@pytest.fixture(scope="module")
def server(janus, tmp_path_factory):
    with LiveServer(
        tmp_path_factory.mktemp("janus-app") / "yunlian.db",
        janus_url=janus.api_url,
        janus_admin_key=janus.admin_key,
    ) as srv:
        yield srv


async def _mount(server) -> dict:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        deadline = time.monotonic() + 30
        while True:
            res = await http.get("/api/rooms/demo/janus")
            if res.status_code == 200 and res.json()["live"]:
                return res.json()
            assert time.monotonic() < deadline, f"no live mountpoint: {res.text}"
            await asyncio.sleep(0.2)


async def test_an_aiortc_subscriber_through_janus_decodes_the_rooms_frames(server, janus):
    mount = await _mount(server)
    assert mount["url"] == janus.api_url
    viewer = JanusViewer(mount["url"], mount["mountpoint"])
    try:
        await viewer.connect()
        deadline = time.monotonic() + 40
        while (len(viewer.frames) < 50 or viewer.audio_frames < 50) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(viewer.frames) >= 50, f"decoded {len(viewer.frames)} frames through Janus"
        assert viewer.audio_frames >= 50, "no sound through Janus"
        assert {(w, h) for _, w, h in viewer.frames} == {(1280, 720)}
        span = viewer.frames[-1][0] - viewer.frames[0][0]
        assert len(viewer.frames) / max(span, 1e-3) > 15, (
            "Janus viewer well under the room's 25 fps"
        )
    finally:
        await viewer.close()
    async with httpx.AsyncClient(
        base_url=server.url, timeout=20, headers=server.headers("admin")
    ) as http:
        room = (await http.get("/api/rooms/demo")).json()
    # the forward is one consumer of the room's one encode; no WHEP session was used
    assert 0 <= room["video_encodes"] - room["frames"] <= 1, "a second video encode ran"
    assert len(server.engine.sessions) == 0


async def test_chromium_watches_the_room_through_janus(server, janus):
    await _mount(server)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(server.url + "/rooms/demo?via=janus", wait_until="domcontentloaded")
            await page.wait_for_function(
                f"{VIDEO}.srcObject && {VIDEO}.videoWidth > 0", timeout=60_000
            )
            t0 = await page.evaluate(f"{VIDEO}.currentTime")
            await page.wait_for_timeout(2000)
            assert await page.evaluate(f"{VIDEO}.currentTime") - t0 > 1.0
            assert await page.evaluate(f"[{VIDEO}.videoWidth, {VIDEO}.videoHeight]") == [1280, 720]
            assert await page.evaluate("window.yunlianViewer.janus !== null")
            assert len(server.engine.sessions) == 0, "the page used WHEP, not Janus"
            assert any(u.startswith(janus.api_url) for u in requests)
            assert not any(u.endswith("/whep") for u in requests)
        finally:
            await browser.close()


async def test_a_room_gets_a_mountpoint_when_it_starts_and_loses_it_when_it_stops(server, janus):
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers=server.headers("admin")
    ) as http:
        res = await http.post("/api/rooms", json={"room_id": "jroom", "persona": "xiaowang"})
        assert res.status_code == 201, res.text
        try:
            mount = (await http.get("/api/rooms/jroom/janus")).json()
            api = JanusApi(janus.api_url, janus.admin_key)
            info = await api.mountpoint_info(mount["mountpoint"])
            assert info["metadata"] == "jroom"
        finally:
            await http.post("/api/rooms/jroom/stop")
        with pytest.raises(JanusError, match="No such mountpoint"):
            await api.mountpoint_info(mount["mountpoint"])
        assert (await http.get("/api/rooms/jroom/janus")).status_code == 404
        assert (await http.get("/api/rooms/nope/janus")).status_code == 404


async def test_without_the_admin_key_janus_refuses_to_create_mountpoints(janus):
    with pytest.raises(JanusError, match="(?i)unauthorized|admin"):
        await JanusApi(janus.api_url, "wrong-key").create_mountpoint("x")
    with pytest.raises(JanusError, match="did not answer"):
        await JanusApi("http://127.0.0.1:9/janus", timeout=2).create_mountpoint("x")


async def test_after_janus_restarts_the_room_mounts_again_and_viewers_watch_again(server, janus):
    before = await _mount(server)
    janus.stop()
    janus.start()  # the same config: same HTTP port, no mountpoints
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        deadline = time.monotonic() + 60
        while True:
            now = (await http.get("/api/rooms/demo/janus")).json()
            if now.get("mountpoint") not in (None, before["mountpoint"]):
                break
            assert time.monotonic() < deadline, "the room did not mount again on the new Janus"
            await asyncio.sleep(0.5)
    with pytest.raises(JanusError) as gone:
        await JanusApi(janus.api_url, janus.admin_key).mountpoint_info(before["mountpoint"])
    assert gone.value.code == 455  # no such mountpoint: the check the room relies on
    viewer = JanusViewer(now["url"], now["mountpoint"])
    try:
        await viewer.connect()
        deadline = time.monotonic() + 40
        while len(viewer.frames) < 25 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(viewer.frames) >= 25, f"decoded {len(viewer.frames)} frames after the restart"
    finally:
        await viewer.close()
    assert server.engine.janus_mount("demo")["remounts"] >= 1
