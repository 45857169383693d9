"""多平台推流 in the panel, in headless Chromium: a bad address is refused with its reason, a
target that does not answer shows its error, and the stream key is never shown."""

from testkit.livesrv import free_port
from tests.web.test_panel_chromium import log_in
from tests.web.test_viewer_page_chromium import open_page

SECRET = "douyin-stream-key-5f3a9c0e7b21"


async def test_farmer_adds_a_push_sees_its_error_and_stops_it(live_server):
    async with open_page(live_server, "/panel") as page:
        await page.wait_for_url("**/login?next=%2Fpanel")  # the page's own redirect first
        await log_in(page, live_server, "operator")
        await page.wait_for_selector("#op-room option[value='demo']", state="attached")
        await page.fill("#out-name", "抖音")
        await page.fill("#out-url", "http://example.com/live")
        await page.fill("#out-key", SECRET)
        await page.click("#out-add")
        await page.wait_for_function(
            "document.getElementById('out-msg').textContent.includes('rtmp://')"
        )
        assert "err" in await page.get_attribute("#out-msg", "class")
        await page.fill("#out-url", f"rtmp://127.0.0.1:{free_port()}/live")
        await page.click("#out-add")
        await page.wait_for_function(
            "document.getElementById('out-msg').textContent.includes('已添加')"
        )
        assert await page.input_value("#out-key") == ""
        row = "#outputs li:not([data-state='live'])"
        await page.wait_for_function(
            f"[...document.querySelectorAll(\"{row}\")].some(li => li.textContent.includes('错误'))",
            timeout=20_000,
        )
        text = await page.text_content("#outputs")
        assert "抖音" in text and "重连" in text
        assert SECRET not in await page.content()
        await page.click("#outputs li button")
        await page.wait_for_function(
            "document.getElementById('out-msg').textContent.includes('已停止推流')"
        )
        await page.wait_for_function("document.querySelectorAll('#outputs li').length === 0")
