"""省流模式: headless Chromium plays the room's HLS from a real nginx-rtmp with the bundled
hls.js, by choice or because the room's WebRTC seats are full; chat and the card still work."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from playwright.async_api import async_playwright

from testkit.livesrv import LiveServer
from testkit.nginx_rtmp import NginxRtmp
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS

VIDEO = "document.getElementById('video')"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    ng = NginxRtmp(tmp_path_factory.mktemp("nginx-hls"))
    ng.start()
    yield ng
    ng.stop()


def _server(nginx, path, **settings) -> LiveServer:
    return LiveServer(
        path / "yunlian.db",
        hls_push_url=nginx.rtmp_url,
        hls_url=nginx.http_url + "/hls/{room_id}.m3u8",
        **settings,
    )


@asynccontextmanager
async def _page(url: str):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(url + "/rooms/demo", wait_until="domcontentloaded")
            yield page, requests
        finally:
            await browser.close()


async def _plays_hls(page) -> None:
    """Pictures and sound keep coming through hls.js (not WebRTC)."""
    await page.wait_for_function(f"{VIDEO}.videoWidth > 0", timeout=40_000)
    assert await page.evaluate(f"{VIDEO}.srcObject") is None
    t0 = await page.evaluate(f"{VIDEO}.currentTime")
    await page.wait_for_timeout(3000)
    t1 = await page.evaluate(f"{VIDEO}.currentTime")
    assert t1 - t0 > 1.5, f"HLS playback advanced only {t1 - t0:.2f} s in 3 s"
    assert await page.evaluate(f"[{VIDEO}.videoWidth, {VIDEO}.videoHeight]") == [1280, 720]
    assert await page.evaluate(f"{VIDEO}.webkitAudioDecodedByteCount") > 0, "no sound decoded"


async def test_a_full_room_plays_as_hls_with_chat_and_card_working(nginx, tmp_path):
    with _server(nginx, tmp_path, max_viewers_per_room=0) as srv:
        async with _page(srv.url) as (page, requests):
            await _plays_hls(page)
            assert "省流模式" in await page.text_content("#status")
            assert await page.evaluate("window.hlsMode.active") is True
            # hls.js came from this server, the media from nginx; nothing from elsewhere
            assert any(u.endswith("/static/vendor/hls.light.min.js") for u in requests)
            assert any(u.startswith(nginx.http_url + "/hls/demo") for u in requests)
            local = (srv.url, nginx.http_url, "ws://127.0.0.1", "blob:", "data:")
            assert all(u.startswith(local) for u in requests), requests
            # the card follows the host, and chat goes out and comes back
            await page.wait_for_function("!document.getElementById('buy').disabled", timeout=20_000)
            await page.fill("#chat-text", "大枣甜不甜")
            await page.click("#chat-form button")
            await page.wait_for_function(
                "document.getElementById('chat').textContent.includes('大枣甜不甜')",
                timeout=10_000,
            )
        assert len(srv.engine.sessions) == 0


async def test_a_viewer_picks_the_data_saver_and_back(nginx, tmp_path):
    with _server(nginx, tmp_path) as srv:
        async with _page(srv.url) as (page, _):
            await page.wait_for_function(
                f"{VIDEO}.srcObject && {VIDEO}.videoWidth > 0", timeout=30_000
            )
            await page.wait_for_selector("#saver:not([hidden])", timeout=10_000)
            await page.click("#saver")
            await _plays_hls(page)
            assert await page.text_content("#saver") == "退出省流模式"
            assert len(srv.engine.sessions) == 0, "the WebRTC seat was not given back"
            await page.click("#saver")
            await page.wait_for_function(
                f"{VIDEO}.srcObject && {VIDEO}.videoWidth > 0", timeout=30_000
            )
            await page.wait_for_function(
                "document.getElementById('status').textContent === '直播中'", timeout=20_000
            )
