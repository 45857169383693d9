"""Migrations on SQLite and PostgreSQL: the reserved counter is backfilled and can be removed."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from commerce import open_store
from commerce.db import alembic_config, make_engine
from commerce.models import Base
from tests.commerce.conftest import SECRET, add_product, reserved_mismatches
from tests.commerce.test_store import req


async def _alembic(url: str, fn, revision: str) -> None:
    engine = make_engine(url)

    def run(sync_conn) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        fn(cfg, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def schema_diffs(url: str, table: str) -> tuple[set[str], list]:
    """The database's table names, and the differences between the ORM and the database
    that concern `table` (none once its migration is applied)."""

    def look(conn):
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        return set(inspect(conn).get_table_names()), [d for d in diffs if table in repr(d)]

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


async def _stock_columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            cols = await conn.run_sync(lambda c: inspect(c).get_columns("stocks"))
    finally:
        await engine.dispose()
    return {c["name"] for c in cols}


async def test_reserved_counter_is_backfilled_from_existing_holds(db_url, clock):
    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    await add_product(store, "mig", 10)
    await store.orders.create(req("mig", 3), "k1")
    await store.orders.create(req("mig", 2, buyer="b2"), "k2")
    await store.close()

    await _alembic(db_url, command.downgrade, "0003")
    assert "reserved" not in await _stock_columns(db_url)
    await _alembic(db_url, command.upgrade, "head")
    assert "reserved" in await _stock_columns(db_url)

    store = await open_store(db_url, secret_key=SECRET, clock=clock, background=False)
    try:
        assert await reserved_mismatches(store) == []
        assert await store.available("mig") == 5
        await store.orders.create(req("mig", 5, buyer="b3"), "k3")
        assert await store.available("mig") == 0
        assert await reserved_mismatches(store) == []
    finally:
        await store.close()
