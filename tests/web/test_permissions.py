"""Every route the app serves has a permission decision, and every role meets it.

The test walks `app.routes` (the included routers too): a route missing from the policy table
fails here. Each route is then called as an anonymous viewer and as each staff role:
protected routes refuse strangers with 401 and the wrong role with 403; public ones refuse
no one. Path parameters name things that do not exist, so nothing real is changed.
"""

import httpx
import pytest
import websockets

from testkit.livesrv import LiveServer
from web.security import ROLES, iter_routes, rule_for

SAMPLE = {
    "room_id": "no-room",
    "session_id": "no-session",
    "sku": "no-sku",
    "order_id": "no-order",
    "payment_id": "no-payment",
    "transition": "cancel",
    "batch_id": "no-batch",
    "ticket_id": "cs-000000000000",
    "word": "不存在的词",
    "platform": "douyin",
    "output_id": "no-output",
    "fmt": "svg",
    "segment": "no-segment",
    "name": "no-photo.jpg",
    "slot_id": "999999",
}
REFUSALS = ("(login required)", "(forbidden)", "(not your shop", "(no permission decision)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("perm") / "y.db", stamp=False, demo_room=False) as s:
        yield s


def routes(server):
    return [(m, p) for m, p in iter_routes(server.app)]


def fill(path: str) -> str:
    for name, value in SAMPLE.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no sample value for a parameter of {path}"
    return path


def refused(res: httpx.Response) -> bool:
    if res.status_code not in (401, 403):
        return False
    try:
        detail = res.json().get("detail", "")
    except ValueError:
        return False
    return any(mark in str(detail) for mark in REFUSALS)


def test_every_route_has_a_permission_decision(server):
    found = routes(server)
    assert len(found) > 60
    missing = [f"{m} {p}" for m, p in found if rule_for(p, m) is None]
    assert not missing, f"routes with no permission decision: {missing}"


@pytest.mark.parametrize("who", [None, *ROLES])
async def test_each_role_gets_exactly_what_the_policy_grants(server, who):
    headers = server.headers(who) if who else {}
    wrong = []
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as http:
        for method, path in routes(server):
            if method == "WS":
                continue
            rule = rule_for(path, method)
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            res = await http.request(
                method, fill(path), content=body, headers={"Content-Type": "application/json"}
            )
            if rule.public:
                ok = not refused(res)
            elif who is None:
                ok = res.status_code == 401 and refused(res)
            elif who in rule.roles:
                ok = not refused(res)
            else:
                ok = res.status_code == 403 and refused(res)
            if not ok:
                wrong.append(f"{who or 'anonymous'} {method} {path} -> {res.status_code}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("who", [None, *ROLES])
async def test_websocket_routes_follow_the_policy_too(server, who):
    headers = server.headers(who) if who else {}
    for method, path in routes(server):
        if method != "WS":
            continue
        rule = rule_for(path, method)
        allowed = rule.public or (who is not None and who in rule.roles)
        url = server.url.replace("http://", "ws://") + fill(path)
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                await ws.recv()
            accepted = True
        except websockets.InvalidStatus:
            accepted = False
        except websockets.ConnectionClosed:
            accepted = True  # accepted, then closed by the handler (e.g. no such room)
        assert accepted == allowed, f"{who or 'anonymous'} WS {path}"


async def test_an_operator_of_another_shop_reaches_nothing_of_this_one(server):
    headers = server.headers("operator", shop_id="other-farm")
    async with httpx.AsyncClient(
        base_url=server.url, headers=server.headers(), timeout=30
    ) as admin:
        res = await admin.post("/api/rooms", json={"room_id": "farm-a"})
        assert res.status_code == 201
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            for method, path in (
                ("POST", "/api/rooms/farm-a/stop"),
                ("GET", "/api/rooms/farm-a"),
                ("POST", "/api/shop/products"),
                ("GET", "/api/tickets"),
                ("GET", "/api/analytics/kpis"),
            ):
                res = await http.request(method, path, json={})
                assert res.status_code == 403 and refused(res), (method, path, res.text)
        assert "farm-a" in server.engine.rooms
    finally:
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as admin:
            await admin.post("/api/rooms/farm-a/stop")


async def test_a_bad_token_is_refused_even_on_public_routes(server):
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": "Bearer ylt_forged"}
    ) as http:
        res = await http.get("/api/rooms")
    assert res.status_code == 401
