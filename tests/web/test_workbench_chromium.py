"""The farmer's workbench in headless Chromium: an operator adds a product with a photo; a
viewer on a phone buys, the operator ships, the buyer's page shows 已发货 and the tracking
number; a CSV ships 99 of 100 orders and names the bad line; hostile input is refused or
shown as text."""

import io
import secrets
from contextlib import asynccontextmanager

import httpx
from PIL import Image
from playwright.async_api import async_playwright

from commerce.orders import LineRequest, OrderRequest
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS

PHONE = {"width": 390, "height": 844}
WAIT = 20_000  # ms: every wait in the browser is bounded


@asynccontextmanager
async def browser():
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()


async def signed_in(b, live_server, path: str, role: str = "operator", **context):
    """A page of a new browser context, signed in through the login page, at `path`."""
    ctx = await b.new_context(**context)
    page = await ctx.new_page()
    page.set_default_timeout(WAIT)
    name, password = live_server.user(role)
    await page.goto(f"{live_server.url}{path}", wait_until="domcontentloaded")
    await page.wait_for_url("**/login?next=*")  # signed out: sent to log in first
    await page.fill("#username", name)
    await page.fill("#password", password)
    await page.click("#login")
    await page.wait_for_url(f"**{path}")
    return page


def photo_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 40, 30)).save(buf, "PNG")
    return buf.getvalue()


def paid_order(live_server, sku: str = "fp-walnut-500g") -> dict:
    store = live_server.store
    req = OrderRequest(
        buyer_id="",
        buyer_name="赵大",
        phone=f"137{secrets.randbelow(10**8):08d}",
        address="河北省保定市阜平县天生桥镇5号",
        items=(LineRequest(sku, 1),),
    )
    order, _ = live_server.call(store.orders.create(req, secrets.token_hex(8)))
    pay = live_server.call(store.payments.start(order["id"]))
    live_server.call(store.payments.confirm(pay["payment_id"]))
    return order


async def test_operator_adds_a_product_with_a_photo_and_sees_it_listed(live_server):
    async with browser() as b:
        page = await signed_in(b, live_server, "/workbench/products/new")
        await page.fill("#f-sku", "fp-persimmon-1kg")
        await page.fill("#f-name", "阜平柿饼")
        await page.fill("#f-title", "阜平太行山柿饼 1公斤装")
        await page.fill("#f-price", "39.90")
        await page.fill("#f-list-price", "59.00")
        await page.fill("#f-unit", "盒")
        await page.fill("#f-origin", "河北省保定市阜平县")
        await page.fill("#f-category", "干果")
        await page.fill("#f-certs", "绿色食品、地理标志产品")
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
        row = page.locator("#products tr[data-sku='fp-persimmon-1kg']")
        assert "阜平太行山柿饼 1公斤装" in await row.inner_text()
        assert "300" in await row.inner_text() and "39.9" in await row.inner_text()
        await row.locator("a", has_text="编辑").click()
        await page.wait_for_url("**/workbench/products/fp-persimmon-1kg")
        img = page.locator("#photos img").first
        await page.wait_for_function(
            "document.querySelector('#photos img') && document.querySelector('#photos img').naturalWidth === 320"
        )
        assert (await img.get_attribute("src")).startswith("/media/")
        assert "PS-20261201" in await page.inner_text("#batches")


async def test_phone_viewer_buys_operator_ships_buyer_sees_tracking(live_server):
    pinned = "fp-honey-500g"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        res = await http.post(
            "/api/shop/rooms/demo/pin",
            json={"sku": pinned},
            headers=live_server.headers("operator"),
        )
    assert res.status_code < 300, res.text
    async with browser() as b:
        ctx = await b.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        buyer = await ctx.new_page()
        buyer.set_default_timeout(WAIT)
        await buyer.goto(f"{live_server.url}/rooms/demo", wait_until="domcontentloaded")
        await buyer.wait_for_function(
            f"!document.getElementById('buy').disabled && currentSku === '{pinned}'"
        )
        await buyer.tap("#buy")  # on a phone the first tap opens the order sheet
        await buyer.fill("#buyer-name", "李小花")
        await buyer.fill("#buyer-phone", "13812341234")
        await buyer.fill("#buyer-address", "河北省保定市阜平县城南庄镇1号")
        if await buyer.evaluate("document.body.classList.contains('sheet-open')"):
            await buyer.tap("#buy")
        else:
            await buyer.click("#buy")
        await buyer.wait_for_selector("#pay:not([hidden])")
        await buyer.tap("#pay")
        await buyer.wait_for_selector("#order-link")
        order_id = (await buyer.inner_text("#buy-msg")).split("订单号")[1].split()[0]
        order = live_server.call(live_server.store.orders.get(order_id))
        assert [line["sku"] for line in order["items"]] == [pinned]  # the pinned product
        await buyer.click("#order-link")
        await buyer.wait_for_url(f"**/orders/{order_id}")  # the token left the address bar
        await buyer.wait_for_function(
            "document.getElementById('status').textContent === '已支付，待发货'"
        )

        farmer = await signed_in(b, live_server, "/workbench/orders?status=paid")
        form = farmer.locator(f".ship-form[data-order='{order_id}']")
        await form.locator("input[name=courier]").fill("顺丰速运")
        await form.locator("input[name=tracking_no]").fill("SF1400000001")
        await form.locator("button").click()
        row = farmer.locator(f"tr[data-order='{order_id}'] .status")
        await farmer.wait_for_function(
            f"document.querySelector(\"tr[data-order='{order_id}'] .status\").textContent.includes('已发货')"
        )
        assert "SF1400000001" in await row.inner_text()

        await buyer.reload(wait_until="domcontentloaded")
        await buyer.wait_for_function("document.getElementById('status').textContent === '已发货'")
        assert await buyer.inner_text("#tracking") == "SF1400000001"
        assert await buyer.inner_text("#courier") == "顺丰速运"
        width = await buyer.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the phone


