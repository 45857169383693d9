"""开播向导 and 排班 in headless Chromium: an operator picks a host, two products and 480p
(省流) and the room plays on the wizard's page over WHEP at 854×480 (time from the first click printed); on a 390×844
phone an operator adds a slot from the 排班 page, and an overlapping one is refused with the
reason shown as text."""

from __future__ import annotations

import pytest

from testkit.livesrv import LiveServer
from tests.web.test_workbench_chromium import PHONE, browser, signed_in

PLAY_WAIT = 60_000  # ms: a cold room's first frame on a loaded machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("wizard")
    with LiveServer(root / "y.db", stamp=False, demo_room=False) as s:
        yield s


async def test_the_wizard_starts_a_room_that_plays_on_its_page(server):
    async with browser() as b:
        page = await signed_in(b, server, "/workbench/start")
        await page.click('.wz-persona[data-persona="xiaoli"]')
        await page.click('.wz-product[data-sku="fp-apple-5kg"]')
        await page.click('.wz-product[data-sku="fp-honey-500g"]')
        await page.click("#to-3")
        assert "小李" in await page.text_content("#wz-summary")
        await page.fill("#wz-title", "阜平苹果<b>专场</b>")
        room = await page.input_value("#wz-room")
        assert room.startswith("fp-")
        # 清晰度: 720p 高清 by default; this room goes out at 480p 省流
        assert await page.input_value("#wz-resolution") == "720p"
        assert "480p 省流" in await page.text_content("#wz-resolution")
        await page.select_option("#wz-resolution", "480p")
        await page.click("#wz-start")
        await page.wait_for_function(
            "window.wizardTimes.playing !== null && document.querySelector('#wz-video').videoWidth > 0",
            timeout=PLAY_WAIT,
        )
        t = await page.evaluate("window.wizardTimes")
        print(
            f"\nwizard: first click to video {(t['playing'] - t['firstClick']) / 1000:.2f} s, "
            f"开播 click to video {(t['playing'] - t['startClick']) / 1000:.2f} s"
        )
        assert "直播中" in await page.text_content("#wz-status")
        assert await page.text_content("#wz-live-title") == "直播中：阜平苹果<b>专场</b>"  # text
        config = server.engine.configs()[room]
        assert config.persona == "xiaoli"
        assert (config.width, config.height) == (854, 480)
        assert await page.evaluate("document.querySelector('#wz-video').videoWidth") == 854
        assert config.lineup == ["fp-apple-5kg", "fp-honey-500g"]
        # a second start under the same id is refused, and the reason is shown
        await page.goto(f"{server.url}/workbench/start")
        await page.click('.wz-persona[data-persona="xiaowang"]')
        await page.click("#to-3")
        await page.click("#step-3 details summary")
        await page.fill("#wz-room", room)
        await page.click("#wz-start")
        await page.wait_for_function(
            "document.querySelector('#wz-msg').textContent.includes('already live')"
        )
        await page.context.close()
    server.call(server.engine.stop_room(room))


async def test_an_operator_plans_a_slot_on_a_phone(server):
    async with browser() as b:
        page = await signed_in(b, server, "/workbench/schedule", viewport=PHONE)
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.fill("#s-room", "phone-room")
        await page.fill("#s-title", "小王早市")
        await page.select_option("#s-persona", "xiaowang")
        await page.fill("#s-start", "06:00")
        await page.fill("#s-end", "12:00")
        await page.check('input[name="lineup"][value="fp-jujube-500g"]')
        await page.check('input[name="lineup"][value="fp-millet-2500g"]')
        async with page.expect_navigation():
            await page.click("#s-save")
        row = page.locator('section[data-room="phone-room"] tr[data-slot]')
        await row.first.wait_for()
        text = await row.first.text_content()
        assert "06:00–12:00" in text and "小王" in text and "阜平" in text
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # 修改: the form takes the slot's values, and a change is saved in place
        await row.first.locator(".sc-edit").click()
        assert await page.input_value("#s-start") == "06:00"
        assert await page.is_checked('input[name="lineup"][value="fp-millet-2500g"]')
        await page.fill("#s-end", "12:30")
        async with page.expect_navigation():
            await page.click("#s-save")
        await row.first.wait_for()
        assert "06:00–12:30" in await row.first.text_content()
        assert await row.count() == 1

        await page.fill("#s-room", "phone-room")
        await page.select_option("#s-persona", "xiaoli")
        await page.fill("#s-start", "11:00")
        await page.fill("#s-end", "13:00")
        await page.click("#s-save")
        await page.wait_for_function(
            "document.querySelector('#s-msg').textContent.includes('重叠')"
        )
        assert "06:00–12:30" in await page.text_content("#s-msg")
        await page.context.close()
