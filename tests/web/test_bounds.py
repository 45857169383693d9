"""Issue 16, failures 2, 3 and 6 replayed against a live server: the open redirect after
login, the 500s on huge integers, deep JSON, loose amounts and control characters, and
absolute URLs built from a hostile Host header. Each one now gets a 4xx with a reason, a
safe default, or this server's own address."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection
from playwright.async_api import async_playwright

from commerce.text import hidden_chars
from testkit.livesrv import LiveServer
from tests.commerce.test_trace_public import decode_qr
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS

SKU = "fp-jujube-500g"
EVIL = "evil.example"
HOSTILE_TEXT = ["李\x00四", "\u202e四李", "李\x1b[31m四", "李\u200b四", "李\x7f四", "李\u2028四"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("bounds") / "y.db", stamp=False) as srv:
        yield srv


@pytest.fixture
async def admin(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=server.headers()) as c:
        yield c


@pytest.fixture
async def anon(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
async def viewer(server):
    """A viewer who opened the room's page: chat is budgeted per viewer, so each test's
    posts count against its own identity rather than the address all tests share."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        (await c.get("/rooms/demo")).raise_for_status()
        assert c.cookies.get("yl_viewer"), "the viewer page issues a chat identity"
        yield c


def refused(res: httpx.Response, status: int = 422) -> str:
    """The response is `status` with a reason in `detail`; returns the reason."""
    assert res.status_code == status, res.text
    detail = res.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


def buyer(**kw) -> dict:
    return {"name": "李四", "phone": "13800000016", "address": "河北省保定市阜平县1号", **kw}


def product(sku: str, **kw) -> dict:
    return {
        "sku": sku,
        "name": "梨",
        "title": "阜平酥梨",
        "price": "45.5",
        "unit": "箱",
        "origin": "河北保定阜平县",
        "batches": [
            {
                "id": f"{sku}-a",
                "harvest_date": str(date.today()),
                "quantity": 40,
                "origin_plot": "3号地",
            }
        ],
        **kw,
    }


# --- 2. open redirect after login --------------------------------------------------------


@pytest.mark.parametrize(
    "next_",
    [
        "/\\evil.example/",  # /%5Cevil.example/ once the page decodes its query
        "/\t/evil.example/",  # /%09/evil.example/
        "/\n/evil.example/",
        " //evil.example/",
        "//evil.example",
        "\\\\evil.example",
        "/%2F/evil.example",
        "/%252F%252Fevil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "/\u3000/evil.example",
    ],
)
async def test_login_sends_a_hostile_next_to_the_panel(server, anon, next_):
    name, password = server.user("operator")
    res = await anon.post(
        "/api/auth/login", json={"username": name, "password": password, "next": next_}
    )
    assert res.status_code == 200, res.text
    assert res.json()["next"] == "/panel"


@pytest.mark.parametrize("next_", ["/dashboard", "/analytics?days=7", "/rooms/demo#chat"])
async def test_login_keeps_a_same_site_next(server, anon, next_):
    name, password = server.user("operator")
    res = await anon.post(
        "/api/auth/login", json={"username": name, "password": password, "next": next_}
    )
    assert res.json()["next"] == next_


async def test_the_login_page_in_chromium_never_leaves_the_site(server):
    name, password = server.user("operator")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            for query, lands in [
                ("next=/%5Cevil.example/", "/panel"),
                ("next=/%09/evil.example/", "/panel"),
                ("next=https://evil.example/", "/panel"),
                ("next=/dashboard", "/dashboard"),
            ]:
                page = await (await browser.new_context()).new_page()
                await page.goto(f"{server.url}/login?{query}", wait_until="domcontentloaded")
                await page.fill("#username", name)
                await page.fill("#password", password)
                await page.click("#login")
                await page.wait_for_url(lambda url: "/login" not in url, timeout=15_000)
                assert page.url.split("?")[0] == server.url + lands, (query, page.url)
                await page.context.close()
        finally:
            await browser.close()


