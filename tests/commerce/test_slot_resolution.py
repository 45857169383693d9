"""A schedule slot's resolution (migration 0021) on SQLite and PostgreSQL: 720p by default,
480p kept, anything else refused with a reason; slots saved before the migration read 720p,
and the migration goes down and up again with the schema matching the models."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from commerce import open_store
from commerce.db import make_engine
from commerce.errors import InvalidInput
from commerce.models import Base
from tests.commerce.conftest import SECRET
from tests.commerce.test_migrations import _alembic


def slot(room: str, start: str, end: str, **kw) -> dict:
    return {"room_id": room, "persona": "xiaowang", "start": start, "end": end, **kw}


async def _look(url: str) -> tuple[list[str], list]:
    def look(conn):
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        cols = [c["name"] for c in inspect(conn).get_columns("room_schedule")]
        return cols, [d for d in diffs if "room_schedule" in repr(d)]

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


async def test_a_slot_keeps_its_resolution_and_refuses_others(store):
    sched = store.schedule
    plain = await sched.add("default", slot("r1", "06:00", "07:00"), "op")
    assert plain.resolution == "720p" and plain.view()["resolution"] == "720p"
    low = await sched.add("default", slot("r1", "08:00", "09:00", resolution="480p"), "op")
    assert low.resolution == "480p"
    assert (await sched.get("default", low.id)).view()["resolution"] == "480p"
    for bad in ("1080p", "480", "", 480, ["480p"], "480p" * 100):
        with pytest.raises(InvalidInput, match="720p.*480p"):
            await sched.add("default", slot("r1", "10:00", "11:00", resolution=bad), "op")
    # a change of other fields keeps it; a change of it is kept
    low = await sched.update("default", low.id, {"title": "省流早市"}, "op")
    assert low.resolution == "480p"
    up = await sched.update("default", low.id, {"resolution": "720p"}, "op")
    assert up.resolution == "720p"
    with pytest.raises(InvalidInput, match="清晰度"):
        await sched.update("default", low.id, {"resolution": "4k"}, "op")
    assert [s.resolution for s in await sched.list("default")] == ["720p", "720p"]


async def test_slots_from_before_the_migration_read_720p(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    await store.close()
    await _alembic(db_url, command.downgrade, "0020")
    cols, _ = await _look(db_url)
    assert "resolution" not in cols
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            now = datetime(2026, 12, 7, 6, 0)
            await conn.execute(
                text(
                    "INSERT INTO room_schedule (shop_id, room_id, title, persona, start_min,"
                    " end_min, lineup, outputs, enabled, created_by, created_at, updated_at)"
                    " VALUES ('default', 'old', '', 'xiaoli', 360, 720, '[]', '[]', :t, 'op',"
                    " :now, :now)"
                ),
                {"t": True, "now": now},
            )
    finally:
        await engine.dispose()
    await _alembic(db_url, command.upgrade, "head")
    cols, diffs = await _look(db_url)
    assert "resolution" in cols and diffs == []
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        [old] = await store.schedule.list("default")
        assert (old.room_id, old.resolution) == ("old", "720p")
    finally:
        await store.close()
