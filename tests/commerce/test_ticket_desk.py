"""The ticket desk on SQLite and PostgreSQL: assign, reply (delivered or not), the SLA's due
time and first reply, refusals, and migration 0016 down and up with tickets kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from commerce import open_store
from commerce.db import make_engine
from commerce.errors import InvalidTicket, TicketAlreadyClosed, TicketNotFound
from commerce.tickets import SLA
from tests.commerce.conftest import SECRET
from tests.commerce.test_migrations import _alembic


async def test_assign_reply_and_the_sla(store, clock):
    t = await store.tickets.open("r1", "v-1", "王大姐", "complaint", "枣子坏了", reason="quality")
    assert t.due_at == t.created_at + SLA and t.first_reply_at is None and t.assigned_to is None

    got = await store.tickets.assign(t.id, "cs-li")
    assert got.assigned_to == "cs-li"
    assert [x.id for x in await store.tickets.list("open", assigned_to="cs-li")] == [t.id]
    assert await store.tickets.list("open", assigned_to="cs-wang") == []
    assert (await store.tickets.assign(t.id, "")).assigned_to is None

    sent: list[tuple[str, str]] = []

    async def deliver(view, text) -> bool:
        sent.append((view.user_id, text))
        return True

    clock.advance(minutes=3)
    view, reply = await store.tickets.reply(t.id, "  给您补发一箱  ", "cs-wang", deliver)
    assert sent == [("v-1", "给您补发一箱")]
    assert reply.delivered and reply.text == "给您补发一箱" and reply.author == "cs-wang"
    assert view.first_reply_at == clock.now and view.assigned_to == "cs-wang"

    async def gone(view, text) -> bool:
        return False

    clock.advance(minutes=20)
    view, reply = await store.tickets.reply(t.id, "还在吗？", "cs-li", gone)
    assert not reply.delivered
    assert view.first_reply_at == clock.now - timedelta(minutes=20)  # the first reply stays
    assert view.assigned_to == "cs-wang"  # a second replier does not take it over
    replies = await store.tickets.replies(t.id)
    assert [(r.author, r.delivered) for r in replies] == [("cs-wang", True), ("cs-li", False)]

    await store.tickets.close(t.id, "已补发", "cs-wang")
    with pytest.raises(TicketAlreadyClosed):
        await store.tickets.reply(t.id, "再见", "cs-wang")
    with pytest.raises(TicketAlreadyClosed):
        await store.tickets.assign(t.id, "cs-li")


@pytest.mark.parametrize(
    "text",
    ["", "   ", "好" * 301, "好" * 5000, "a\x00b", "a\x1bb", 42, None],
)
async def test_bad_replies_are_refused_and_nothing_is_stored(store, text):
    t = await store.tickets.open("r1", "v-2", "甲", "question", "有货吗")
    with pytest.raises(InvalidTicket):
        await store.tickets.reply(t.id, text, "cs-li")
    assert await store.tickets.replies(t.id) == []
    assert (await store.tickets.get(t.id)).first_reply_at is None


async def test_unknown_tickets(store):
    for bad in ("cs-000000000000", "nope", "", "cs-" + "0" * 100):
        with pytest.raises(TicketNotFound):
            await store.tickets.reply(bad, "你好", "cs-li")
        with pytest.raises(TicketNotFound):
            await store.tickets.assign(bad, "cs-li")
        if bad == "cs-000000000000":  # well formed: no replies (the route reads it first)
            assert await store.tickets.replies(bad) == []
        else:
            with pytest.raises(TicketNotFound):
                await store.tickets.replies(bad)
    t = await store.tickets.open("r1", "v-3", "乙", "question", "几天到")
    with pytest.raises(InvalidTicket):
        await store.tickets.assign(t.id, "x" * 300)


async def _desk_schema(url: str) -> tuple[set[str], set[str]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def look(c):
                i = inspect(c)
                return set(i.get_table_names()), {
                    col["name"] for col in i.get_columns("cs_tickets")
                }

            return await conn.run_sync(look)
    finally:
        await engine.dispose()


async def test_migration_0016_down_and_up_keeps_the_tickets(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        t = await store.tickets.open("r1", "v-4", "丙", "complaint", "发货慢")
        await store.tickets.reply(t.id, "马上发", "cs-li")
    finally:
        await store.close()
    await _alembic(db_url, command.downgrade, "0014")
    tables, cols = await _desk_schema(db_url)
    assert "cs_ticket_replies" not in tables and "assigned_to" not in cols
    await _alembic(db_url, command.upgrade, "head")
    tables, cols = await _desk_schema(db_url)
    assert "cs_ticket_replies" in tables
    assert {"assigned_to", "assigned_at", "first_reply_at"} <= cols
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        kept = await store.tickets.get(t.id)
        assert kept.text == "发货慢" and kept.assigned_to is None
        _, reply = await store.tickets.reply(t.id, "已发出", "cs-li")
        assert reply.text == "已发出"
    finally:
        await store.close()
