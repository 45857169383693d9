"""Ticket REST routes over a real uvicorn server: list, read, close, errors, merchant guard."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from commerce import open_store
from tests.web.loopback import served
from web.tickets_api import build_router


@pytest.fixture
async def store(tmp_path):
    s = await open_store(f"sqlite:///{tmp_path}/shop.db", seed_demo=False, background=False)
    yield s
    await s.close()


@pytest.fixture
async def http(store):
    """The router served by a real uvicorn on loopback, and a client for it."""
    app = FastAPI()
    app.include_router(build_router(store))
    async with served(app) as client:
        yield client


async def _tickets(store):
    a = await store.tickets.open("r1", "u1", "小张", "complaint", "枣子坏了", "fp-jujube-500g")
    b = await store.tickets.open(
        "r1", "u2", "小王", "question", "几天能到？", reason="low_confidence"
    )
    c = await store.tickets.open("r2", "u3", "小赵", "refund", "我要退款")
    return a, b, c


async def test_list_read_and_close_a_ticket(http, store):
    a, b, c = await _tickets(store)
    r = await http.get("/api/tickets")
    assert r.status_code == 200
    assert {t["id"] for t in r.json()} == {a.id, b.id, c.id}
    r = await http.get("/api/tickets", params={"room_id": "r1", "limit": "1"})
    assert r.status_code == 200 and len(r.json()) == 1
    second = await http.get("/api/tickets", params={"room_id": "r1", "before": r.json()[0]["id"]})
    assert {t["id"] for t in r.json() + second.json()} == {a.id, b.id}

    got = (await http.get(f"/api/tickets/{a.id}")).json()
    assert got["text"] == "枣子坏了" and got["status"] == "open" and got["closed_at"] is None
    assert got["created_at"] == a.created_at.isoformat() and got["product_sku"] == "fp-jujube-500g"

    r = await http.post(f"/api/tickets/{a.id}/close", json={"note": "已补发", "by": "客服小李"})
    assert r.status_code == 200, r.text
    closed = r.json()
    assert (closed["status"], closed["note"], closed["closed_by"]) == (
        "closed",
        "已补发",
        "客服小李",
    )
    assert closed["closed_at"] is not None
    assert (await store.tickets.get(a.id)).status == "closed"

    assert {t["id"] for t in (await http.get("/api/tickets")).json()} == {b.id, c.id}
    closed_list = (await http.get("/api/tickets", params={"status": "closed"})).json()
    assert [t["id"] for t in closed_list] == [a.id]
    assert len((await http.get("/api/tickets", params={"status": "all"})).json()) == 3

    # An empty body closes with an empty note.
    r = await http.post(f"/api/tickets/{b.id}/close")
    assert r.status_code == 200 and r.json()["note"] == ""


async def test_closing_again_is_409_and_unknown_is_404(http, store):
    a, _, _ = await _tickets(store)
    assert (await http.post(f"/api/tickets/{a.id}/close", json={"note": "好了"})).status_code == 200
    r = await http.post(f"/api/tickets/{a.id}/close", json={"note": "再关一次"})
    assert r.status_code == 409 and "已关闭" in r.json()["detail"]
    assert (await store.tickets.get(a.id)).note == "好了"
    for bad in ("cs-000000000000", "nope", "x" * 5000, "%00"):
        r = await http.get(f"/api/tickets/{bad}")
        assert r.status_code == 404 and "工单不存在" in r.json()["detail"]
        r = await http.post(f"/api/tickets/{bad}/close", json={})
        assert r.status_code == 404 and "工单不存在" in r.json()["detail"]


@pytest.mark.parametrize(
    "body, status, reason",
    [
        (b"not json", 422, "请求格式不正确"),
        (b"[1, 2]", 422, "请求格式不正确"),
        (b'{"note": 42}', 422, "note"),
        (b'{"note": "ok", "admin": true}', 422, "admin"),
        (b'{"note": "' + b"x" * 600 + b'"}', 422, "处理说明过长"),
        (b'{"note": "bad \\u0000 byte"}', 422, "控制字符"),
        (b'{"note": "lone \\ud800 surrogate"}', 422, "请求格式不正确"),
        (b'{"note": "' + "枣".encode() * 40_000 + b'"}', 413, "请求体过大"),
    ],
)
async def test_bad_close_body_is_refused_with_a_reason(http, store, body, status, reason):
    a, _, _ = await _tickets(store)
    r = await http.post(
        f"/api/tickets/{a.id}/close", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert reason in r.json()["detail"]
    assert (await store.tickets.get(a.id)).status == "open"


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"status": "pending"}, "工单状态"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000000000000000000"}, "limit"),
        ({"limit": "٣"}, "limit"),
        ({"before": "garbage"}, "before"),
        ({"before": "cs-000000000000"}, "before"),
        ({"room_id": "r" * 5000}, "直播间过长"),
    ],
)
async def test_bad_list_query_is_422_with_a_reason(http, store, params, reason):
    await _tickets(store)
    r = await http.get("/api/tickets", params=params)
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"]
