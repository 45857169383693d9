"""多平台推流 for a room that is off air, in headless Chromium: the panel offers the shop's
off-air room, lists its saved output as 未开播 with the key masked, and removes it."""

import asyncio
import time

import httpx

from testkit.livesrv import free_port
from tests.web.test_panel_chromium import log_in
from tests.web.test_viewer_page_chromium import open_page

SECRET = "kuaishou-stream-key-77aa0c9d1e42"
ROOM = "panel-off-air"


async def test_an_off_air_room_s_saved_output_is_listed_and_removed(live_server):
    async with httpx.AsyncClient(
        base_url=live_server.url, headers=live_server.headers("operator"), timeout=30
    ) as http:
        res = await http.post("/api/rooms", json={"room_id": ROOM, "persona": "xiaoli"})
        assert res.status_code == 201, res.text
        target = {"url": f"rtmp://127.0.0.1:{free_port()}/live", "stream_key": SECRET}
        res = await http.post(f"/api/rooms/{ROOM}/outputs", json=target | {"name": "快手"})
        assert res.status_code == 201, res.text
        assert (await http.post(f"/api/rooms/{ROOM}/stop")).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ROOM not in {r["room_id"] for r in (await http.get("/api/rooms")).json()}:
                break
            await asyncio.sleep(0.1)
        async with open_page(live_server, "/panel") as page:
            await page.wait_for_url("**/login?next=%2Fpanel")
            await log_in(page, live_server, "operator")
            option = f"#op-room option[value='{ROOM}']"
            await page.wait_for_selector(option, state="attached", timeout=20_000)
            assert "未开播" in await page.text_content(option)
            await page.select_option("#op-room", ROOM)
            await page.wait_for_function(
                "document.querySelector(\"#outputs li[data-state='off air']\") !== null",
                timeout=20_000,
            )
            text = await page.text_content("#outputs")
            assert "快手" in text and "未开播" in text
            assert SECRET not in await page.content()
            await page.click("#outputs li button")
            await page.wait_for_function(
                "document.getElementById('out-msg').textContent.includes('已删除')"
            )
            await page.wait_for_function("document.querySelectorAll('#outputs li').length === 0")
        assert (await http.get(f"/api/rooms/{ROOM}/outputs")).json() == []
