"""The live console and the ticket desk in headless Chromium: an operator signs in, the room
plays over WHEP, danmaku stream in with their sentiment colours, a take-over line is spoken
(its caption comes from a line event of kind takeover) and a wrong price is refused with its
reason on the page; on a phone the console fits the screen. A complaint from a viewer's chat
becomes a ticket, a cs user replies on the desk, and the viewer's chat shows the reply."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.web.test_workbench_chromium import WAIT, browser, signed_in

ROOM = "demo"
PHONE = {"width": 390, "height": 844}
FRAMES = "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames"


async def console_plays_and_takes_over(srv, page, http: httpx.AsyncClient) -> dict:
    """What both engines must show in the console; returns timings for the caller."""
    t0 = time.monotonic()
    await page.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=45_000)
    first_video = time.monotonic() - t0
    f0 = await page.evaluate(FRAMES)
    await page.wait_for_function(f"{FRAMES} >= {f0 + 10}", timeout=WAIT)
    await page.wait_for_function(
        "document.getElementById('lc-status').textContent === '直播中'", timeout=WAIT
    )
    await page.wait_for_function(  # the events socket is open once a line has arrived
        "window.consoleLines.length > 0", timeout=30_000
    )

    # danmaku stream in, coloured by sentiment
    for i, (text, shown, cls) in enumerate(
        (
            ("大枣太好吃了，真甜，好评！", "真甜", "s-pos"),
            ("上次买的大枣烂了好几个，太差了", "烂了好几个", "s-neg"),
        )
    ):
        res = await http.post(
            f"/api/rooms/{ROOM}/danmaku",
            json={"user_id": f"c{i}", "nickname": "枣迷", "text": text},
        )
        assert res.status_code == 202, res.text
        row = page.locator("#danmaku li", has_text=shown)  # moderation folds full-width marks
        await row.wait_for(timeout=WAIT)
        assert cls in (await row.get_attribute("class")).split()
    await page.wait_for_function(
        "document.getElementById('f-mood').textContent !== '—'", timeout=WAIT
    )

    # a wrong price is refused, with the reason shown
    await page.fill("#takeover-text", "大枣今天只要9.9元")
    await page.click("#takeover-send")
    reason = page.locator("#takeover-reasons li", has_text="9.9")
    await reason.wait_for(timeout=WAIT)
    assert "不是本店商品的价格" in await reason.text_content()
    assert "没有播出" in await page.text_content("#takeover-msg")

    # a take-over line is spoken: its caption comes from a line event of kind takeover
    said = "家人们，大枣29.9元，欢迎下单"
    t1 = time.monotonic()
    await page.fill("#takeover-text", said)
    await page.click("#takeover-send")
    await page.wait_for_function(
        "window.consoleLines.some(l => l.kind === 'takeover' && l.text.includes('欢迎下单'))",
        timeout=30_000,
    )
    spoken_after = time.monotonic() - t1
    await page.wait_for_function(
        "document.getElementById('caption').textContent.includes('欢迎下单')", timeout=WAIT
    )
    assert "k-takeover" in (await page.get_attribute("#caption", "class")).split()
    assert await page.input_value("#takeover-text") == ""
    assert await page.locator("#takeover-reasons li").count() == 0
    return {"first_video_s": round(first_video, 2), "takeover_caption_s": round(spoken_after, 2)}


async def test_operator_console_plays_streams_danmaku_and_takes_over(live_server):
    async with browser() as b, httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        page = await signed_in(b, live_server, f"/workbench/live/{ROOM}")
        times = await console_plays_and_takes_over(live_server, page, http)
        print(
            f"console: video after {times['first_video_s']} s,"
            f" take-over caption after {times['takeover_caption_s']} s"
        )

        # answer mode from the console
        await page.select_option("#mode", "text")
        await page.select_option("#mode-minutes", "5")
        await page.click("#mode-set")
        await page.wait_for_function(
            "document.getElementById('mode-now').textContent.includes('只发文字')", timeout=WAIT
        )
        assert live_server.engine.rooms[ROOM].director.answer_mode == "text"
        await page.select_option("#mode", "spoken")
        await page.click("#mode-set")
        await page.wait_for_function(
            "document.getElementById('mode-now').textContent.includes('语音回答')", timeout=WAIT
        )

        # pin a product from the console
        await page.wait_for_function(
            "document.getElementById('op-sku').options.length > 1", timeout=WAIT
        )
        await page.select_option("#op-sku", "fp-walnut-500g")
        await page.click("#pin")
        await page.wait_for_function(
            "document.getElementById('op-msg').textContent.includes('已置顶')", timeout=WAIT
        )


async def test_console_fits_a_phone(live_server):
    async with browser() as b:
        page = await signed_in(b, live_server, f"/workbench/live/{ROOM}", viewport=PHONE)
        await page.wait_for_function(
            "document.getElementById('video').videoWidth > 0", timeout=45_000
        )
        width = await page.evaluate("document.documentElement.scrollWidth")
        box = await page.locator("#video").bounding_box()
        send = await page.locator("#takeover-send").bounding_box()
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px phone"
    assert box["width"] <= PHONE["width"] and box["height"] > 100
    assert send["height"] >= 40  # a thumb can hit it


async def test_another_shops_operator_gets_no_console(live_server):
    live_server.user("operator", "shop-b", name="op-shop-b")
    async with browser() as b:
        ctx = await b.new_context()
        page = await ctx.new_page()
        page.set_default_timeout(WAIT)
        await page.goto(f"{live_server.url}/login?next=/workbench/live/{ROOM}")
        await page.fill("#username", "op-shop-b")
        await page.fill("#password", live_server._users["op-shop-b"])
        async with page.expect_response(lambda r: f"/workbench/live/{ROOM}" in r.url) as resp:
            await page.click("#login")
        assert (await resp.value).status == 403
        assert await page.locator("#video").count() == 0


async def test_complaint_ticket_reply_shows_in_the_viewers_chat(live_server):
    async with browser() as b:
        viewer = await (await b.new_context()).new_page()
        viewer.set_default_timeout(WAIT)
        await viewer.goto(f"{live_server.url}/rooms/{ROOM}", wait_until="domcontentloaded")
        await viewer.wait_for_function(
            "document.getElementById('caption').textContent.length > 0", timeout=30_000
        )
        await viewer.fill("#nickname", "王大姐")
        await viewer.fill("#chat-text", "上次买的大枣烂了好几个")
        await viewer.click("#chat-form button[type=submit]")
        viewer_id = await viewer.evaluate("myViewerId")

        store = live_server.store
        deadline = time.monotonic() + 20
        ticket = None
        while ticket is None and time.monotonic() < deadline:
            rows = live_server.call(store.tickets.list("open", ROOM, 200))
            ticket = next((t for t in rows if t.user_id == viewer_id), None)
            if ticket is None:
                await asyncio.sleep(0.1)
        assert ticket is not None, "the complaint filed no ticket"

        desk = await signed_in(b, live_server, "/workbench/tickets", role="cs")
        item = desk.locator(f'[data-ticket="{ticket.id}"]')
        await item.wait_for()
        assert "剩余" in await item.locator("[data-sla]").text_content()
        await item.locator("textarea").fill("您好，马上给您补发一箱，<b>请查收</b>")
        await item.locator("[data-reply] button").click()
        await item.locator("[data-msg]", has_text="观众在直播间聊天里看到了").wait_for()
        assert "已回复" in await item.locator("[data-sla]").text_content()

        line = viewer.locator("#chat li.reply", has_text="客服回复你")
        await line.wait_for()
        assert "<b>请查收</b>" in await line.text_content()  # shown as text, not markup

        await item.locator("[data-note]").fill("已补发")
        await item.locator("[data-close]").click()
        await item.locator("[data-msg]", has_text="工单已关闭").wait_for()
        closed = live_server.call(store.tickets.get(ticket.id))
        assert closed.status == "closed" and closed.closed_by == "cs-main"


async def test_ticket_desk_on_a_phone_shows_hostile_text_as_text(live_server):
    store = live_server.store
    t = live_server.call(
        store.tickets.open(
            ROOM,
            "v-phone",
            "<img src=x onerror=alert(1)>",
            "complaint",
            "<script>alert(2)</script>",
        )
    )
    async with browser() as b:
        page = await signed_in(b, live_server, "/workbench/tickets", role="cs", viewport=PHONE)
        dialogs: list[str] = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        item = page.locator(f'[data-ticket="{t.id}"]')
        await item.wait_for()
        assert "<script>alert(2)</script>" in await item.locator(".td-text").text_content()
        await page.wait_for_function(
            f"document.querySelector('[data-ticket=\"{t.id}\"] [data-sla]').textContent"
            ".startsWith('剩余')"
        )
        width = await page.evaluate("document.documentElement.scrollWidth")
        reply = await item.locator("[data-reply] button").bounding_box()
        # a ticket filed while the desk is open is announced (the desk polls every 10 s)
        live_server.call(store.tickets.open(ROOM, "v-later", "后来的", "complaint", "少发了一袋"))
        await page.locator("#new-tickets:not([hidden])", has_text="条新工单").wait_for(
            timeout=30_000
        )
    assert width <= PHONE["width"], f"the desk is {width} px wide on a 390 px phone"
    assert reply["height"] >= 40 and dialogs == []
