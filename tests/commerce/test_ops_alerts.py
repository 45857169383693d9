"""The ops alerts table (migration 0019): created, dropped and created again, matching the
ORM; rows record firing, resolving and each webhook attempt (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from alembic import command

from commerce import open_store
from commerce.ops_alerts import OpsAlertRows
from tests.commerce.conftest import SECRET
from tests.commerce.test_migrations import _alembic, schema_diffs


async def test_rows_record_fire_resolve_and_attempts(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        rows = OpsAlertRows(store.db)
        a = await rows.fired(
            "fps_low", "直播间 demo", "warning", "帧率 12 fps", datetime(2026, 12, 6, 20)
        )
        await rows.attempt(a, False, "ConnectError: refused")
        await rows.attempt(a, True, None)
        await rows.resolved(a, datetime(2026, 12, 6, 20, 1))
        b = await rows.fired("disk_low", "本机", "critical", "x" * 900, datetime(2026, 12, 6, 21))
        got = await rows.history(10)
        assert [r["id"] for r in got] == [b, a]  # newest first
        first = got[1]
        assert (first["attempts"], first["delivered"]) == (2, 1)
        assert first["last_error"].startswith("ConnectError")
        assert first["resolved_at"] == "2026-12-06T20:01:00Z"
        assert got[0]["resolved_at"] is None and len(got[0]["message"]) == 500
    finally:
        await store.close()
    tables, diffs = await schema_diffs(db_url, "ops_alerts")
    assert "ops_alerts" in tables and diffs == []


async def test_migration_drops_and_recreates_the_table(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    await store.close()
    await _alembic(db_url, command.downgrade, "0014")
    tables, _ = await schema_diffs(db_url, "ops_alerts")
    assert "ops_alerts" not in tables and "shipments" in tables
    await _alembic(db_url, command.upgrade, "head")
    tables, diffs = await schema_diffs(db_url, "ops_alerts")
    assert "ops_alerts" in tables and diffs == []
