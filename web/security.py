"""Who may call what: every route's permission is decided here, in one table, and enforced by
one dependency the app applies to every route (HTTP and WebSocket alike).

A route missing from `POLICY` is refused for everyone, so a new route without a decision
fails closed (and fails the route-enumeration test). Identity comes from a session cookie
(browsers; unsafe methods also need the session's CSRF token in `X-CSRF-Token`) or from an
API token (`Authorization: Bearer …`, scripts), never from the request body.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache

from fastapi import HTTPException, WebSocketException
from fastapi.requests import HTTPConnection

SESSION_COOKIE = "yl_session"
CSRF_HEADER = "x-csrf-token"
ROLES = ("admin", "operator", "cs", "ops")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SHOP_ID = "default"  # this server's shop (one shop per server today)
SHOP_STAFF = ("operator", "cs")  # bound to one shop; admin and ops serve the whole server


@dataclass(frozen=True)
class Rule:
    """Who may call a route: everyone (`public`) or the listed roles. `room` names the path
    parameter holding a room id: an operator reaches only rooms of their own shop."""

    roles: frozenset[str] = frozenset()
    public: bool = False
    room: str | None = None
    demo_only: bool = False  # exists only while the payment simulator is on


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    username: str = "anonymous"
    role: str | None = None  # None: an anonymous viewer
    shop_id: str | None = None
    via: str = "anonymous"  # "session" | "token" | "anonymous"
    csrf: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def staff(self) -> bool:
        return self.role is not None


ANONYMOUS = Principal()
PUBLIC = Rule(public=True)


def roles(*names: str, room: str | None = None) -> Rule:
    return Rule(roles=frozenset(names), room=room)


ADMIN = roles("admin")
MERCHANT = roles("admin", "operator")
SERVICE = roles("admin", "operator", "cs")
WATCHERS = roles("admin", "operator", "ops")
OPS_DESK = roles("admin", "ops")  # the ops console: read-only, no buyer data
STAFF = roles(*ROLES)
ROOM_MERCHANT = roles("admin", "operator", room="room_id")
ROOM_SERVICE = roles("admin", "operator", "cs", room="room_id")
ROOM_WATCHERS = roles("admin", "operator", "cs", room="room_id")  # ops: the ops desk
SHOP_DESK = roles("admin", "operator", "cs")  # the workbench's pages (not ops: no shop data)

# path template -> method -> rule. "WS" is a WebSocket route.
POLICY: dict[str, dict[str, Rule]] = {
    # --- FastAPI's own API documentation (no dependency runs on these)
    "/openapi.json": {"GET": PUBLIC},
    "/docs": {"GET": PUBLIC},
    "/docs/oauth2-redirect": {"GET": PUBLIC},
    "/redoc": {"GET": PUBLIC},
    # --- pages anyone may open (private pages check the session in the page's API calls)
    "/": {"GET": PUBLIC},
    "/rooms/{room_id}": {"GET": PUBLIC},
    "/watch": {"GET": PUBLIC},
    "/healthz": {"GET": PUBLIC},
    "/readyz": {"GET": PUBLIC},  # reasons name rooms and workers, never buyers
    "/login": {"GET": PUBLIC},
    "/panel": {"GET": PUBLIC},
    "/dashboard": {"GET": PUBLIC},
    "/analytics": {"GET": PUBLIC},
    "/analytics/sessions": {"GET": PUBLIC},  # 场次复盘: its data needs a merchant
    "/admin/audit": {"GET": PUBLIC},
    "/vendor/plotly.min.js": {"GET": PUBLIC},
    "/vendor/plotly-basic.min.js": {"GET": PUBLIC},
    "/vendor/plotly-cartesian.min.js": {"GET": PUBLIC},
    "/trace/{batch_id}": {"GET": PUBLIC},
    "/trace/{batch_id}/qr.{fmt}": {"GET": PUBLIC},
    # --- the farmer's workbench (web/workbench.py): pages for shop staff; edits for
    # merchants, shipping and refunds for service staff; ops have the ops desk instead
    "/workbench": {"GET": SHOP_DESK},
    "/workbench/products": {"GET": SHOP_DESK},
    "/workbench/products/new": {"GET": MERCHANT},
    "/workbench/products/bulk": {"GET": MERCHANT},
    "/workbench/products/{sku}": {"GET": MERCHANT},
    "/workbench/orders": {"GET": SERVICE},  # buyers' orders: not for ops
    "/workbench/orders/print": {"GET": SERVICE},  # full addresses: those who ship only
    "/workbench/orders/print.pdf": {"GET": SERVICE},  # the same as a PDF
    "/api/workbench/products/{sku}/photos": {"POST": MERCHANT},
    "/api/workbench/products/bulk": {"POST": MERCHANT},
    "/api/workbench/orders/{order_id}/ship": {"POST": SERVICE},
    "/api/workbench/orders/ship-csv": {"POST": SERVICE},
    "/api/workbench/orders/{order_id}/refund": {"POST": SERVICE},
    # the 7×24 schedule (web/schedule_api.py): merchants plan their rooms' slots
    "/workbench/schedule": {"GET": MERCHANT},
    "/workbench/start": {"GET": MERCHANT},  # 开播向导: it starts rooms through /api/rooms
    "/api/shop/schedule": {"GET": MERCHANT, "POST": MERCHANT},
    "/api/shop/schedule/{slot_id}": {"GET": MERCHANT, "PATCH": MERCHANT, "DELETE": MERCHANT},
    "/api/shop/orders/{order_id}/tracking": {"GET": PUBLIC},  # the order's token, or staff
    "/orders/{order_id}": {"GET": PUBLIC},  # the buyer's page; its data needs the token
    "/media/{name}": {"GET": PUBLIC},
    # --- accounts
    "/api/auth/login": {"POST": PUBLIC},
    "/api/auth/logout": {"POST": PUBLIC},
    "/api/auth/me": {"GET": PUBLIC},
    "/api/audit": {"GET": ADMIN},
    # --- watching, chatting, asking (anonymous viewers)
    "/api/personas": {"GET": PUBLIC},
    "/api/rooms": {"GET": PUBLIC, "POST": MERCHANT},
    "/api/rooms/{room_id}": {"GET": ROOM_WATCHERS},
    "/api/rooms/{room_id}/stop": {"POST": ROOM_MERCHANT},
    "/api/rooms/{room_id}/whep": {"POST": PUBLIC, "OPTIONS": PUBLIC},
    "/api/rooms/{room_id}/whep/{session_id}": {
        "DELETE": PUBLIC,
        "PATCH": PUBLIC,
        "OPTIONS": PUBLIC,
    },
    "/api/rooms/{room_id}/events": {"WS": PUBLIC},
    "/api/rooms/{room_id}/danmaku": {"POST": PUBLIC},
    "/api/rooms/{room_id}/questions": {"POST": PUBLIC},
    "/api/rooms/{room_id}/platforms/{platform}": {"POST": PUBLIC},  # signed by the platform
    "/api/rooms/{room_id}/simulator": {"POST": ROOM_MERCHANT},
    "/api/rooms/{room_id}/outputs": {"GET": ROOM_MERCHANT, "POST": ROOM_MERCHANT},  # RTMP push
    "/api/rooms/{room_id}/outputs/{output_id}": {"DELETE": ROOM_MERCHANT},
    "/api/rooms/{room_id}/hls": {"GET": PUBLIC},  # 省流模式: where the room plays as HLS
    "/api/rooms/{room_id}/ice-servers": {"GET": PUBLIC},  # TURN credentials that expire
    "/api/rooms/{room_id}/janus": {"GET": PUBLIC},  # where the page watches through Janus
    "/api/rooms/{room_id}/banned-words": {"GET": ROOM_SERVICE, "POST": ROOM_SERVICE},
    "/api/rooms/{room_id}/banned-words/{word}": {"DELETE": ROOM_SERVICE},
    "/api/metrics": {"GET": WATCHERS},
    # --- the ops desk (web/ops_api.py): the ops role's whole world, with /metrics
    "/ops": {"GET": PUBLIC},  # the page; its data needs the role (the socket below)
    "/api/ops/snapshot": {"GET": OPS_DESK},
    "/api/ops/history": {"GET": OPS_DESK},
    "/api/ops/alerts": {"GET": OPS_DESK},
    "/api/ops/live": {"WS": OPS_DESK},
    "/metrics": {"GET": WATCHERS},
    "/api/backends": {"GET": MERCHANT},
    # --- the shop: browsing and buying are public; orders need their token or staff
    "/api/shop/products": {"GET": PUBLIC, "POST": MERCHANT},
    "/api/shop/products/{sku}": {"GET": PUBLIC, "PATCH": MERCHANT},
    "/api/shop/products/{sku}/detail": {"GET": PUBLIC},
    "/api/shop/products/{sku}/also-bought": {"GET": PUBLIC},
    "/api/shop/products/{sku}/batches": {"POST": MERCHANT},
    "/api/shop/products/{sku}/media": {"POST": MERCHANT},
    "/api/shop/near-expiry": {"GET": SERVICE},
    "/api/shop/orders": {"POST": PUBLIC},
    "/api/shop/orders/{order_id}": {"GET": PUBLIC},  # the order's token, or staff (handler)
    "/api/shop/orders/{order_id}/payments": {"POST": PUBLIC},  # the order's token (handler)
    "/api/shop/orders/{order_id}/{transition}": {"POST": PUBLIC},  # token or staff (handler)
    "/api/shop/payments/{payment_id}": {"GET": PUBLIC},
    "/api/shop/payments/{payment_id}/cashier": {"GET": PUBLIC},
    "/api/shop/payments/{payment_id}/confirm": {"POST": Rule(public=True, demo_only=True)},
    "/api/shop/payments/webhook": {"POST": PUBLIC},  # signed by the provider
    "/api/shop/rooms": {"GET": MERCHANT, "POST": MERCHANT},  # the shop's rooms on record
    "/api/shop/rooms/{room_id}/promotions": {"GET": PUBLIC},
    "/api/shop/rooms/{room_id}/sales": {"GET": ROOM_SERVICE},
    "/api/shop/rooms/{room_id}/products": {"GET": PUBLIC},
    "/api/shop/rooms/{room_id}/pin": {"POST": ROOM_MERCHANT},
    "/api/shop/rooms/{room_id}/flash-sales": {"POST": ROOM_MERCHANT},
    "/api/shop/rooms/{room_id}/coupons": {"POST": ROOM_MERCHANT},
    "/api/shop/trace/checkpoint": {"GET": PUBLIC},
    "/api/shop/trace/batches/{batch_id}": {"GET": PUBLIC},
    "/api/shop/trace/batches/{batch_id}/events": {"POST": MERCHANT},
    "/api/shop/trace/proofs/inclusion": {"GET": PUBLIC},
    "/api/shop/trace/proofs/consistency": {"GET": PUBLIC},
    # --- customer service
    "/api/tickets": {"GET": SERVICE},
    "/api/tickets/{ticket_id}": {"GET": SERVICE},
    "/api/tickets/{ticket_id}/close": {"POST": SERVICE},
    "/api/tickets/{ticket_id}/reply": {"POST": SERVICE},
    "/api/tickets/{ticket_id}/assign": {"POST": SERVICE},
    # --- the live console (web/live_console.py): one's own room only; the ticket desk
    "/workbench/live": {"GET": MERCHANT},
    "/workbench/live/{room_id}": {"GET": ROOM_MERCHANT},
    "/api/rooms/{room_id}/console": {"GET": ROOM_MERCHANT},
    "/api/rooms/{room_id}/takeover": {"POST": ROOM_MERCHANT},
    "/api/rooms/{room_id}/answer-mode": {"POST": ROOM_MERCHANT},
    "/workbench/tickets": {"GET": SERVICE},
    "/api/danmaku/{ticket_id}/label": {"POST": SERVICE},
    # --- the business dashboard
    "/api/dashboard/summary": {"GET": MERCHANT},
    "/api/dashboard/warnings": {"GET": MERCHANT},
    "/api/dashboard/live-snapshot": {"GET": MERCHANT},
    "/api/dashboard/live": {"WS": MERCHANT},  # GMV, churn-risk buyers: not for ops
    **{
        f"/api/analytics/{name}": {"GET": MERCHANT}
        for name in (
            "kpis",
            "series",
            "drill",
            "products",
            "regions",
            "rooms",
            "funnel",
            "orders",
            "customers",
            "stock",
            "prices",
            "rules",
        )
    },
    "/api/analytics/forecast/{sku}": {"GET": MERCHANT},
    "/api/analytics/daily-report": {"GET": MERCHANT},
    "/api/analytics/orders/bins": {"GET": MERCHANT},
    "/api/analytics/daily-report.html": {"GET": MERCHANT},
    "/api/analytics/promotions/{batch_id}/apply": {"POST": MERCHANT},
    "/api/analytics/segments/{segment}/members.csv": {"GET": MERCHANT},
    "/api/analytics/segments/{segment}/coupon": {"POST": MERCHANT},
    # --- 场次复盘 (web/sessions_api.py)
    "/api/sessions": {"GET": MERCHANT},
    "/api/sessions/{session_id}": {"GET": MERCHANT},
}


def rule_for(path: str, method: str) -> Rule | None:
    methods = POLICY.get(path)
    if methods is None:
        return None
    if method == "HEAD":
        method = "GET"
    return methods.get(method)


def _refuse(conn: HTTPConnection, status: int, detail: str):
    if conn.scope["type"] == "websocket":
        return WebSocketException(code=4000 + status, reason=detail)
    return HTTPException(status, detail)


async def identify(conn: HTTPConnection) -> Principal:
    """The caller, from an API token or a session cookie; anonymous otherwise."""
    store = conn.app.state.store
    auth = conn.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        found = await store.accounts.token_user(auth[7:].strip()[:200])
        if found is None:
            raise _refuse(conn, 401, "API 令牌无效或已撤销 (invalid token)")
        user, scope = found
        return Principal(user.username, scope, user.shop_id, "token")
    sid = conn.cookies.get(SESSION_COOKIE)
    if sid:
        found = await store.accounts.session_user(sid[:200])
        if found is not None:
            user, csrf = found
            return Principal(user.username, user.role, user.shop_id, "session", csrf)
    return ANONYMOUS


async def authorize(conn: HTTPConnection) -> Principal:
    """The app-wide dependency: find the route's rule, identify the caller, decide."""
    route = conn.scope.get("route")
    path = getattr(route, "path", None)
    method = "WS" if conn.scope["type"] == "websocket" else conn.scope.get("method", "GET")
    rule = rule_for(path, method) if path else None
    if rule is None:
        raise _refuse(conn, 403, f"没有为 {method} {path} 设定权限 (no permission decision)")
    if rule.demo_only and not conn.app.state.settings.demo_payments:
        raise _refuse(conn, 404, "模拟支付未开启 (payment simulator is off)")
    who = await identify(conn)
    if who.via == "session" and method in UNSAFE:
        given = conn.headers.get(CSRF_HEADER, "")
        if not who.csrf or not hmac.compare_digest(given.encode(), who.csrf.encode()):
            if not rule.public:
                raise _refuse(conn, 403, "缺少或错误的 CSRF 令牌 (missing or wrong CSRF token)")
            who = ANONYMOUS  # a public route still works, but not with the session's powers
    conn.state.principal = who
    if rule.public:
        return who
    if not who.staff:
        raise _refuse(conn, 401, "请先登录 (login required)")
    if who.role not in rule.roles:
        raise _refuse(conn, 403, f"当前角色（{who.role}）无权执行此操作 (forbidden)")
    if who.role in SHOP_STAFF:
        await _check_shop(conn, rule, who)
    return who


