"""The schedule's rows on SQLite and PostgreSQL: slots per shop, overlaps refused (also when
added at once), stream keys sealed in the database and kept through a change."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from commerce.errors import InvalidInput, NotFound
from commerce.models import RoomSlot


def spec(room="r", start="06:00", end="12:00", **kw):
    return {"room_id": room, "persona": "xiaowang", "start": start, "end": end, **kw}


async def test_slots_are_kept_per_shop_and_changed_in_place(store):
    a = await store.schedule.add("default", spec(lineup=["fp-apple-5kg"]), "op")
    b = await store.schedule.add("farm2", spec(room="other", start="07:00", end="08:00"), "op2")
    assert [s.id for s in await store.schedule.list("default")] == [a.id]
    assert {s.id for s in await store.schedule.list()} == {a.id, b.id}  # the scheduler's view
    with pytest.raises(NotFound):
        await store.schedule.get("default", b.id)
    with pytest.raises(NotFound):
        await store.schedule.update("default", b.id, {"end": "09:00"}, "op")
    with pytest.raises(NotFound):
        await store.schedule.delete("default", b.id)
    changed = await store.schedule.update(
        "default", a.id, {"persona": "xiaoli", "end": "13:00"}, "op"
    )
    assert (changed.persona, changed.end_min, changed.lineup) == (
        "xiaoli",
        13 * 60,
        ("fp-apple-5kg",),
    )
    with pytest.raises(InvalidInput, match="直播间不能修改"):
        await store.schedule.update("default", a.id, {"room_id": "elsewhere"}, "op")
    await store.schedule.delete("default", a.id)
    assert await store.schedule.list("default") == []


async def test_stream_keys_are_sealed_and_kept_through_a_change(store):
    key = "live_123456789_abcdefghijkl"
    out = {"name": "抖音", "url": "rtmp://push.example.cn/live", "stream_key": key}
    s = await store.schedule.add("default", spec(outputs=[out]), "op")
    async with store.db.read() as session:
        row = (await session.scalars(select(RoomSlot).where(RoomSlot.id == s.id))).one()
    assert key not in str(row.outputs)
    assert s.view()["outputs"][0]["stream_key"] == "****ijkl"
    kept = await store.schedule.update(
        "default", s.id, {"outputs": [{**out, "stream_key": "****ijkl"}]}, "op"
    )
    assert store.schedule.stream_key(kept.outputs[0]) == key
    with pytest.raises(InvalidInput, match="推流密钥"):  # a new output needs its key
        await store.schedule.update(
            "default",
            s.id,
            {"outputs": [{**out, "url": "rtmp://b.example/live", "stream_key": ""}]},
            "op",
        )


async def test_overlapping_slots_added_at_once_one_is_kept(store):
    await store.rooms.claim("busy", "default", by="op", live=False)
    results = await asyncio.gather(
        *(
            store.schedule.add("default", spec(room="busy", start=f"{i:02d}:30", end="12:00"), "op")
            for i in range(20)
        ),
        return_exceptions=True,
    )
    kept = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InvalidInput)]
    assert len(kept) == 1 and len(refused) == 19
    assert all("重叠" in r.reason for r in refused)
    assert len(await store.schedule.list("default", "busy")) == 1
