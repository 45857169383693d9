"""Seen platform-push ids in the shop database (SQLite and PostgreSQL): accepted once, still
refused after the store is closed and reopened, pruned past the window, refused rather than
forgotten when full, and agreed on by concurrent claims."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import func, select

from commerce import open_store
from commerce.models import PushSeen
from commerce.push_seen import PushSeenRows
from danmaku.seen import SeenFull, SeenIds
from tests.commerce.conftest import SECRET
from tests.commerce.test_migrations import _alembic


class WallClock:
    """A settable unix clock in seconds."""

    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _rows(store) -> int:
    async with store.db.read() as s:
        return await s.scalar(select(func.count()).select_from(PushSeen))


async def test_an_id_is_accepted_once_and_still_refused_after_reopening(db_url):
    clock = WallClock()
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        seen = SeenIds(PushSeenRows(store.db), retention=360, clock=clock)
        assert await seen.first_seen("douyin", ["m1", "m2", "m1"]) == [True, True, False]
        assert await seen.first_seen("douyin", ["m2", "m3"]) == [False, True]
        assert await seen.first_seen("kuaishou", ["m1"]) == [True]  # ids are per platform
        hits = seen.counts["cache_hits"]
        assert await seen.first_seen("douyin", ["m1"]) == [False]
        assert seen.counts["cache_hits"] == hits + 1  # a repeat costs no database write
        assert await _rows(store) == 4
    finally:
        await store.close()

    # A restart: a new process, an empty cache, the same database.
    clock.now += 200
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        seen = SeenIds(PushSeenRows(store.db), retention=360, clock=clock)
        assert await seen.first_seen("douyin", ["m3", "m1", "m4"]) == [False, False, True]
        assert seen.counts["cache_hits"] == 0 and seen.counts["store_writes"] == 1
    finally:
        await store.close()


async def test_rows_past_the_window_are_pruned_and_the_table_stays_bounded(db_url):
    clock = WallClock()
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        seen = SeenIds(PushSeenRows(store.db), retention=360, max_rows=1000, clock=clock)
        assert all(await seen.first_seen("douyin", [f"old-{i}" for i in range(600)]))
        clock.now += 100
        assert all(await seen.first_seen("douyin", [f"mid-{i}" for i in range(300)]))
        # 900 rows in the window: 200 more would pass the bound, so they are refused,
        # and nothing already remembered is dropped to make room
        with pytest.raises(SeenFull) as info:
            await seen.first_seen("douyin", [f"new-{i}" for i in range(200)])
        assert "已满" in info.value.reason and await _rows(store) == 900
        assert await seen.first_seen("douyin", ["old-1", "mid-1"]) == [False, False]

        clock.now += 261  # the "old" rows are now past the window; the "mid" ones are not
        assert all(await seen.first_seen("douyin", [f"new-{i}" for i in range(200)]))
        assert await _rows(store) == 500 and seen.stats()["rows"] == 500
        assert await seen.first_seen("douyin", ["mid-299"]) == [False]
    finally:
        await store.close()


async def test_concurrent_claims_of_one_id_give_it_to_exactly_one(db_url, tmp_path):
    s1 = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    s2 = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        a, b = SeenIds(PushSeenRows(s1.db)), SeenIds(PushSeenRows(s2.db))  # two workers
        ids = [f"race-{i}" for i in range(50)]
        results = await asyncio.gather(
            *(w.first_seen("douyin", [i]) for i in ids for w in (a, b, a, b))
        )
        firsts = [r[0] for r in results]
        for k in range(len(ids)):
            assert sum(firsts[4 * k : 4 * k + 4]) == 1, ids[k]
    finally:
        await s1.close()
        await s2.close()


async def test_memory_only_refuses_new_ids_rather_than_forget_one():
    clock = WallClock()
    seen = SeenIds(None, retention=360, max_cached=100, clock=clock)
    assert all(await seen.first_seen("douyin", [f"a{i}" for i in range(100)]))
    with pytest.raises(SeenFull):
        await seen.first_seen("douyin", ["b0"])
    assert await seen.first_seen("douyin", ["a0"]) == [False]
    clock.now += 361
    assert await seen.first_seen("douyin", ["a0", "b0"]) == [True, True]
    with pytest.raises(ValueError):
        SeenIds(None, retention=0)


async def test_the_push_seen_migration_goes_down_and_up(db_url):
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    await store.close()
    await _alembic(db_url, command.downgrade, "0007")
    await _alembic(db_url, command.upgrade, "head")
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        assert await SeenIds(PushSeenRows(store.db)).first_seen("douyin", ["x"]) == [True]
    finally:
        await store.close()


async def test_a_large_claim_is_looked_up_in_chunks_and_answers_each_id(db_url):
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        rows = PushSeenRows(store.db)
        assert await rows.insert_new("douyin", [f"big-{i}" for i in range(0, 12_000, 2)], 1) == {
            f"big-{i}" for i in range(0, 12_000, 2)
        }
        new = await rows.insert_new("douyin", [f"big-{i}" for i in range(12_000)], 2)
        assert new == {f"big-{i}" for i in range(1, 12_000, 2)}
        assert await rows.insert_new("douyin", [], 3) == set()
        assert await _rows(store) == 12_000
    finally:
        await store.close()
