"""The audit log on SQLite and PostgreSQL: filters, paging, bounded JSON, append-only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from commerce.audit import MAX_JSON, make_row
from commerce.errors import InvalidAudit
from commerce.models import AuditLog


async def _fill(store, clock) -> list:
    rows = []
    for actor, action, target in (
        ("farmer", "product.update", "sku:fp-jujube"),
        ("farmer", "flash_sale.start", "room:demo"),
        ("admin", "user.create", "user:cs01"),
        ("farmer", "product.create", "sku:fp-honey"),
        ("system", "room.start", "room:demo"),
    ):
        clock.advance(minutes=1)
        rows.append(await store.audit.record(actor, action, target, role="operator"))
    return rows


async def test_record_and_filter_newest_first(store, clock):
    start = clock.now
    a = await store.audit.record(
        "farmer",
        "product.update",
        "sku:fp-jujube-500g",
        role="operator",
        before={"price": Decimal("48.00"), "stock": 10},
        after={"price": Decimal("39.90"), "stock": 10, "at": datetime(2025, 5, 1, 8)},
        ip="10.1.2.3",
        user_agent="Mozilla/5.0",
    )
    assert (a.actor, a.role, a.action, a.target, a.ip, a.at) == (
        "farmer",
        "operator",
        "product.update",
        "sku:fp-jujube-500g",
        "10.1.2.3",
        clock.now,
    )
    assert a.before == {"price": "48.00", "stock": 10}
    assert a.after == {"price": "39.90", "stock": 10, "at": "2025-05-01 08:00:00"}
    rows = [a] + await _fill(store, clock)
    ids = [r.id for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert [e.id for e in await store.audit.list()] == ids[::-1]
    assert [e.action for e in await store.audit.list(actor="farmer")] == [
        "product.create",
        "flash_sale.start",
        "product.update",
        "product.update",
    ]
    assert [e.id for e in await store.audit.list(action="product.*")] == [ids[4], ids[1], ids[0]]
    assert [e.id for e in await store.audit.list(action="user.create")] == [ids[3]]
    assert [e.id for e in await store.audit.list(target="room:demo")] == [ids[5], ids[2]]
    window = await store.audit.list(
        since=start + timedelta(minutes=2), until=start + timedelta(minutes=4)
    )
    assert [e.id for e in window] == [ids[3], ids[2]]
    aware = datetime.combine(start.date(), start.time(), UTC) + timedelta(minutes=4)
    assert [e.id for e in await store.audit.list(since=aware)] == [ids[5], ids[4]]
    page1 = await store.audit.list(limit=4)
    page2 = await store.audit.list(limit=4, before_id=page1[-1].id)
    assert [e.id for e in page1 + page2] == ids[::-1]


async def test_oversized_values_are_cut_with_a_marker(store):
    small = {"text": "枣" * 5000}  # 15 kB in UTF-8: kept whole
    big = {"lineup": ["荆条蜜" * 10] * 1000}
    e = await store.audit.record("admin", "room.update", "room:r1", before=small, after=big)
    assert e.before == small
    assert e.after["_truncated"] is True and e.after["bytes"] > MAX_JSON
    assert e.after["preview"].startswith('{"lineup": ["荆条蜜')
    assert len(json.dumps(e.after, ensure_ascii=False).encode()) <= MAX_JSON
    got = (await store.audit.list(limit=1))[0]
    assert got.after == e.after and got.before == small


async def test_hostile_fields_are_cut_or_refused(store):
    e = await store.audit.record(
        "evil\x00\x1b[31m" + "x" * 500,
        "order.refund",
        "t" * 10_000,
        ip="1.2.3.4\r\nX-Injected: 1",
        user_agent="u" * 100_000,
    )
    assert "\x00" not in e.actor and "\x1b" not in e.actor and len(e.actor) == 64
    assert len(e.target) == 128 and len(e.user_agent) == 256 and "\n" not in e.ip
    assert (await store.audit.record("", "room.stop")).actor == "anonymous"
    for action in ("", "Product.Update", "a" * 65, "drop table;", "x..y", None, "a.b.c.d.e"):
        with pytest.raises(InvalidAudit):
            await store.audit.record("admin", action)
    for kw in (
        {"limit": 0},
        {"limit": 501},
        {"limit": True},
        {"before_id": -1},
        {"before_id": "3"},
        {"actor": "a" * 65},
        {"action": "nope!"},
        {"since": "2025-01-01"},
    ):
        with pytest.raises(InvalidAudit):
            await store.audit.list(**kw)


async def test_audit_rows_cannot_be_updated_or_deleted(store, db_url, clock):
    rows = await _fill(store, clock)
    attempts = [
        text("UPDATE audit_log SET actor = 'nobody'"),
        text("DELETE FROM audit_log WHERE id = :i").bindparams(i=rows[0].id),
        update(AuditLog).where(AuditLog.id == rows[1].id).values(after={"forged": True}),
        delete(AuditLog),
    ]
    if not db_url.startswith("sqlite"):
        attempts.append(text("TRUNCATE audit_log"))
    for stmt in attempts:
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.db.write() as s:
                await s.execute(stmt)
    with pytest.raises(DBAPIError, match="append-only"):
        async with store.db.write() as s:
            row = await s.get(AuditLog, rows[2].id)
            await s.delete(row)
    after = await store.audit.list()
    assert [(e.id, e.actor, e.after) for e in after] == [
        (r.id, r.actor, r.after) for r in rows[::-1]
    ]


async def test_a_row_made_in_the_callers_transaction_rolls_back_with_it(store, clock):
    with pytest.raises(RuntimeError):
        async with store.db.write() as s:
            s.add(make_row(clock.now, "farmer", "product.update", "sku:x", after={"a": 1}))
            await s.flush()
            raise RuntimeError("the change failed")
    assert await store.audit.list() == []
    async with store.db.write() as s:
        s.add(make_row(clock.now, "farmer", "product.update", "sku:x", after={"a": 1}))
    assert [e.after for e in await store.audit.list()] == [{"a": 1}]
