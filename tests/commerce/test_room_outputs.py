"""Saved RTMP outputs (migration 0020, `store.room_outputs`) on SQLite and PostgreSQL: keys
sealed, one room's rows only, removed ones forgotten, the table matching the ORM and dropped
and created again by the migration."""

from __future__ import annotations

from alembic import command

from commerce import open_store
from commerce.models import RoomOutput
from tests.commerce.conftest import SECRET
from tests.commerce.test_migrations import _alembic, schema_diffs

KEY = "sk-Platform-stream-key-0123456789"


async def test_saved_outputs_keep_sealed_keys_and_forget_removed_ones(db_url, clock):
    """The store's side on SQLite and PostgreSQL (migration 0020)."""
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        outs = store.room_outputs
        await outs.save("r1", "a1", "rtmp://x.example/live", KEY, "快手", "op")
        await outs.save("r1", "a2", "rtmps://y.example/app", KEY + "2", "", "op")
        await outs.save("r2", "b1", "rtmp://z.example/live", KEY, "", "op")
        saved = await outs.list("r1")
        assert [s.id for s in saved] == ["a1", "a2"]
        assert all(KEY not in s.sealed_key for s in saved)
        assert outs.stream_key(saved[0]) == KEY
        assert await outs.remove("r1", "a1") is True
        assert await outs.remove("r1", "a1") is False
        assert await outs.remove("r2", "a2") is False, "another room's output"
        assert await outs.remove("r1", "x" * 500) is False
        assert [s.id for s in await outs.list("r1")] == ["a2"]
        assert await outs.list("r" * 500) == []
        async with store.db.read() as s:
            assert (await s.get(RoomOutput, "b1")).room_id == "r2"
    finally:
        await store.close()
    tables, diffs = await schema_diffs(db_url, "room_outputs")
    assert "room_outputs" in tables and diffs == []


async def test_migration_drops_and_recreates_the_table(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    await store.close()
    await _alembic(db_url, command.downgrade, "0019")
    tables, _ = await schema_diffs(db_url, "room_outputs")
    assert "room_outputs" not in tables and "ops_alerts" in tables
    await _alembic(db_url, command.upgrade, "head")
    tables, diffs = await schema_diffs(db_url, "room_outputs")
    assert "room_outputs" in tables and diffs == []
