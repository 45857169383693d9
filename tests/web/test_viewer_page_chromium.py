"""Headless Debian Chromium plays the viewer page over WebRTC."""

from playwright.async_api import async_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required",
]


async def test_chromium_plays_the_room_with_video_and_audio(live_server, tmp_path):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{live_server.url}/rooms/demo", wait_until="domcontentloaded")
            await page.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=30_000)
            width = await page.evaluate("document.getElementById('video').videoWidth")
            height = await page.evaluate("document.getElementById('video').videoHeight")
            frames = "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames"
            f0 = await page.evaluate(frames)
            await page.wait_for_timeout(1500)
            f1 = await page.evaluate(frames)
            audio_tracks = await page.evaluate(
                "document.getElementById('video').srcObject.getAudioTracks().filter(t => t.readyState === 'live').length"
            )
            await page.click("#unmute")
            muted = await page.evaluate("document.getElementById('video').muted")
            await page.wait_for_function("document.getElementById('caption').textContent.length > 3", timeout=15_000)
            status = await page.text_content("#status")
            await page.screenshot(path=str(tmp_path / "viewer.png"))
        finally:
            await browser.close()
    assert (width, height) == (1280, 720)
    assert f1 - f0 >= 15, f"only {f1 - f0} frames decoded in 1.5 s"
    assert audio_tracks == 1
    assert muted is False
    assert status == "直播中"


async def test_chromium_viewer_page_reports_a_room_that_is_not_live(live_server):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{live_server.url}/rooms/no-such-room", wait_until="domcontentloaded")
            await page.wait_for_function("document.getElementById('status').textContent === '直播间未开播'")
        finally:
            await browser.close()
