"""The public trace page: its QR code points at the shop's own address (never at whatever Host
a request claimed), and the JSON it embeds parses in a real browser, whatever farmers typed."""

from __future__ import annotations

from datetime import date

import cv2
import numpy as np
import pytest
from playwright.async_api import async_playwright

from commerce.catalog import BatchSpec
from tests.commerce.conftest import add_product, farm_product
from web.shop_pages import json_for_script

ACT_AS_SHOP = True  # these tests run the shop: staff calls carry an admin token

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = '</script><script>window.pwned=1</script><!-- &amp; &lt; "q" \u2028\u2029 \\ 李'


def decode_qr(png: bytes) -> str:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    img = cv2.copyMakeBorder(img, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    # OpenCV's detectors are picky about module size (the URL's length, with the test server's
    # port, changes the code's version): try several scales and both detectors
    detectors = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        detectors.append(cv2.QRCodeDetectorAruco())
    for scale in (1, 2, 3, 4, 5, 6):
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        for detector in detectors:
            text, _, _ = detector.detectAndDecode(big)
            if text:
                return text
    raise AssertionError("no QR code found")


@pytest.fixture(autouse=True)
def no_public_url(monkeypatch):
    monkeypatch.delenv("YUNLIAN_PUBLIC_URL", raising=False)


async def test_qr_code_ignores_a_forged_host_header(store, http):
    batch = await add_product(store, "qr-box", 5)
    port = http.base_url.port
    for host in (
        "evil.example",
        "evil.example:8000",
        "localhost:1@evil.example",
        "127.0.0.1.evil.example",
    ):
        r = await http.get(f"/trace/{batch}/qr.png", headers={"Host": host})
        assert r.status_code == 200, (host, r.text)
        assert decode_qr(r.content) == f"http://127.0.0.1:{port}/trace/{batch}", host


async def test_qr_code_keeps_a_loopback_host_for_local_demos(store, http):
    batch = await add_product(store, "qr-local", 5)
    r = await http.get(f"/trace/{batch}/qr.png", headers={"Host": "localhost:8123"})
    assert decode_qr(r.content) == f"http://localhost:8123/trace/{batch}"
    r = await http.get(f"/trace/{batch}/qr.png")
    assert decode_qr(r.content) == f"http://127.0.0.1:{http.base_url.port}/trace/{batch}"


async def test_qr_code_uses_the_configured_public_url(store, http, monkeypatch):
    batch = await add_product(store, "qr-pub", 5)
    monkeypatch.setenv("YUNLIAN_PUBLIC_URL", "https://shop.example.cn/")
    r = await http.get(f"/trace/{batch}/qr.png", headers={"Host": "evil.example"})
    assert decode_qr(r.content) == f"https://shop.example.cn/trace/{batch}"
    monkeypatch.setenv("YUNLIAN_PUBLIC_URL", "javascript:alert(1)")  # refused: the default
    r = await http.get(f"/trace/{batch}/qr.png", headers={"Host": "evil.example"})
    assert decode_qr(r.content) == f"http://127.0.0.1:{http.base_url.port}/trace/{batch}"


def test_json_for_script_cannot_close_the_element_and_round_trips():
    import json

    text = json_for_script({"x": HOSTILE})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"x": HOSTILE}


async def test_trace_page_json_parses_in_chromium_and_runs_nothing(store, http):
    facts = farm_product("trace-json", 10)
    batch = "tj-b1"
    await store.add_product(
        facts.__class__(**{**facts.__dict__, "title": "阜平<大枣>&" + HOSTILE}),
        [BatchSpec(batch, date.today(), 10, HOSTILE)],
    )
    await store.trace.append([(batch, "packing", store.clock(), {"note": HOSTILE})])
    want = (await http.get(f"/api/shop/trace/batches/{batch}")).json()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 360, "height": 740})
            await page.goto(f"{http.base_url}/trace/{batch}", wait_until="load")
            got = await page.evaluate(
                "JSON.parse(document.getElementById('trace-data').textContent)"
            )
            pwned = await page.evaluate("window.pwned === undefined")
            scripts = await page.evaluate("document.scripts.length")
            # a 360 px phone: nothing wider than the screen (hashes and long text wrap)
            phone_width = await page.evaluate("document.documentElement.scrollWidth")
            title = await page.inner_text("h1")
            await page.set_viewport_size({"width": 1280, "height": 800})
            main = await page.evaluate("document.querySelector('main').getBoundingClientRect()")
        finally:
            await browser.close()
    assert got == want
    assert got["origin_plot"] == HOSTILE
    assert pwned and scripts == 1
    assert phone_width <= 360, f"the trace page is {phone_width} px wide on a 360 px phone"
    assert title.startswith("阜平<大枣>&</script><script>window.pwned=1</script>")  # as text
    assert main["width"] <= 720 and main["x"] > 200  # a centred column on a desktop
