"""A phone (390×844, touch) in headless Chromium: a portrait room fills the screen with the
chat and the buy button over the video and the sound button clear of the host; a landscape
room sits on top, full width, with the card and chat below."""

from contextlib import asynccontextmanager

import httpx
import pytest
from playwright.async_api import async_playwright

from avatars.layout import LANDSCAPE, PORTRAIT, Layout
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS

PHONE = {"width": 390, "height": 844}
ROOM = "phone-portrait"


@pytest.fixture(scope="module")
def portrait_room(live_server):
    staff = live_server.headers("admin")  # starting and stopping rooms is staff work
    with httpx.Client(base_url=live_server.url, timeout=20, headers=staff) as http:
        res = http.post(
            "/api/rooms",
            json={"room_id": ROOM, "persona": "xiaoli", "orientation": "portrait"},
        )
        assert res.status_code == 201, res.text
        yield ROOM
        http.post(f"/api/rooms/{ROOM}/stop")


@asynccontextmanager
async def phone_page(live_server, room: str):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
            page = await context.new_page()
            await page.goto(f"{live_server.url}/rooms/{room}", wait_until="domcontentloaded")
            await page.wait_for_function(
                "document.getElementById('video').videoWidth > 0", timeout=30_000
            )
            yield page
        finally:
            await browser.close()


async def box(page, selector: str) -> dict:
    b = await page.locator(selector).bounding_box()
    assert b is not None, f"{selector} is not laid out"
    return b


def host_region(layout: Layout, video: dict, fit: str) -> dict:
    """The host's face and chest (frame px around the head) mapped onto the page."""
    hx, hy = layout.head
    s = layout.scale
    x0, x1 = hx - 150 * s, hx + 150 * s
    y0, y1 = hy - 130 * s, min(hy + 300 * s, layout.table_y)
    k = (max if fit == "cover" else min)(
        video["width"] / layout.width, video["height"] / layout.height
    )
    ox = video["x"] + (video["width"] - layout.width * k) / 2
    oy = video["y"] + (video["height"] - layout.height * k) / 2
    return {"x": ox + x0 * k, "y": oy + y0 * k, "width": (x1 - x0) * k, "height": (y1 - y0) * k}


def overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(a: dict, b: dict) -> bool:
    return (
        a["x"] >= b["x"] - 0.5
        and a["y"] >= b["y"] - 0.5
        and a["x"] + a["width"] <= b["x"] + b["width"] + 0.5
        and a["y"] + a["height"] <= b["y"] + b["height"] + 0.5
    )


async def on_top(page, selector: str) -> bool:
    """Nothing covers the element at its centre (a tap there reaches it)."""
    return await page.evaluate(
        """(sel) => {
            const el = document.querySelector(sel);
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return hit === el || el.contains(hit);
        }""",
        selector,
    )


async def test_portrait_room_fills_a_phone_with_chat_and_buy_over_the_video(
    live_server, portrait_room, tmp_path
):
    async with phone_page(live_server, portrait_room) as page:
        await page.wait_for_function(
            "document.body.classList.contains('orient-portrait')", timeout=10_000
        )
        size = await page.evaluate(
            "[document.getElementById('video').videoWidth, document.getElementById('video').videoHeight]"
        )
        assert size == [720, 1280]
        frames = "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames"
        f0 = await page.evaluate(frames)
        await page.wait_for_timeout(1000)
        assert await page.evaluate(frames) - f0 >= 10, "the video is not playing"
        fit = await page.evaluate("getComputedStyle(document.getElementById('video')).objectFit")
        assert fit == "cover"

        video = await box(page, "#video")
        viewport = {"x": 0, "y": 0, **PHONE}
        assert inside(video, viewport)
        assert video["width"] * video["height"] >= 0.97 * PHONE["width"] * PHONE["height"]
        # no page scroll: the video is the page
        assert await page.evaluate("document.scrollingElement.scrollHeight") <= PHONE["height"] + 1

        await page.wait_for_function("!document.getElementById('buy').disabled", timeout=20_000)
        for sel in ("#buy", "#chat-text", "#unmute", "#status"):
            assert await page.locator(sel).is_visible(), f"{sel} is hidden"
            b = await box(page, sel)
            assert inside(b, viewport) and inside(b, video), f"{sel} at {b}"
        for sel in ("#buy", "#chat-text", "#unmute"):
            assert await on_top(page, sel), f"{sel} is covered"
        host = host_region(PORTRAIT, video, "cover")
        for sel in ("#unmute", "#buy", "#chat-text", "#status"):
            assert not overlap(await box(page, sel), host), f"{sel} covers the host"
        # the rendered product card and caption (bottom of the frame) stay clear of the chat
        k = max(video["width"] / PORTRAIT.width, video["height"] / PORTRAIT.height)
        card_top = video["y"] + (video["height"] - PORTRAIT.height * k) / 2 + PORTRAIT.card[1] * k

        # chat: a comment typed on the phone shows in the list floating over the video
        await page.fill("#chat-text", "手机上看得很清楚")
        await page.press("#chat-text", "Enter")
        mine = page.locator("#chat li", has_text="手机上看得很清楚")
        await mine.first.wait_for(timeout=10_000)
        b = await mine.first.bounding_box()
        assert b and inside(b, viewport) and b["y"] + b["height"] <= card_top + 1
        await page.screenshot(path=str(tmp_path / "phone-portrait.png"))

        # buying: the first tap opens the order sheet, the second one orders
        await page.tap("#buy")
        await page.wait_for_function("document.body.classList.contains('sheet-open')")
        assert await page.locator("#buyer-name").is_visible()
        assert await page.locator("#p-price").is_visible()
        await page.fill("#buyer-name", "王小花")
        await page.fill("#buyer-phone", "13812345678")
        await page.fill("#buyer-address", "河北省保定市阜平县龙泉关镇2号")
        await page.screenshot(path=str(tmp_path / "phone-sheet.png"))
        await page.tap("#buy")
        await page.wait_for_selector("#pay:not([hidden])", timeout=10_000)
        assert inside(await box(page, "#pay"), viewport)
        await page.tap("#sheet-close")
        await page.wait_for_function("!document.body.classList.contains('sheet-open')")
        assert await page.locator("#buy").is_visible()
        assert not await page.locator("#buyer-name").is_visible()

        await page.tap("#unmute")
        assert await page.evaluate("document.getElementById('video').muted") is False


async def test_landscape_room_on_a_phone_sits_on_top_with_the_card_below(live_server, tmp_path):
    async with phone_page(live_server, "demo") as page:
        await page.wait_for_function(
            "document.body.classList.contains('orient-landscape')", timeout=10_000
        )
        video = await box(page, "#video")
        assert abs(video["x"]) <= 0.5 and abs(video["width"] - PHONE["width"]) <= 1
        assert abs(video["height"] - PHONE["width"] * 9 / 16) <= 2
        product = await box(page, "#product")
        assert product["y"] >= video["y"] + video["height"]
        unmute = await box(page, "#unmute")
        assert inside(unmute, video)
        assert not overlap(unmute, host_region(LANDSCAPE, video, "contain"))
        chat = await box(page, ".chat-card")
        caption = await box(page, ".caption-card")
        assert product["y"] < chat["y"] < caption["y"]  # buy first, then chat
        await page.screenshot(path=str(tmp_path / "phone-landscape.png"), full_page=True)
