"""Issue 22's first journey in headless Chromium, end to end on one page session: a NEW operator
signs in, adds a product with a photo, starts a room with it from 开播向导, follows the
wizard into the room's live console, sees the room play there, and types a take-over line
whose caption shows; a take-over line with a wrong price is refused with the reason shown.
The time from the first click (the sign-in) to video is printed; the target is 60 s."""

from __future__ import annotations

import time

import pytest

from commerce.orders import LineRequest, OrderRequest
from streamer.room import RoomConfig
from testkit.livesrv import LiveServer
from tests.web.test_workbench_chromium import WAIT, browser, photo_png, signed_in

PLAY_WAIT = 60_000  # ms: a cold room's first frame on a loaded machine
SPEAK_WAIT = 45_000  # ms: a take-over waits for the next phrase boundary
SKU = "fp-persimmon-1kg"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("journey")
    with LiveServer(root / "y.db", stamp=False, demo_room=False) as s:
        yield s


async def test_a_new_operator_adds_a_product_starts_a_room_and_takes_over(server):
    name, password = server.user("operator", name="new-operator-zhao")
    async with browser() as b:
        ctx = await b.new_context()
        page = await ctx.new_page()
        page.set_default_timeout(WAIT)
        await page.goto(f"{server.url}/workbench/products/new", wait_until="domcontentloaded")
        await page.wait_for_url("**/login?next=*")  # signed out: sent to log in first
        await page.fill("#username", name)
        await page.fill("#password", password)
        t_first_click = time.monotonic()
        await page.click("#login")
        await page.wait_for_url("**/workbench/products/new")

        # 1. a product with a photo
        await page.fill("#f-sku", SKU)
        await page.fill("#f-name", "阜平柿饼")
        await page.fill("#f-title", "阜平太行山柿饼 1公斤装")
        await page.fill("#f-price", "39.90")
        await page.fill("#f-list-price", "59.00")
        await page.fill("#f-unit", "盒")
        await page.fill("#f-origin", "河北省保定市阜平县")
        await page.fill("#f-category", "干果")
        await page.fill("#f-features", "霜降后采摘\n自然晾晒")
        await page.fill("#b-id", "PS-20261201")
        await page.fill("#b-harvest", "2026-11-20")
        await page.fill("#b-expiry", "2027-05-20")
        await page.fill("#b-qty", "300")
        await page.fill("#b-plot", "城南庄镇柿子沟")
        await page.set_input_files(
            "#f-photo", files=[{"name": "柿饼.png", "mimeType": "image/png", "buffer": photo_png()}]
        )
        await page.click("#save")
        await page.wait_for_url("**/workbench/products?saved=*")
        assert "39.9" in await page.inner_text(f"#products tr[data-sku='{SKU}']")

        # 2. 开播向导, from the workbench's own navigation, with the new product and its photo
        await page.click('.wb-nav a[href="/workbench/start"]')
        await page.wait_for_url("**/workbench/start")
        await page.click('.wz-persona[data-persona="xiaowang"]')
        card = page.locator(f'.wz-product[data-sku="{SKU}"]')
        assert (await card.locator("img").get_attribute("src")).startswith("/media/")
        await card.click()
        await page.click("#to-3")
        assert "阜平太行山柿饼" in await page.text_content("#wz-summary")
        await page.fill("#wz-title", "阜平柿饼专场")
        room = await page.input_value("#wz-room")
        await page.click("#wz-start")
        await page.wait_for_function(
            "window.wizardTimes.playing !== null"
            " && document.querySelector('#wz-video').videoWidth > 0",
            timeout=PLAY_WAIT,
        )
        t_wizard_video = time.monotonic()
        wz = await page.evaluate("window.wizardTimes")
        config = server.engine.configs()[room]
        assert config.lineup == [SKU] and config.persona == "xiaowang"

        # 3. the wizard leads to the new room's live console, where it plays
        link = page.locator("#wz-console")
        assert await link.get_attribute("href") == f"/workbench/live/{room}"
        await link.click()
        await page.wait_for_url(f"**/workbench/live/{room}")
        await page.wait_for_function(
            "document.getElementById('video').videoWidth > 0", timeout=PLAY_WAIT
        )
        t_console_video = time.monotonic()
        assert await page.text_content("#lc-title") == "阜平柿饼专场"
        await page.wait_for_function(
            "document.getElementById('lc-status').textContent === '直播中'", timeout=WAIT
        )
        print(
            f"\njourney: first click (sign in) to video in the wizard"
            f" {t_wizard_video - t_first_click:.2f} s, to video in the console"
            f" {t_console_video - t_first_click:.2f} s;"
            f" wizard first click to video {(wz['playing'] - wz['firstClick']) / 1000:.2f} s"
            " (target 60 s)"
        )
        assert t_wizard_video - t_first_click < 120  # bounded; the figure's target is 60 s

        # muted, the console holds the room's sound back; 开声音 brings it in
        assert (
            await page.evaluate(
                "document.getElementById('video').srcObject.getAudioTracks().length"
            )
            == 0
        )
        await page.click("#unmute")
        await page.wait_for_function(
            "document.getElementById('video').srcObject.getAudioTracks().length === 1"
            " && !document.getElementById('video').muted",
            timeout=WAIT,
        )
        assert await page.text_content("#unmute") == "静音"

        # 4. a wrong price is refused, with the reason shown, and nothing is said
        await page.fill("#takeover-text", "柿饼今天只要3.5元一盒")
        await page.click("#takeover-send")
        reason = page.locator("#takeover-reasons li", has_text="3.5")
        await reason.wait_for(timeout=WAIT)
        assert "不是本店商品的价格" in await reason.text_content()
        assert "没有播出" in await page.text_content("#takeover-msg")

        # 5. a take-over line with the shop's price is said: its caption shows
        await page.fill("#takeover-text", "家人们，柿饼39.9元一盒，霜降后采摘，欢迎下单")
        await page.click("#takeover-send")
        await page.wait_for_function(
            "document.getElementById('caption').textContent.includes('霜降后采摘')",
            timeout=SPEAK_WAIT,
        )
        assert "k-takeover" in (await page.get_attribute("#caption", "class")).split()
        assert await page.locator("#takeover-reasons li").count() == 0
        await ctx.close()
    server.call(server.engine.stop_room(room))