async def _check_shop(conn: HTTPConnection, rule: Rule, who: Principal) -> None:
    """Shop staff reach only their own shop's objects. Products, orders, tickets and figures
    belong to this server's one shop; a room belongs to the shop that registered it, live or
    not, and an id no shop has registered is refused: the check fails closed."""
    own_shop = who.shop_id or SHOP_ID
    if own_shop != SHOP_ID:
        raise _refuse(conn, 403, "只能管理自己店铺的数据 (not your shop's data)")
    if not rule.room:
        return
    room_id = conn.path_params.get(rule.room)
    owner = conn.app.state.engine.room_shop(room_id)
    if owner is None:
        owner = await conn.app.state.store.rooms.shop_of(room_id)
    if owner is None:
        raise _refuse(conn, 404, f"没有这个直播间：{str(room_id)[:64]} (no such room)")
    if owner != own_shop:
        raise _refuse(conn, 403, "只能管理自己店铺的直播间 (not your shop's room)")


def serves_this_shop(who: Principal) -> bool:
    """Staff who act for this server's shop: admins, and operators and cs of this shop."""
    return who.role == "admin" or (who.role in SHOP_STAFF and (who.shop_id or SHOP_ID) == SHOP_ID)


def iter_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the app serves; WebSocket routes as "WS". Mounts are skipped."""
    out: list[tuple[str, str]] = []

    def walk(routes, prefix: str = "") -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:  # FastAPI's included router
                ctx = getattr(route, "include_context", None)
                walk(inner.routes, prefix + getattr(ctx, "prefix", ""))
                continue
            path = getattr(route, "path", None)
            methods = getattr(route, "methods", None)
            if path is None or type(route).__name__ == "Mount":
                continue
            if methods is None:
                out.append(("WS", prefix + path))
            else:
                out.extend((m, prefix + path) for m in sorted(methods) if m != "HEAD")

    walk(app.router.routes)
    return out


def principal(conn: HTTPConnection) -> Principal:
    """The caller `authorize` found (handlers read it; it never re-decides access)."""
    return getattr(conn.state, "principal", ANONYMOUS)


def client_ip(conn: HTTPConnection) -> str:
    """The caller's address: the TCP peer, or what `X-Forwarded-For` says when the peer is a
    proxy the config trusts (`trusted_proxies`); anyone else's header is ignored."""
    peer = conn.client.host if conn.client else ""
    settings = getattr(conn.app.state, "settings", None)
    trusted = tuple(getattr(settings, "trusted_proxies", None) or ())
    if not trusted:
        return peer
    return forwarded_ip(peer, conn.headers.get("x-forwarded-for"), trusted)


def forwarded_ip(peer: str, header: str | None, trusted: tuple[str, ...]) -> str:
    """Walk `X-Forwarded-For` from the right while the hops are trusted proxies; the first
    hop that is not one is the client. Garbage in the header ends the walk at the last
    trusted hop, so a client cannot write an address of its choice."""
    nets = _networks(trusted)
    if not header or not _in(peer, nets):
        return peer
    client = peer
    for hop in reversed(header[-1024:].split(",")[-16:]):  # proxies append on the right
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client
        client = hop
        if not _in(hop, nets):
            return hop
    return client


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _in(address: str, nets: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)
