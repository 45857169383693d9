"""Customer-service tickets on SQLite and PostgreSQL: lifecycle, cap, restart, migration."""

from __future__ import annotations

import asyncio
import re

import pytest
from alembic import command

from commerce import open_store
from commerce.errors import InvalidTicket, TicketAlreadyClosed, TicketNotFound
from commerce.tickets import MAX_OPEN_PER_USER, TicketStats
from tests.commerce.conftest import SECRET
from tests.commerce.test_migrations import _alembic, schema_diffs


async def _open(store, user: str = "u1", room: str = "r1", text: str = "枣子收到坏了三颗", **kw):
    kw.setdefault("kind", "complaint")
    return await store.tickets.open(room, user, f"昵称{user}", text=text, **kw)


async def test_open_list_get_close(store, clock):
    a = await _open(
        store, "u1", text="枣子收到坏了三颗😡", product_sku="fp-jujube-500g", reason="quality"
    )
    clock.advance(seconds=5)
    b = await _open(store, "u2", kind="question", text="能发顺丰吗？", reason="low_confidence")
    clock.advance(seconds=5)
    c = await _open(store, "u3", room="r2", kind="refund", text="我要退款")

    assert re.fullmatch(r"cs-[0-9a-f]{12}", a.id) and len({a.id, b.id, c.id}) == 3
    assert (a.status, a.kind, a.text, a.product_sku, a.reason) == (
        "open",
        "complaint",
        "枣子收到坏了三颗😡",
        "fp-jujube-500g",
        "quality",
    )
    assert a.closed_at is None and a.closed_by is None and a.note is None
    assert [t.id for t in await store.tickets.list()] == [c.id, b.id, a.id]
    assert [t.id for t in await store.tickets.list(room_id="r1")] == [b.id, a.id]
    assert await store.tickets.get(b.id) == b

    clock.advance(minutes=3)
    closed = await store.tickets.close(a.id, note="已补发三颗，并致歉", by="客服小李")
    assert (closed.status, closed.closed_at, closed.closed_by, closed.note) == (
        "closed",
        clock.now,
        "客服小李",
        "已补发三颗，并致歉",
    )
    assert closed.text == a.text and closed.created_at == a.created_at
    assert await store.tickets.get(a.id) == closed
    assert [t.id for t in await store.tickets.list("open")] == [c.id, b.id]
    assert [t.id for t in await store.tickets.list("closed")] == [a.id]
    assert [t.id for t in await store.tickets.list(None)] == [c.id, b.id, a.id]
    assert await store.tickets.count_open() == 2 and await store.tickets.count_open("r1") == 1
    assert store.tickets.stats() == TicketStats(opened=3, merged=0, closed=1)


async def test_closing_twice_or_unknown_is_a_named_error(store):
    t = await _open(store)
    await store.tickets.close(t.id)
    with pytest.raises(TicketAlreadyClosed, match="已关闭"):
        await store.tickets.close(t.id, note="again")
    for bad in ("cs-000000000000", "nope", "x" * 100_000, ""):
        with pytest.raises(TicketNotFound):
            await store.tickets.close(bad)
        with pytest.raises(TicketNotFound):
            await store.tickets.get(bad)
    assert (await store.tickets.get(t.id)).note == ""


