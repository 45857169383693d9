"""The outside check's attack sequences, replayed: each one is refused.

(The shop's own faults: flash-sale prices, order tokens, webhooks, are replayed in the
shop's tests.)"""

import asyncio

import httpx
import pytest
from aiortc import RTCPeerConnection

from testkit.livesrv import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(
        tmp_path_factory.mktemp("attack") / "y.db",
        stamp=False,
        max_rooms=3,
        max_rooms_per_operator=1,
        max_viewers_per_room=3,
    ) as srv:
        yield srv


@pytest.fixture
async def anon(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
async def admin(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=server.headers()) as c:
        yield c


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/shop/rooms/demo/flash-sales", {"sku": "fp-apple-5kg", "price": "0.01"}),
        ("POST", "/api/shop/products", {"sku": "x", "title": "x"}),
        ("POST", "/api/shop/products/fp-jujube-500g/batches", {}),
        ("POST", "/api/shop/products/fp-jujube-500g/media", {"url": "javascript:alert(1)"}),
        ("POST", "/api/shop/rooms/demo/coupons", {"percent_off": 99}),
        ("POST", "/api/rooms/demo/stop", None),
        ("POST", "/api/rooms", {"room_id": "stranger"}),
        ("GET", "/api/rooms/demo", None),
        ("GET", "/api/tickets", None),
        ("GET", "/api/audit", None),
        ("GET", "/metrics", None),
    ],
)
async def test_strangers_cannot_sell_start_stop_or_read_staff_data(
    anon, server, method, path, body
):
    res = await anon.request(method, path, json=body)
    assert res.status_code == 401, res.text
    assert "demo" in server.engine.rooms


async def test_roles_below_merchant_cannot_start_or_stop_rooms(server):
    for role in ("cs", "ops"):
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers(role)) as http:
            assert (
                await http.post("/api/rooms", json={"room_id": f"by-{role}"})
            ).status_code == 403
            assert (await http.post("/api/rooms/demo/stop")).status_code == 403
    assert "demo" in server.engine.rooms


async def test_rooms_are_capped_per_operator_and_per_machine(server, admin):
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("operator")) as op:
        first = await op.post("/api/rooms", json={"room_id": "op-1"})
        second = await op.post("/api/rooms", json={"room_id": "op-2"})
    assert first.status_code == 201
    assert second.status_code == 429 and second.json()["detail"]
    third = await admin.post("/api/rooms", json={"room_id": "admin-1"})
    fourth = await admin.post("/api/rooms", json={"room_id": "admin-2"})
    assert third.status_code == 201
    assert fourth.status_code == 429  # demo + op-1 + admin-1 = the machine's 3
    for rid in ("op-1", "admin-1"):
        await admin.post(f"/api/rooms/{rid}/stop")


async def test_a_50_mb_body_is_refused_before_it_is_read(admin, server):
    huge = b'{"room_id": "big", "lineup": ["' + b"x" * (50 * 2**20) + b'"]}'
    res = await admin.post("/api/rooms", content=huge, headers={"Content-Type": "application/json"})
    assert res.status_code == 413
    assert "big" not in server.engine.rooms


async def test_a_chunked_body_over_the_limit_is_refused(admin):
    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    res = await admin.post(
        "/api/rooms", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert res.status_code == 413


async def _offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_the_viewer_cap_holds_under_concurrent_offers(anon, server):
    offers = [await _offer() for _ in range(10)]
    try:
        results = await asyncio.gather(
            *(
                anon.post(
                    "/api/rooms/demo/whep",
                    content=sdp,
                    headers={"Content-Type": "application/sdp"},
                )
                for _, sdp in offers
            )
        )
        codes = [r.status_code for r in results]
        assert codes.count(201) == 3, codes
        assert all(c == 503 for c in codes if c != 201)
        for r in results:
            if r.status_code == 201:
                assert r.headers["location"].startswith("http://127.0.0.1")
                assert (await anon.delete(r.headers["location"])).status_code == 200
                # deleting a session that already ended answers the same
                assert (await anon.delete(r.headers["location"])).status_code == 200
    finally:
        for pc, _ in offers:
            await pc.close()
    missing = r.headers.get("location", "/api/rooms/demo/whep/x").rsplit("/", 1)[0] + "/never"
    assert (await anon.delete(missing)).status_code == 404


async def test_whep_answers_cross_origin_players_and_nothing_else_does(anon):
    pre = await anon.options(
        "/api/rooms/demo/whep",
        headers={
            "Origin": "https://player.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "Location" in pre.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in pre.headers
    private = await anon.get("/api/rooms", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in private.headers
    login = await anon.options("/api/auth/login", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in login.headers


async def test_a_browser_session_needs_its_csrf_token_for_changes(server):
    name, password = server.user("operator")
    async with httpx.AsyncClient(base_url=server.url) as browser:
        res = await browser.post("/api/auth/login", json={"username": name, "password": password})
        assert res.status_code == 200
        csrf = res.json()["csrf"]
        cookie = res.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        no_token = await browser.post("/api/rooms", json={"room_id": "csrf-room"})
        assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
        wrong = await browser.post(
            "/api/rooms", json={"room_id": "csrf-room"}, headers={"X-CSRF-Token": "nope"}
        )
        assert wrong.status_code == 403
        ok = await browser.post(
            "/api/rooms", json={"room_id": "csrf-room"}, headers={"X-CSRF-Token": csrf}
        )
        assert ok.status_code == 201
        stop = await browser.post("/api/rooms/csrf-room/stop", headers={"X-CSRF-Token": csrf})
        assert stop.status_code == 200
        await browser.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
        assert (await browser.get("/api/rooms/demo")).status_code == 401


async def test_the_eleventh_wrong_password_in_a_row_is_throttled(server, anon):
    name, password = server.user("cs", name="cs-throttle")
    codes = []
    for _ in range(10):
        res = await anon.post(
            "/api/auth/login", json={"username": name, "password": "wrong-pass-1"}
        )
        codes.append(res.status_code)
    assert set(codes) == {401}
    res = await anon.post("/api/auth/login", json={"username": name, "password": password})
    assert res.status_code == 429 and int(res.headers["retry-after"]) > 0


async def test_every_staff_change_is_in_the_audit_log(server, admin):
    res = await admin.post("/api/rooms/demo/banned-words", json={"word": "审计测试词"})
    assert res.status_code == 201
    rows = (await admin.get("/api/audit", params={"actor": "admin-main"})).json()
    entry = next(r for r in rows if r["target"] == "/api/rooms/demo/banned-words")
    assert entry["action"] == "rooms.banned_words.create"
    assert entry["after"] == {"word": "审计测试词"}
    assert entry["role"] == "admin" and entry["ip"] == "127.0.0.1"
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers("operator")) as op:
        assert (await op.get("/api/audit")).status_code == 403
