"""场次复盘 over real HTTP: a live room in a worker process, scripted orders while known
products are on air, and the replay that puts each order in its minute and segment; hostile
input and permissions."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from testkit.livesrv import LiveServer
from web import sessions_api

BUCKET = 2  # seconds a replay row covers in these tests (60 in production)
SKU_A, SKU_B = "fp-jujube-500g", "fp-walnut-500g"


def poll(fn, what: str, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module", params=[2, 0], ids=["two-room-workers", "in-process"])
def srv(request, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(sessions_api, "BUCKET_S", BUCKET)
    mp.setattr(sessions_api, "TICK_S", 0.2)
    try:
        # with workers (`--workers 2`), the demo room's events reach the web process's
        # recorder, the only one, over the bus
        db = tmp_path_factory.mktemp("sessions") / "shop.db"
        with LiveServer(db, workers=request.param) as s:
            yield s
    finally:
        mp.undo()


def api(srv, method: str, path: str, role: str = "operator", **kw) -> httpx.Response:
    return httpx.request(method, srv.url + path, headers=srv.headers(role), timeout=30, **kw)


def on_air(srv, sku: str) -> bool:
    return api(srv, "GET", "/api/rooms/demo").json().get("current_sku") == sku


def order(srv, sku: str, qty: int) -> str:
    body = {
        "buyer": {
            "id": f"b-{uuid.uuid4().hex[:8]}",
            "name": "李四",
            "phone": "13912340001",
            "address": "河北省保定市阜平县1号",
        },
        "items": [{"sku": sku, "quantity": qty}],
        "room_id": "demo",
    }
    res = httpx.post(
        srv.url + "/api/shop/orders",
        json=body,
        timeout=30,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert res.status_code == 201, res.text
    return res.json()["id"]


def pin_and_wait(srv, sku: str) -> None:
    res = api(srv, "POST", "/api/shop/rooms/demo/pin", role="admin", json={"sku": sku})
    assert res.status_code == 200, res.text
    poll(lambda: on_air(srv, sku), f"{sku} on air")
    time.sleep(BUCKET * 1.5)  # a whole bucket with only this product on air


def test_scripted_orders_land_in_their_segment_minute(srv):
    live = poll(
        lambda: [s for s in api(srv, "GET", "/api/sessions").json()["sessions"] if s["live"]],
        "the demo room's session",
        timeout=90,
    )
    sid = live[0]["id"]
    assert live[0]["room_id"] == "demo" and len(live) == 1, live  # recorded once
    pin_and_wait(srv, SKU_A)
    a_orders = [order(srv, SKU_A, 2), order(srv, SKU_A, 1)]
    res = api(
        srv,
        "POST",
        "/api/rooms/demo/danmaku",
        json={"user_id": "v1", "nickname": "小李", "text": "红枣甜不甜"},
    )
    assert res.status_code == 202, res.text
    time.sleep(BUCKET * 1.5)
    pin_and_wait(srv, SKU_B)
    b_orders = [order(srv, SKU_B, 3)]
    time.sleep(BUCKET * 1.5)

    def replayed():
        d = api(srv, "GET", f"/api/sessions/{sid}").json()
        mins = {o["id"]: o["minute"] for o in d["orders"]}
        done = all(o in mins and mins[o] < len(d["minutes"]["sku"]) for o in a_orders + b_orders)
        return d if done and sum(d["minutes"]["danmaku"]) >= 1 else None

    d = poll(replayed, "the orders' minutes written", timeout=30)
    m = d["minutes"]
    assert m["minute"] == list(range(len(m["minute"])))  # each minute once, none missing
    mins = {o["id"]: o["minute"] for o in d["orders"]}
    for oid in a_orders:
        assert m["sku"][mins[oid]] == SKU_A, (oid, mins[oid], m["sku"])
    for oid in b_orders:
        assert m["sku"][mins[oid]] == SKU_B, (oid, mins[oid], m["sku"])
    assert sum(m["orders"]) == 3 and all(p == "xiaowang" for p in m["persona"] if p)
    segs = {g["sku"]: g for g in d["sales_by_segment"]}
    assert segs[SKU_A]["orders"] == 2 and segs[SKU_A]["units"] == {SKU_A: 3}
    assert segs[SKU_B]["orders"] == 1 and segs[SKU_B]["units"] == {SKU_B: 3}
    assert {b["sku"] for b in d["segments"]} >= {SKU_A, SKU_B}
    band = next(b for b in d["segments"] if b["sku"] == SKU_A)
    assert band["product"] and band["start"] <= mins[a_orders[0]] < band["end"]
    # the stored minutes agree with the orders placed (the list's totals)
    listed = next(s for s in api(srv, "GET", "/api/sessions").json()["sessions"] if s["id"] == sid)
    assert listed["orders"] >= 3 and listed["danmaku"] >= 1
    # stopping the room ends its session
    assert api(srv, "POST", "/api/rooms/demo/stop", role="admin").status_code == 200
    ended = poll(
        lambda: [
            s
            for s in api(srv, "GET", "/api/sessions").json()["sessions"]
            if s["id"] == sid and not s["live"]
        ],
        "the session to end",
    )
    assert ended[0]["ended_at"] >= ended[0]["started_at"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions/nope",
        "/api/sessions/" + "a" * 16 + "x",
        "/api/sessions/%27%3B%20drop%20table%20room_sessions",
        "/api/sessions/" + "f" * 4000,
        "/api/sessions/0000000000000000",
    ],
)
def test_unknown_or_malformed_session_ids_are_404(srv, path):
    res = api(srv, "GET", path)
    assert res.status_code in (404, 414) and "detail" in res.json()


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=-1", "limit=1e9", "limit=abc", "room_id=" + "r" * 65]
)
def test_bad_list_parameters_are_422(srv, query):
    res = api(srv, "GET", "/api/sessions?" + query)
    assert res.status_code == 422 and res.json()["detail"]


def test_permissions_fail_closed(srv):
    for path in ("/api/sessions", "/api/sessions/0123456789abcdef"):
        assert httpx.get(srv.url + path, timeout=30).status_code == 401
        for role in ("cs", "ops"):
            assert api(srv, "GET", path, role=role).status_code == 403
        res = httpx.get(srv.url + path, timeout=30, headers=srv.headers("operator", "shop-2"))
        assert res.status_code == 403
    bad = httpx.get(
        srv.url + "/api/sessions", timeout=30, headers={"Authorization": "Bearer forged"}
    )
    assert bad.status_code == 401
    # the page itself is public; it asks for a login before it shows anything
    page = httpx.get(srv.url + "/analytics/sessions", timeout=30)
    assert page.status_code == 200 and "data-require-login" in page.text
    assert "/vendor/plotly-basic.min.js" in page.text and "cdn" not in page.text.lower()


def test_another_shops_session_is_not_found(srv):
    from commerce.models import RoomSession

    async def add():
        async with srv.store.db.write() as s:
            s.add(
                RoomSession(
                    id="feedfacefeedface",
                    room_id="other-room",
                    shop_id="shop-2",
                    title="别人的",
                    persona="xiaowang",
                    bucket_s=60,
                    started_at=srv.store.clock(),
                    ended_at=None,
                )
            )

    srv.call(add())
    assert api(srv, "GET", "/api/sessions/feedfacefeedface").status_code == 404
    assert api(srv, "GET", "/api/sessions/feedfacefeedface", role="admin").status_code == 404
    listed = api(srv, "GET", "/api/sessions", role="admin").json()["sessions"]
    assert "feedfacefeedface" not in {s["id"] for s in listed}


async def test_sessions_page_in_chromium_lists_and_replays(srv):
    from datetime import timedelta

    from commerce.models import RoomSession, RoomSessionMinute
    from tests.web.test_dashboard_chromium import browser_page

    hostile = '<img src=x onerror="window.__pwned=1">'

    async def add():
        t = srv.store.clock() - timedelta(days=1)
        async with srv.store.db.write() as s:
            s.add(
                RoomSession(
                    id="abcdefabcdef0123",
                    room_id="demo",
                    shop_id="default",
                    title=hostile,
                    persona="xiaowang",
                    bucket_s=60,
                    started_at=t,
                    ended_at=t + timedelta(minutes=3),
                )
            )
            await s.flush()
            for m, sku in enumerate(["fp-jujube-500g", "fp-jujube-500g", "fp-walnut-500g"]):
                s.add(
                    RoomSessionMinute(
                        session_id="abcdefabcdef0123",
                        minute=m,
                        at=t + timedelta(minutes=m),
                        viewers=3 + m,
                        peak=4 + m,
                        entries=2,
                        leaves=1,
                        watch_s=180,
                        danmaku=m,
                        answers=0,
                        mood=0.1,
                        mood_label="calm",
                        orders=0,
                        gmv_fen=0,
                        persona="xiaowang",
                        sku=sku,
                        product=hostile,
                    )
                )

    srv.call(add())
    async with browser_page(srv) as page:
        await page.goto(srv.url + "/analytics/sessions")
        await page.wait_for_function("window.__sessionsReady === true", timeout=30_000)
        listed = await page.evaluate("window.__sessionsListed")
        assert listed >= 2 and await page.locator("#t-sessions tr").count() == listed + 1
        await page.goto(srv.url + "/analytics/sessions?id=abcdefabcdef0123")
        await page.wait_for_function("window.__replayShown === 'abcdefabcdef0123'", timeout=30_000)
        traces = await page.evaluate("document.getElementById('c-replay').data.length")
        bands = await page.evaluate("document.getElementById('c-replay').layout.shapes.length")
        title = await page.locator("#r-title").text_content()
        pwned = await page.evaluate("window.__pwned === 1")
        await page.goto(srv.url + "/analytics/sessions?id=0000000000000000")
        await page.wait_for_function("window.__sessionsError !== undefined", timeout=30_000)
        msg = await page.locator("#s-msg").text_content()
    assert traces == 8 and bands == 2 and hostile in title and not pwned
    assert "没有这个场次" in msg
    assert page.outside == []
    assert [e for e in page.errors if "404" not in e] == []  # the unknown id's 404 only