async def test_concurrent_closes_close_exactly_once(store):
    t = await _open(store)
    results = await asyncio.gather(
        *(store.tickets.close(t.id, note=f"n{i}", by=f"agent{i}") for i in range(10)),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1
    assert all(isinstance(r, TicketAlreadyClosed) for r in results if r not in won)
    assert (await store.tickets.get(t.id)).note == won[0].note
    assert store.tickets.stats().closed == 1


async def test_per_user_cap_returns_newest_open_ticket(store, clock):
    opened = []
    for i in range(MAX_OPEN_PER_USER):
        opened.append(await _open(store, text=f"第{i}次投诉"))
        clock.advance(seconds=1)
    for i in range(30):
        again = await _open(store, text=f"刷屏{i}")
        assert again == opened[-1]
    assert await store.tickets.count_open("r1") == MAX_OPEN_PER_USER
    assert store.tickets.stats() == TicketStats(opened=MAX_OPEN_PER_USER, merged=30, closed=0)
    # Other viewers and other rooms are not affected; closing one frees a slot.
    assert (await _open(store, user="u2")).id not in {t.id for t in opened}
    assert (await _open(store, room="r9")).room_id == "r9"
    await store.tickets.close(opened[0].id)
    fresh = await _open(store, text="新的问题")
    assert fresh.text == "新的问题" and fresh.id not in {t.id for t in opened}
    assert await store.tickets.count_open("r1") == MAX_OPEN_PER_USER + 1


async def test_concurrent_flood_never_passes_the_cap(store):
    results = await asyncio.gather(*(_open(store, text=f"刷屏{i}") for i in range(60)))
    assert len({t.id for t in results}) == MAX_OPEN_PER_USER
    assert await store.tickets.count_open() == MAX_OPEN_PER_USER
    assert store.tickets.stats() == TicketStats(opened=MAX_OPEN_PER_USER, merged=40, closed=0)


@pytest.mark.parametrize(
    "kw, reason",
    [
        ({"text": "枣" * 100_000}, "过长"),
        ({"text": "a" * 501}, "过长"),
        ({"text": "   "}, "不能为空"),
        ({"text": "坏了\x00"}, "控制字符"),
        ({"text": "bad \ud800 surrogate"}, "编码"),
        ({"kind": "spam"}, "工单类型"),
        ({"kind": ["complaint"]}, "工单类型"),
        ({"room": "r" * 65}, "直播间过长"),
        ({"user": ""}, "用户不能为空"),
        ({"user": "u\n1"}, "控制字符"),
        ({"reason": "Quality!"}, "原因"),
        ({"reason": "x" * 33}, "原因过长"),
        ({"product_sku": "s" * 1000}, "商品编码过长"),
        ({"text": 42}, "必须是文本"),
    ],
)
async def test_hostile_ticket_is_refused_and_nothing_is_stored(store, kw, reason):
    with pytest.raises(InvalidTicket, match=reason):
        await _open(store, **kw)
    assert await store.tickets.list(None) == []
    assert store.tickets.stats() == TicketStats(0, 0, 0)


async def test_longest_allowed_text_and_multiline_prose_are_kept(store):
    t = await _open(store, text="枣" * 500)
    assert len((await store.tickets.get(t.id)).text) == 500
    t2 = await _open(store, user="u2", text="第一行\n第二行\t完")
    assert (await store.tickets.get(t2.id)).text == "第一行\n第二行\t完"


async def test_hostile_close_and_list_arguments_are_refused(store):
    t = await _open(store)
    with pytest.raises(InvalidTicket, match="过长"):
        await store.tickets.close(t.id, note="x" * 100_000)
    with pytest.raises(InvalidTicket, match="控制字符"):
        await store.tickets.close(t.id, note="ok\x00")
    with pytest.raises(InvalidTicket, match="处理人"):
        await store.tickets.close(t.id, by="a" * 65)
    assert (await store.tickets.get(t.id)).status == "open"
    for kw, reason in [
        ({"status": "pending"}, "工单状态"),
        ({"status": "OPEN"}, "工单状态"),
        ({"limit": 0}, "每页数量"),
        ({"limit": 10_000}, "每页数量"),
        ({"limit": True}, "每页数量"),
        ({"limit": "5"}, "每页数量"),
        ({"before": "garbage"}, "before"),
        ({"before": "cs-000000000000"}, "不存在"),
        ({"room_id": "r" * 1000}, "过长"),
    ]:
        with pytest.raises(InvalidTicket, match=reason):
            await store.tickets.list(**kw)


async def test_pages_with_before_cover_every_ticket_once_in_order(store, clock):
    made = []
    for i in range(11):
        made.append(await _open(store, user=f"u{i}"))
        if i % 4 == 3:  # runs of tickets opened in the same clock tick
            clock.advance(seconds=1)
    newest_first = [t.id for t in reversed(made)]
    assert [t.id for t in await store.tickets.list(limit=200)] == newest_first
    pages, before = [], None
    while True:
        page = await store.tickets.list(limit=3, before=before)
        if not page:
            break
        pages.append([t.id for t in page])
        before = page[-1].id
    assert [len(p) for p in pages] == [3, 3, 3, 2]
    assert [i for p in pages for i in p] == newest_first


async def test_tickets_survive_a_restart(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    kept = await _open(store, text="还没发货")
    done = await _open(store, user="u2", text="价格太贵")
    await store.tickets.close(done.id, note="已解释定价", by="店主")
    await store.close()

    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        assert [t.id for t in await store.tickets.list()] == [kept.id]
        assert await store.tickets.get(kept.id) == kept
        after = await store.tickets.get(done.id)
        assert (after.status, after.note, after.closed_by) == ("closed", "已解释定价", "店主")
        # The cap counts tickets opened before the restart.
        store.tickets.max_open_per_user = 1
        assert await _open(store, text="又一条") == kept
    finally:
        await store.close()


async def test_migration_creates_drops_and_recreates_the_table(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    await _open(store)
    await store.close()
    tables, diffs = await schema_diffs(db_url, "cs_tickets")
    assert "cs_tickets" in tables and diffs == []

    await _alembic(db_url, command.downgrade, "0004")
    tables, _ = await schema_diffs(db_url, "cs_tickets")
    assert "cs_tickets" not in tables and "stocks" in tables
    await _alembic(db_url, command.upgrade, "head")
    tables, diffs = await schema_diffs(db_url, "cs_tickets")
    assert "cs_tickets" in tables and diffs == []

    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        assert await store.tickets.list(None) == []
        t = await _open(store)
        assert (await store.tickets.close(t.id)).status == "closed"
    finally:
        await store.close()
