"""Fixtures: every commerce test runs on SQLite and on a private PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import re
import socket
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from commerce import open_store
from commerce.catalog import BatchSpec
from commerce.facts import ProductFacts
from testkit.pg import create_database, postgres_server
from web.shop_api import build_router

SECRET = "test-secret-key"


class Clock:
    """A settable clock (naive UTC) shared by the store and the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(scope="session")
def pg_admin_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/shop.db"
    return create_database(request.getfixturevalue("pg_admin_url"))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def store(db_url, clock):
    s = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    yield s
    await s.close()


def farm_product(sku: str, stock: int, price: str = "10", **kw) -> ProductFacts:
    return ProductFacts(
        sku=sku,
        name="测试枣",
        title=f"测试商品{sku}",
        price=Decimal(price),
        unit="箱",
        stock=stock,
        origin="河北保定阜平县",
        harvest_date=date.today(),
        category="干果",
        **kw,
    )


async def add_product(store, sku: str, stock: int, price: str = "10", **kw) -> str:
    """A product with one fresh batch of `stock` units; returns the batch id."""
    batch = f"{sku}-b1"
    await store.add_product(
        farm_product(sku, stock, price),
        [BatchSpec(batch, date.today(), stock, "阜平县测试地块")],
        **kw,
    )
    return batch


async def reserved_mismatches(store) -> list[tuple[int, int, int]]:
    """Stock rows whose `reserved` counter differs from the sum of their reservation rows."""
    from sqlalchemy import func, select

    from commerce.models import Reservation, Stock

    held = (
        select(func.coalesce(func.sum(Reservation.quantity), 0))
        .where(Reservation.stock_id == Stock.id)
        .scalar_subquery()
    )
    async with store.db.read() as s:
        rows = (await s.execute(select(Stock.id, Stock.reserved, held))).all()
    return [(sid, counter, int(real)) for sid, counter, real in rows if counter != real]


def phone_of(i: int | str) -> str:
    """One phone number per test buyer: the shop counts purchase limits per phone."""
    if i == 1:
        return "13812341234"
    n = i if isinstance(i, int) else zlib.crc32(str(i).encode())
    return f"139{n % 10**8:08d}"


@pytest.fixture
async def staff_headers(store) -> dict:
    """`Authorization` for a real API token of a shop admin."""
    user = await store.accounts.create_user("shop-admin", "店长的测试密码-0123456789", "admin")
    return {"Authorization": "Bearer " + await store.accounts.create_token(user, "admin")}


def buyer(i: int | str = 1) -> dict:
    return {
        "id": f"buyer-{i}",
        "name": "李四",
        "phone": phone_of(i),
        "address": "河北省保定市阜平县城南庄镇1号",
    }


def order_body(sku: str, qty: int = 1, *, i: int | str = 1, **kw) -> dict:
    return {"buyer": buyer(i), "items": [{"sku": sku, "quantity": qty}], **kw}


def _shop_hook(headers: dict):
    """For modules that act as the shop itself (ACT_AS_SHOP = True): requests that need
    staff carry a real admin token, unless they present an order token (the buyer's)."""
    from web.security import POLICY, rule_for

    patterns = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in POLICY]

    async def hook(request) -> None:
        if "authorization" in request.headers or "x-order-token" in request.headers:
            return
        path = request.url.path
        template = next((p for rx, p in patterns if rx.match(path)), None)
        rule = rule_for(template, request.method) if template else None
        if rule is None or not rule.public or path.startswith("/api/shop/orders/"):
            request.headers.update(headers)

    return hook


@pytest.fixture
async def http(store, request, staff_headers):
    """The shop router served by a real uvicorn on loopback, behind the app's own permission
    layer (staff sign in with `staff_headers`), and a client for it."""
    from types import SimpleNamespace

    from fastapi import Depends

    from web.security import authorize
    from web.settings import Settings

    app = FastAPI(dependencies=[Depends(authorize)])
    app.state.store = store
    app.state.settings = Settings(demo_room=False, demo_payments=True)
    app.state.engine = SimpleNamespace(room_shop=lambda room_id: None)
    app.include_router(build_router(store))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", backlog=2048, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    limits = httpx.Limits(max_connections=600, max_keepalive_connections=600)
    hooks = []
    if getattr(request.module, "ACT_AS_SHOP", False):
        hooks.append(_shop_hook(staff_headers))
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        limits=limits,
        timeout=120,
        event_hooks={"request": hooks},
    ) as client:
        yield client
    server.should_exit = True
    await task
    sock.close()