# --- 3. huge integers, deep JSON, loose amounts, control characters ----------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/shop/rooms/demo/flash-sales", {"sku": SKU, "price": "1", "quantity": 2**63}),
        ("POST", "/api/shop/rooms/demo/flash-sales", {"sku": SKU, "price": "1", "quantity": 2**62}),
        (
            "POST",
            "/api/shop/rooms/demo/flash-sales",
            {"sku": SKU, "price": "1", "quantity": 5, "per_user_limit": 10**23},
        ),
        (
            "POST",
            "/api/shop/rooms/demo/coupons",
            {"code": "BIG1", "kind": "fixed", "value": "1", "per_user_limit": 10**23},
        ),
        (
            "POST",
            "/api/shop/rooms/demo/coupons",
            {"code": "BIG2", "kind": "fixed", "value": "1", "total_limit": 10**23},
        ),
        ("POST", "/api/shop/products", product("fp-big-1", per_user_limit=10**23)),
        (
            "POST",
            "/api/shop/orders",
            {"buyer": buyer(), "items": [{"sku": SKU, "quantity": 2**63}]},
        ),
        ("GET", "/api/audit?before_id=" + str(10**23), None),
        ("GET", "/api/shop/near-expiry?days=" + str(10**23), None),
        ("GET", "/api/shop/trace/proofs/inclusion?index=" + str(10**23), None),
        ("GET", "/api/shop/trace/proofs/consistency?first=1&second=" + str(10**23), None),
    ],
)
async def test_huge_integers_are_a_422_with_a_reason(admin, server, method, path, body):
    res = await admin.request(method, path, json=body, headers={"Idempotency-Key": "big-int"})
    refused(res)
    promos = (await admin.get("/api/shop/rooms/demo/promotions")).json()
    assert not promos.get("flash_sales") and not promos.get("coupons"), promos
    assert (await admin.get("/api/shop/products/fp-big-1")).status_code == 404


async def test_a_signed_webhook_nested_5000_deep_is_refused_before_parsing(anon, server):
    for body in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 2000 + b"1" + b"}" * 2000):
        res = await anon.post(
            "/api/shop/payments/webhook",
            content=body,
            headers={"X-Sim-Signature": server.store.provider.sign(body)},
        )
        assert "嵌套" in refused(res, 400)

    # the same depth sent as text/plain, in small chunks, to any route
    async def chunks():
        for _ in range(500):
            yield b"[[[[[[[[[["

    res = await anon.post(
        "/api/rooms/demo/platforms/douyin", content=chunks(), headers={"Content-Type": "text/plain"}
    )
    refused(res, 400)
    # brackets inside a string are text, not nesting: a real (badly signed) event still gets
    # the webhook's own answer
    body = json.dumps({"id": "evt_1", "type": "payment.succeeded", "note": "[" * 100}).encode()
    res = await anon.post(
        "/api/shop/payments/webhook", content=body, headers={"X-Sim-Signature": "t=1,v1=00"}
    )
    assert res.status_code == 400 and "签名" in res.json()["detail"]


async def test_moderate_nesting_still_reaches_the_handler(admin):
    details = {"a": {"b": {"c": [[{"d": [1, 2, {"e": "["}]}]]}}}
    res = await admin.post(
        "/api/shop/trace/batches/no-such-batch/events", json={"kind": "note", "details": details}
    )
    assert res.status_code in (404, 422) and "嵌套" not in res.text, res.text


