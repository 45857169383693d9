"""Accounts as people meet them, in headless Chromium: an operator signs in, starts a room
and watches it live; a customer-service user cannot start one; a change without the CSRF
token is refused; the 11th wrong password in a row is throttled."""

from playwright.async_api import async_playwright

from tests.web.test_panel_chromium import log_in
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS


async def test_operator_starts_a_room_and_customer_service_cannot(live_server):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            op = await (await browser.new_context()).new_page()
            await log_in(op, live_server, "operator")
            await op.wait_for_selector("#products input")
            await op.fill("#title", "旅程测试直播间")
            await op.click("#start")
            await op.wait_for_function(
                "document.getElementById('msg').textContent.includes('开播成功')"
            )
            room_id = (await op.get_attribute("#msg a", "href")).rsplit("/", 1)[-1]
            assert live_server.engine.rooms[room_id].config.owner == "operator-main"
            await op.goto(f"{live_server.url}/rooms/{room_id}", wait_until="domcontentloaded")
            await op.wait_for_function(
                "document.getElementById('video').videoWidth > 0", timeout=30_000
            )
            assert await op.text_content("#status") == "直播中"

            # the same session, but a change sent without the CSRF token
            status = await op.evaluate(
                """async (rid) => {
                    const x = new XMLHttpRequest();
                    x.open('POST', `/api/rooms/${rid}/stop`, false);
                    x.send();
                    return x.status;
                }""",
                room_id,
            )
            assert status == 403
            assert room_id in live_server.engine.rooms

            cs = await (await browser.new_context()).new_page()
            await log_in(cs, live_server, "cs")
            await cs.wait_for_selector("#products input")
            await cs.click("#start")
            await cs.wait_for_function("document.getElementById('msg').className.includes('err')")
            assert "无权" in await cs.text_content("#msg")
        finally:
            await browser.close()
    async with __import__("httpx").AsyncClient(
        base_url=live_server.url, headers=live_server.headers()
    ) as admin:
        await admin.post(f"/api/rooms/{room_id}/stop")


async def test_the_login_page_throttles_the_eleventh_wrong_password(live_server):
    name, password = live_server.user("ops", name="ops-journey")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{live_server.url}/login", wait_until="domcontentloaded")
            for i in range(10):
                await page.fill("#username", name)
                await page.fill("#password", f"wrong-password-{i}")
                await page.click("#login")
                await page.wait_for_function(
                    "document.getElementById('login-msg').textContent.includes('错误')"
                )
                await page.evaluate("document.getElementById('login-msg').textContent = ''")
            await page.fill("#password", password)
            await page.click("#login")
            await page.wait_for_function(
                "document.getElementById('login-msg').textContent.includes('次数过多')"
            )
            assert page.url.endswith("/login")
        finally:
            await browser.close()
