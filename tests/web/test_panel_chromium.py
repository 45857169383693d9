"""The farmer's control panel in headless Chromium: one-click start, pin, flash sale, stop."""

import asyncio

import httpx

from tests.web.test_viewer_page_chromium import open_page


async def _room_stats(live_server, room_id):
    async with httpx.AsyncClient(base_url=live_server.url, headers=live_server.headers()) as http:
        return (await http.get(f"/api/rooms/{room_id}")).json()


async def log_in(page, live_server, role: str = "operator") -> None:
    """Sign in through the login page, as a person would."""
    name, password = live_server.user(role)
    await page.goto(f"{live_server.url}/login?next=/panel", wait_until="domcontentloaded")
    await page.fill("#username", name)
    await page.fill("#password", password)
    await page.click("#login")
    await page.wait_for_url("**/panel")


async def test_farmer_starts_pins_runs_a_flash_sale_and_stops_a_room(live_server):
    async with open_page(live_server, "/panel") as page:
        await page.wait_for_url("**/login?next=%2Fpanel")  # not signed in: sent to log in
        await log_in(page, live_server, "operator")
        await page.wait_for_selector("#products input")
        await page.fill("#title", "老李家的苹果")
        await page.select_option("#persona", "xiaoli")
        await page.check("#products input[value='fp-apple-5kg']")
        await page.check("#products input[value='fp-honey-500g']")
        await page.click("#start")
        await page.wait_for_function(
            "document.getElementById('msg').textContent.includes('开播成功')"
        )
        room_id = (await page.get_attribute("#msg a", "href")).rsplit("/", 1)[-1]
        assert (await _room_stats(live_server, room_id))["persona"] == "xiaoli"

        await page.wait_for_function(
            f"[...document.querySelectorAll('#op-room option')].some(o => o.value === '{room_id}')"
        )
        await page.select_option("#op-room", room_id)
        await page.select_option("#op-sku", "fp-honey-500g")
        await page.click("#pin")
        await page.wait_for_function(
            "document.getElementById('op-msg').textContent.includes('已置顶')"
        )
        for _ in range(100):
            if (await _room_stats(live_server, room_id))["current_sku"] == "fp-honey-500g":
                break
            await asyncio.sleep(0.1)
        assert (await _room_stats(live_server, room_id))["current_sku"] == "fp-honey-500g"

        await page.select_option("#op-sku", "fp-apple-5kg")
        await page.fill("#fs-price", "49.9")
        await page.fill("#fs-qty", "50")
        await page.click("#flash")
        await page.wait_for_function(
            "document.getElementById('op-msg').textContent.includes('秒杀已开始')"
        )
        room = live_server.engine.rooms[room_id]
        for _ in range(100):
            if any(
                "秒杀" in (u.speech.text) for u in list(room.timeline._queue)
            ) or room.director.stats.by_kind.get("reaction"):
                break
            await asyncio.sleep(0.1)
        assert room.director.stats.by_kind.get("reaction", 0) >= 1

        await page.fill("#fs-price", "-1")
        await page.click("#flash")
        await page.wait_for_function("document.getElementById('op-msg').className.includes('err')")

        row = page.locator("#rooms tr", has_text="老李家的苹果")
        await row.locator("button").click()
        await page.wait_for_function(
            "document.getElementById('msg').textContent.includes('已下播')"
        )
    assert room_id not in live_server.engine.rooms
