"""The ops desk as an ops engineer meets it, in headless Chromium: signed in as ops, the
console shows each room live; a new room appears with its figures; a sale in the room shows
as the session's GMV and nothing about who bought; no merchant buttons; the panel sends ops
to the desk."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import async_playwright

from testkit.livesrv import LiveServer
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS
from tests.web.test_workbench_http import HONEY, paid_order


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("opsui") / "y.db", ops_interval=0.5) as srv:
        yield srv


async def _log_in(page, server, role: str, next_path: str) -> None:
    name, password = server.user(role)
    await page.goto(f"{server.url}/login?next={next_path}", wait_until="domcontentloaded")
    await page.fill("#username", name)
    await page.fill("#password", password)
    await page.click("#login")
    await page.wait_for_url(f"**{next_path}")


async def test_ops_sees_rooms_live_a_new_room_appear_and_no_buyer_data(server):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await (await browser.new_context()).new_page()
            await _log_in(page, server, "ops", "/ops")
            await page.wait_for_selector('#rooms tr[data-room="demo"]', timeout=30_000)
            await page.wait_for_function(
                "parseFloat(document.querySelector('#rooms tr[data-room=\"demo\"] .fps')"
                ".textContent) > 0",
                timeout=30_000,
            )
            assert "CPU" in await page.text_content("#machine")
            assert "网页进程" in await page.text_content("#workers")

            order = paid_order(server, HONEY, 2, room="demo")  # a sale in the room
            async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as admin:
                res = await admin.post(
                    "/api/rooms", json={"room_id": "ui-new", "title": "果园直播"}
                )
                assert res.status_code in (200, 201), res.text
                try:
                    await page.wait_for_selector('#rooms tr[data-room="ui-new"]', timeout=30_000)
                    await page.wait_for_function(
                        "parseFloat(document.querySelector('#rooms tr[data-room=\"ui-new\"] .fps')"
                        ".textContent) > 0",
                        timeout=30_000,
                    )
                    want = f"¥{order['total_fen'] / 100:.2f}"  # this session's sales
                    await page.wait_for_function(
                        "(want) => document.querySelector('#rooms tr[data-room=\"demo\"] .gmv')"
                        ".textContent === want",
                        arg=want,
                        timeout=30_000,
                    )
                    text = await page.text_content("body")
                    assert "王小明" not in text and "龙泉关镇" not in text  # no buyer data
                    assert order["id"] not in text
                    # read-only: no merchant buttons (开播, 秒杀, 下播) anywhere on the desk
                    assert await page.locator("button").count() == 0
                    for word in ("一键开播", "秒杀", "下播"):
                        assert word not in text
                finally:
                    await admin.post("/api/rooms/ui-new/stop")
            await page.wait_for_selector('#rooms tr[data-room="ui-new"]', state="detached")

            # the merchants' panel is not the ops role's: it sends them to the desk
            await page.goto(f"{server.url}/panel", wait_until="domcontentloaded")
            await page.wait_for_url("**/ops", timeout=15_000)
        finally:
            await browser.close()