@pytest.mark.parametrize(
    "price",
    [
        "1e5",
        "NaN",
        "Infinity",
        "-Infinity",
        " 1",
        "1 ",
        "1_0",
        "+1",
        "-1",
        "0x10",
        "１０",
        "١٠",
        "1.",
        ".5",
        "1e-2",
        1e20,
        True,
    ],
)
async def test_amounts_are_plain_decimal_strings_only(admin, price):
    sku = "fp-price-check"
    reason = refused(await admin.post("/api/shop/products", json=product(sku, price=price)))
    assert "price" in reason or "价格" in reason or "金额" in reason, reason
    reason = refused(await admin.patch(f"/api/shop/products/{SKU}", json={"price": price}))
    res = await admin.post(
        "/api/shop/rooms/demo/flash-sales", json={"sku": SKU, "price": price, "quantity": 5}
    )
    refused(res)
    assert (await admin.get(f"/api/shop/products/{sku}")).status_code == 404


async def test_plain_amounts_are_still_taken(admin):
    res = await admin.post("/api/shop/products", json=product("fp-plain-1", price="29.90"))
    assert res.status_code == 201 and res.json()["price"] == "29.9", res.text
    res = await admin.post("/api/shop/products", json=product("fp-plain-2", price=19.5))
    assert res.status_code == 201 and res.json()["price"] == "19.5", res.text


@pytest.mark.parametrize("value", [" 5", "1_0", "٥", "5.0", "1e1", True])
async def test_a_percent_coupon_takes_plain_digits_only(admin, value):
    res = await admin.post(
        "/api/shop/rooms/demo/coupons", json={"code": "PCT", "kind": "percent", "value": value}
    )
    refused(res)


@pytest.mark.parametrize("bad", HOSTILE_TEXT)
async def test_control_characters_are_refused_in_buyer_names_and_addresses(server, anon, bad):
    before = len(await _orders(server))
    for body in (
        {"buyer": buyer(name=bad), "items": [{"sku": SKU, "quantity": 1}]},
        {"buyer": buyer(address="阜平县" + bad + "1号"), "items": [{"sku": SKU, "quantity": 1}]},
    ):
        res = await anon.post(
            "/api/shop/orders", json=body, headers={"Idempotency-Key": bad.encode().hex()}
        )
        assert "U+" in refused(res), res.text
    assert len(await _orders(server)) == before


async def test_control_characters_are_refused_in_product_text(admin):
    for field in ("name", "title", "origin", "unit"):
        res = await admin.post("/api/shop/products", json=product("fp-ctl", **{field: "梨\u202e"}))
        assert "U+202E" in refused(res), res.text
    res = await admin.patch(f"/api/shop/products/{SKU}", json={"title": "大枣\x00"})
    refused(res)
    assert "\x00" not in (await admin.get(f"/api/shop/products/{SKU}")).json()["title"]


async def test_nicknames_reach_the_room_without_control_characters(server, viewer):
    ws_url = server.url.replace("http", "ws") + "/api/rooms/demo/events"
    async with websockets.connect(ws_url, open_timeout=10, close_timeout=5) as ws:
        await asyncio.wait_for(ws.recv(), 10)  # hello
        text = "控制字符测试" + str(id(ws))[-4:]
        res = await viewer.post(
            "/api/rooms/demo/danmaku",
            json={"user_id": "u-ctl", "nickname": "\x1b[31m老\u202e张\x00", "text": text},
        )
        assert res.status_code == 202, res.text
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, "the comment never reached the room's events"
            event = json.loads(await asyncio.wait_for(ws.recv(), remaining))
            if event.get("type") == "danmaku" and event.get("text") == text:
                break
    assert not hidden_chars(event["nickname"]), event


async def _orders(server) -> list:
    from sqlalchemy import select

    from commerce.models import Order

    async def read():
        async with server.store.db.read() as s:
            return (await s.scalars(select(Order.id))).all()

    return await asyncio.to_thread(server.call, read())


# --- 6. absolute URLs never come from a foreign Host header -------------------------------


async def _whep(anon, host: str | None) -> httpx.Response:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Content-Type": "application/sdp"}
        if host:
            headers["Host"] = host
        res = await anon.post(
            "/api/rooms/demo/whep", content=pc.localDescription.sdp, headers=headers
        )
        if res.status_code == 201:
            path = "/api/rooms/demo/whep/" + res.headers["location"].rsplit("/", 1)[-1]
            await anon.delete(path)
        return res
    finally:
        await pc.close()


