"""Two viewers in headless Chromium: a comment typed by one flies over the other's video, and
a question typed there is answered on air, addressed to the asker."""

import asyncio

from playwright.async_api import async_playwright

from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS


async def test_comments_reach_other_viewers_overlay_and_questions_are_spoken(live_server):
    room = live_server.engine.rooms["demo"]
    lines = []
    q = live_server.engine.subscribe("demo", maxsize=1000)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            a = await (await browser.new_context()).new_page()
            b = await (await browser.new_context()).new_page()
            for page in (a, b):
                await page.goto(f"{live_server.url}/rooms/demo", wait_until="domcontentloaded")
                await page.wait_for_function("document.getElementById('video').videoWidth > 0")
            await a.fill("#nickname", "老张")
            hostile = '<img src=x onerror="window.__pwned=1">阜平大枣真甜'
            await a.fill("#chat-text", hostile)
            await a.click("#chat-form button")
            flying = b.locator("#danmaku-layer .dm", has_text="阜平大枣真甜")
            await flying.first.wait_for(timeout=10_000)
            assert "<img" in await flying.first.text_content()  # shown as text, never as HTML
            listed = b.locator("#chat li", has_text="老张：")
            await listed.first.wait_for(timeout=5_000)
            assert await b.evaluate("window.__pwned === undefined")
            assert await b.locator("#danmaku-layer img").count() == 0

            await a.fill("#chat-text", "核桃是薄皮的吗？")
            await a.click("#chat-form button")
            reply = a.locator("#chat li.reply")
            await reply.first.wait_for(timeout=10_000)
            assert "主播回复你" in await reply.first.text_content()
            # the answer is spoken: its caption reaches the other viewer, addressed to 老张
            await b.wait_for_function(
                "document.getElementById('caption').textContent.startsWith('老张')",
                timeout=15_000,
            )
            assert await b.locator("#chat li.reply").count() == 0  # the reply is the asker's
        finally:
            await browser.close()
            while not q.empty():
                lines.append(q.get_nowait())
            live_server.engine.unsubscribe("demo", q)
    spoken = [e for e in lines if e.type == "line" and e.kind == "answer"]
    assert spoken and spoken[0].text.startswith("老张")
    assert room.running
    await asyncio.sleep(0)
