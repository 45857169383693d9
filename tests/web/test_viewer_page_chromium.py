"""Headless Debian Chromium plays the viewer page over WebRTC."""

from contextlib import asynccontextmanager

import httpx
from playwright.async_api import async_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]


@asynccontextmanager
async def open_page(live_server, path: str = "/rooms/demo"):
    """Headless Debian Chromium on one of the app's pages."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{live_server.url}{path}", wait_until="domcontentloaded")
            yield page
        finally:
            await browser.close()


async def test_chromium_plays_the_room_with_video_and_audio(live_server, tmp_path):
    async with open_page(live_server) as page:
        await page.wait_for_function(
            "document.getElementById('video').videoWidth > 0", timeout=30_000
        )
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
        await page.wait_for_function(
            "document.getElementById('caption').textContent.length > 3", timeout=15_000
        )
        status = await page.text_content("#status")
        await page.wait_for_selector("#p-trace:not([hidden])", timeout=10_000)
        trace_href = await page.get_attribute("#p-trace", "href")
        await page.screenshot(path=str(tmp_path / "viewer.png"))
    assert (width, height) == (1280, 720)
    assert f1 - f0 >= 15, f"only {f1 - f0} frames decoded in 1.5 s"
    assert audio_tracks == 1
    assert muted is False
    assert status == "直播中"
    assert trace_href.startswith("/trace/")


async def test_chromium_viewer_page_reports_a_room_that_is_not_live(live_server):
    async with open_page(live_server, "/rooms/no-such-room") as page:
        await page.wait_for_function(
            "document.getElementById('status').textContent === '直播间未开播'"
        )


async def test_viewer_buys_the_product_on_screen_and_pays(live_server):
    async with open_page(live_server) as page:
        await page.wait_for_function("!document.getElementById('buy').disabled", timeout=20_000)
        await page.fill("#qty", "2")
        await page.fill("#buyer-name", "李小花")
        await page.fill("#buyer-phone", "13812341234")
        await page.fill("#buyer-address", "河北省保定市阜平县城南庄镇1号")
        await page.click("#buy")
        await page.wait_for_selector("#pay:not([hidden])", timeout=10_000)
        await page.click("#pay")
        await page.wait_for_function(
            "document.getElementById('buy-msg').textContent.includes('支付成功')",
            timeout=10_000,
        )
        order_id = (await page.text_content("#buy-msg")).split("订单号")[-1].strip()
        await page.wait_for_function(
            "document.getElementById('feed').textContent.includes('拍了')", timeout=10_000
        )
        feed = await page.text_content("#feed")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.get(f"/api/shop/orders/{order_id}")).status_code == 401  # not ours
        staff = live_server.headers("cs")
        order = (await http.get(f"/api/shop/orders/{order_id}", headers=staff)).json()
    assert order["status"] == "paid"
    assert order["attribution"]["room_id"] == "demo"
    assert order["items"][0]["quantity"] == 2
    assert order["buyer"]["phone"] == "138****1234"
    assert "李*" in feed


async def test_viewer_sees_a_clear_error_for_a_bad_order(live_server):
    async with open_page(live_server) as page:
        await page.wait_for_function("!document.getElementById('buy').disabled", timeout=20_000)
        for sel, value in (
            ("#buyer-name", "王"),
            ("#buyer-phone", "13900001111"),
            ("#buyer-address", "阜平"),
        ):
            await page.fill(sel, value)
        await page.fill("#qty", "100000")  # more than the stock: the form's max is bypassed below
        await page.evaluate("document.getElementById('qty').removeAttribute('max')")
        await page.click("#buy")
        await page.wait_for_function(
            "document.getElementById('buy-msg').className.includes('err')", timeout=10_000
        )
        msg = await page.text_content("#buy-msg")
    assert msg and "请求失败" not in msg  # the shop's own reason is shown, not a generic failure


async def test_viewer_asks_a_question_and_sees_the_answer(live_server):
    async with open_page(live_server) as page:
        await page.fill("#question", "蜂蜜需要放冰箱吗")
        await page.click("#ask-form button")
        await page.wait_for_function(
            "document.getElementById('ask-msg').textContent.startsWith('主播马上回答')",
            timeout=10_000,
        )
        answer = await page.text_content("#ask-msg")
    assert len(answer) > len("主播马上回答：")