@pytest.mark.parametrize("host", [f"{EVIL}:666", EVIL, f"127.0.0.1.{EVIL}", f"localhost.{EVIL}:80"])
async def test_whep_location_never_reflects_a_foreign_host(anon, host):
    res = await _whep(anon, host)
    assert res.status_code == 201, res.text
    location = res.headers["location"]
    assert EVIL not in location
    assert location.startswith("/api/rooms/demo/whep/")  # relative: resolved against the endpoint


async def test_whep_location_is_absolute_for_loopback_and_the_configured_url(server, anon):
    res = await _whep(anon, None)
    assert res.headers["location"].startswith(f"{server.url}/api/rooms/demo/whep/")
    settings = server.app.state.settings
    settings.public_url = "https://shop.example.cn"
    try:
        for host in (f"{EVIL}:666", None):
            res = await _whep(anon, host)
            assert res.headers["location"].startswith(
                "https://shop.example.cn/api/rooms/demo/whep/"
            )
    finally:
        settings.public_url = None


async def test_the_trace_qr_code_never_encodes_a_foreign_host(server, anon):
    batch = (await anon.get(f"/api/shop/products/{SKU}")).json()["batch_id"]
    res = await anon.get(f"/trace/{batch}/qr.png", headers={"Host": f"{EVIL}:666"})
    assert decode_qr(res.content) == f"{server.url}/trace/{batch}"
    settings = server.app.state.settings
    settings.public_url = "https://yl.example"
    try:
        res = await anon.get(f"/trace/{batch}/qr.png", headers={"Host": f"{EVIL}:666"})
        assert decode_qr(res.content) == f"https://yl.example/trace/{batch}"
    finally:
        settings.public_url = None


def test_a_public_url_in_the_config_must_be_an_http_base(tmp_path):
    from web.settings import ConfigError, Settings

    for bad in ("javascript:alert(1)", "https://shop.example.cn/?x=1", "ftp://x", "https://"):
        path = tmp_path / "c.json"
        path.write_text(json.dumps({"public_url": bad}))
        with pytest.raises(ConfigError):
            Settings().load(path)
    path.write_text(json.dumps({"public_url": "https://shop.example.cn/"}))
    s = Settings()
    s.load(path)
    assert s.public_url == "https://shop.example.cn"


@pytest.mark.parametrize("bad", HOSTILE_TEXT)
async def test_a_viewer_id_with_control_characters_is_refused(viewer, bad):
    res = await viewer.post("/api/rooms/demo/danmaku", json={"user_id": bad, "text": "你好"})
    assert "U+" in refused(res)
    res = await viewer.post("/api/rooms/demo/questions", json={"viewer_id": bad, "text": "多少钱"})
    assert "U+" in refused(res)


async def test_a_deeply_nested_chat_message_is_refused_and_the_socket_lives_on(server):
    ws_url = server.url.replace("http", "ws") + "/api/rooms/demo/events"
    async with websockets.connect(ws_url, open_timeout=10, close_timeout=5) as ws:
        await asyncio.wait_for(ws.recv(), 10)  # hello
        await ws.send("[" * 2000 + "]" * 2000)
        await ws.send(json.dumps({"type": "danmaku", "text": "深度之后还能说话"}))
        answers = []
        deadline = asyncio.get_running_loop().time() + 10
        while len(answers) < 2:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, answers
            event = json.loads(await asyncio.wait_for(ws.recv(), remaining))
            if event["type"] in ("danmaku_ack", "danmaku_rejected"):
                answers.append(event)
    assert answers[0]["type"] == "danmaku_rejected" and answers[0]["reason"] == "bad_json"
    assert answers[1]["text"] == "深度之后还能说话"  # the same socket still takes chat