async def test_csv_ships_99_and_reports_the_unknown_order_by_line(live_server):
    lines = ["订单号,快递公司,运单号"]
    lines += [f"{paid_order(live_server)['id']},中通快递,ZT{700000 + i}" for i in range(99)]
    lines.insert(9, "YL000BOGUS,中通快递,ZT123456")  # line 10 of the file
    async with browser() as b:
        page = await signed_in(b, live_server, "/workbench/orders", role="cs")
        await page.click("#csv-box summary")
        await page.set_input_files(
            "#csv-file",
            files=[
                {"name": "发货.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode()}
            ],
        )
        await page.click("#csv-ship")
        await page.wait_for_function(
            "document.getElementById('csv-msg').textContent.includes('已发货')"
        )
        assert "已发货 99 单" in await page.inner_text("#csv-msg")
        errors = await page.locator("#csv-errors li").all_inner_texts()
        assert errors == ["第 10 行（YL000BOGUS）：订单不存在：YL000BOGUS"]


async def test_hostile_input_is_refused_or_shown_as_text(live_server):
    dialogs: list[str] = []
    async with browser() as b:
        page = await signed_in(b, live_server, "/workbench/products/new")
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        await page.fill("#f-sku", "xss-jujube")
        await page.fill("#f-name", "<script>alert('name')</script>")
        await page.fill("#f-title", "<img src=x onerror=alert('title')>大枣")
        await page.fill("#f-price", "19.90")
        await page.fill("#f-origin", "<b>阜平</b>")
        await page.fill("#b-id", "XSS-B1")
        await page.fill("#b-qty", "10")
        await page.fill("#b-plot", "1号地")
        # a PHP script named .jpg and sent as image/jpeg
        await page.set_input_files(
            "#f-photo",
            files=[
                {
                    "name": "shell.jpg",
                    "mimeType": "image/jpeg",
                    "buffer": b"<?php system($_GET['c']); ?>",
                }
            ],
        )
        await page.click("#save")
        await page.wait_for_function("document.getElementById('msg').className.includes('err')")
        assert "图片未上传" in await page.inner_text("#msg")
        assert "不是图片" in await page.inner_text("#msg")
        # an oversized file that is no picture: refused, the product stays as it was
        await page.set_input_files(
            "#f-photo",
            files=[
                {
                    "name": "big.jpg",
                    "mimeType": "image/jpeg",
                    "buffer": b"\xff\xd8\xff" + b"\0" * (3 << 20),
                }
            ],
        )
        await page.click("#save")
        await page.wait_for_function(
            "document.getElementById('msg').textContent.includes('图片未上传')"
            " && !document.getElementById('save').disabled"
        )
        detail = live_server.call(live_server.store.product_detail("xss-jujube"))
        assert detail["media"] == []

        await page.goto(f"{live_server.url}/workbench/products", wait_until="domcontentloaded")
        row = page.locator("#products tr[data-sku='xss-jujube'] td.name")
        assert await row.inner_text() == "<img src=x onerror=alert('title')>大枣"
        assert await page.locator("#products img").count() == 0
        # a bad price in the bulk editor is refused in the preview, nothing applied
        await page.goto(f"{live_server.url}/workbench/products/bulk", wait_until="domcontentloaded")
        await page.locator("tr[data-sku='xss-jujube'] .new-price").fill("<script>1</script>")
        await page.click("#preview")
        await page.wait_for_selector("#preview-table")
        assert await page.is_disabled("#apply")
        assert "格式" in await page.inner_text("#preview-table") or "金额" in await page.inner_text(
            "#preview-table"
        )
        # courier names with markup on the orders page are refused or shown as text
        order = paid_order(live_server)
        await page.goto(
            f"{live_server.url}/workbench/orders?status=paid", wait_until="domcontentloaded"
        )
        form = page.locator(f".ship-form[data-order='{order['id']}']")
        await form.locator("input[name=courier]").fill("<svg onload=alert(1)>")
        await form.locator("input[name=tracking_no]").fill("<script>")
        await form.locator("button").click()
        await page.wait_for_function(
            f"document.querySelector(\".ship-form[data-order='{order['id']}'] .msg\").textContent.length > 0"
        )
        assert "运单号" in await form.locator(".msg").inner_text()
    assert dialogs == []
