"""Room leases on a real PostgreSQL: one winner per expired lease, the database's clock."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from commerce import open_store
from streamer.leases import LeaseError, Leases
from testkit.pg import create_database, postgres_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg_admin_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def db_url(pg_admin_url):
    url = create_database(pg_admin_url)

    async def _migrate() -> None:  # the lease table comes with the shop's migrations
        store = await open_store(url, seed_demo=False, background=False)
        await store.close()

    asyncio.run(_migrate())
    return url


async def _expire(leases: Leases, room_id: str) -> None:
    from sqlalchemy import text

    async with leases.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE room_leases SET expires_at = now() - interval '1 second' WHERE room_id = :r"
            ),
            {"r": room_id},
        )


def test_two_nodes_racing_for_one_expired_lease_exactly_one_wins(db_url):
    async def main() -> None:
        a, b = Leases(db_url, "node-a", ttl=10), Leases(db_url, "node-b", ttl=10)
        try:
            first = await a.acquire("room-1", {"room_id": "room-1"})
            assert first is not None and first.epoch == 1
            assert await b.acquire("room-1", {"room_id": "room-1"}) is None  # live: refused
            wins = {"node-a": 0, "node-b": 0}
            for i in range(100):
                await _expire(a, "room-1")
                got_a, got_b = await asyncio.gather(a.take_expired(5), b.take_expired(5))
                assert len(got_a) + len(got_b) == 1, f"trial {i}: {got_a} {got_b}"
                winner = (got_a or got_b)[0]
                assert winner.epoch == first.epoch + i + 1
                wins[winner.node_id] += 1
                holder = await a.holder("room-1")
                assert holder.node_id == winner.node_id and holder.epoch == winner.epoch
                # the loser of the takeover cannot renew with the old epoch
                loser = b if winner.node_id == "node-a" else a
                assert await loser.renew({"room-1": winner.epoch - 1}, {}) == set()
            assert sum(wins.values()) == 100
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_renew_keeps_the_position_and_release_frees_the_room(db_url):
    async def main() -> None:
        a, b = Leases(db_url, "node-a", ttl=10), Leases(db_url, "node-b", ttl=10)
        try:
            lease = await a.acquire("room-2", {"room_id": "room-2", "title": "阜平大枣"})
            kept = await a.renew({"room-2": lease.epoch}, {"room-2": {"sku": "ZAO-500"}})
            assert kept == {"room-2"}
            await a.release("room-2", lease.epoch, expire=True)  # could not run it
            (taken,) = await b.take_expired(5)
            assert taken.resume == {"sku": "ZAO-500"}
            assert taken.config["title"] == "阜平大枣" and taken.node_id == "node-b"
            assert await a.renew({"room-2": lease.epoch}, {}) == set()  # a lost it
            await b.release("room-2", taken.epoch)
            assert await a.holder("room-2") is None
            assert await a.acquire("room-2", {"room_id": "room-2"}) is not None
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_bad_lease_settings_are_refused():
    with pytest.raises(LeaseError, match="PostgreSQL"):
        Leases("sqlite+aiosqlite:///x.db", "a")
    with pytest.raises(LeaseError, match="lease_ttl"):
        Leases("postgresql+asyncpg://u@127.0.0.1/db", "a", ttl=0.1)
    with pytest.raises(LeaseError, match="node id"):
        Leases("postgresql+asyncpg://u@127.0.0.1/db", "x" * 65)


SKEWED = """
import asyncio, json, sys
from streamer.leases import Leases
async def main():
    url, op = sys.argv[1], sys.argv[2]
    leases = Leases(url, "node-skewed", ttl=20)
    try:
        if op == "take":
            taken = await leases.take_expired(5)
            print(json.dumps([t.room_id for t in taken]))
        else:
            lease = await leases.acquire("room-new", {"room_id": "room-new"})
            print(json.dumps(lease is not None))
    finally:
        await leases.close()
asyncio.run(main())
"""


def _skewed(offset: str, db_url: str, op: str):
    """Run one lease call in a process whose clock is `offset` off (libfaketime)."""
    out = subprocess.run(
        ["faketime", "-f", offset, sys.executable, "-c", SKEWED, db_url, op],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_node_clock_skewed_by_30_s_does_not_decide_leases(db_url):
    async def seconds_left(leases: Leases, room_id: str) -> float:
        from sqlalchemy import text

        async with leases.engine.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT EXTRACT(EPOCH FROM expires_at - now()) FROM room_leases "
                        "WHERE room_id = :r"
                    ),
                    {"r": room_id},
                )
            ).scalar_one()

    async def setup(ttl: float) -> None:
        a = Leases(db_url, "node-a", ttl=ttl)
        try:
            assert await a.acquire("room-live", {"room_id": "room-live"}) is not None
        finally:
            await a.close()

    asyncio.run(setup(20))
    # 30 s ahead: by its own clock the 20 s lease ran out long ago, by the database's not
    assert _skewed("+30s", db_url, "take") == []
    assert _skewed("+30s", db_url, "acquire") is True

    async def check() -> None:
        a = Leases(db_url, "node-a", ttl=20)
        try:
            left = float(await seconds_left(a, "room-new"))
            assert 10 < left <= 20, left  # now() + ttl on the database, not now + 30 + ttl
            holder = await a.holder("room-live")
            assert holder is not None and holder.node_id == "node-a"
            await _expire(a, "room-live")
        finally:
            await a.close()

    asyncio.run(check())
    # 30 s behind: by its own clock the lease has 29 s left; the database says it expired
    assert _skewed("-30s", db_url, "take") == ["room-live"]


def test_a_writer_s_api_key_never_reaches_the_lease_row():
    from streamer.nodes import config_data, config_from, with_secrets
    from streamer.room import RoomConfig

    writer = {
        "backend": "openai",
        "base_url": "http://llm:8000/v1",
        "model": "m",
        "api_key": "sk-1",
    }
    data = config_data(RoomConfig("r1", writer=writer, resume={"sku": "x"}))
    assert "api_key" not in json.dumps(data) and "resume" not in data
    back = with_secrets(config_from(data), {"llm": dict(writer)})
    assert back.writer == writer
    # no configured backend matches: the room starts without the key (its writer falls back)
    assert with_secrets(config_from(data), {}).writer == data["writer"]