async def test_hostile_input_on_the_other_forms_is_refused_or_shown_as_text(server):
    """The forms test_workbench_chromium does not cover: the wizard, the console's take-over
    and flash sale, the refund reason, the CSV file and the schedule's title."""
    room = "hostile-room"
    server.call(server.engine.start_room(RoomConfig(room_id=room, persona="xiaoli", title="测试")))
    dialogs: list[str] = []
    async with browser() as b:
        page = await signed_in(b, server, "/workbench/start")
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        # the wizard: a room id with markup is refused, with the reason shown
        await page.click('.wz-persona[data-persona="xiaoli"]')
        await page.click("#to-3")
        await page.fill("#wz-title", "<img src=x onerror=alert('title')>")
        await page.click("#step-3 details summary")
        await page.fill("#wz-room", "<script>alert(1)</script>")
        await page.click("#wz-start")
        await page.wait_for_function("document.getElementById('wz-msg').className.includes('err')")
        assert "直播间编号" in await page.text_content("#wz-msg")
        assert "<script>alert(1)</script>" not in server.engine.configs()

        # the console: markup in a take-over line is said as text or refused; a bad flash price
        await page.goto(f"{server.url}/workbench/live/{room}", wait_until="domcontentloaded")
        await page.fill("#takeover-text", "<img src=x onerror=alert(1)>" * 3)
        await page.click("#takeover-send")
        await page.wait_for_function(
            "document.getElementById('takeover-msg').textContent.length > 0", timeout=WAIT
        )
        assert await page.locator("#console img, #caption *").count() == 0
        await page.fill("#takeover-text", "x" * 5000)  # past maxlength: the box cuts it
        assert len(await page.input_value("#takeover-text")) <= 400
        await page.wait_for_function(
            "document.getElementById('op-sku').options.length > 1", timeout=WAIT
        )
        await page.fill("#fs-price", "<script>1</script>")
        await page.click("#flash")
        await page.wait_for_function(
            "document.getElementById('op-msg').className.includes('err')", timeout=WAIT
        )
        assert await page.locator("#op-msg *").count() == 0

        # a refund refused with markup in its reason: shown as text
        store = server.store
        req = OrderRequest(
            buyer_id="",
            buyer_name="<b>赵</b>",
            phone="13700001111",
            address="河北省保定市阜平县天生桥镇5号",
            items=(LineRequest("fp-walnut-500g", 1),),
        )
        order, _ = server.call(store.orders.create(req, "hostile-journey-1"))
        pay = server.call(store.payments.start(order["id"]))
        server.call(store.payments.confirm(pay["payment_id"]))
        server.call(store.orders.transition(order["id"], "request_refund"))
        await page.goto(
            f"{server.url}/workbench/orders?status=refund_requested",
            wait_until="domcontentloaded",
        )
        row = page.locator(f"tr[data-order='{order['id']}']")
        assert await row.locator("b").count() == 0  # the buyer's name is masked text
        form = page.locator(f".refund-form[data-order='{order['id']}']")
        await form.locator("input[name=reason]").fill("<img src=x onerror=alert('reason')>")
        await form.locator("button[value=refuse]").click()
        status = row.locator(".status")
        await status.filter(has_text="已拒绝退款").wait_for()
        assert "<img src=x onerror=alert('reason')>" in await status.inner_text()
        assert await page.locator("#orders img").count() == 0

        # a CSV that is a picture, and one past the size limit: refused with a reason
        await page.goto(f"{server.url}/workbench/orders", wait_until="domcontentloaded")
        await page.click("#csv-box summary")
        for name, data in (
            ("发货.csv", photo_png()),
            ("大.csv", b"YL1,<b>x</b>,SF1\n" * 200_000),
        ):
            await page.evaluate("document.getElementById('csv-msg').textContent = ''")
            await page.set_input_files(
                "#csv-file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
            )
            await page.click("#csv-ship")
            await page.wait_for_function(
                "document.getElementById('csv-msg').textContent.length > 0", timeout=WAIT
            )
            msg = await page.text_content("#csv-msg")
            errors = await page.locator("#csv-errors li").all_inner_texts()
            assert "已发货 0 单" in msg or "CSV" in msg or "超过" in msg, (name, msg, errors[:3])
            assert await page.locator("#csv-errors *:not(li)").count() == 0

        # the schedule: script in a title is kept as text
        await page.goto(f"{server.url}/workbench/schedule", wait_until="domcontentloaded")
        await page.fill("#s-room", "xss-slot")
        await page.fill("#s-title", "<script>alert('slot')</script>早市")
        await page.fill("#s-start", "03:00")
        await page.fill("#s-end", "04:00")
        async with page.expect_navigation():
            await page.click("#s-save")
        section = page.locator('section[data-room="xss-slot"]')
        await section.wait_for()
        assert "<script>alert('slot')</script>早市" in await section.inner_text()
        await page.context.close()
    server.call(server.engine.stop_room(room))
    assert dialogs == []
