"""Backup and restore on SQLite and PostgreSQL: round trips with orders and a verified trace
log, scheduled backups with retention, and clear refusals of bad files (CLI exit 2)."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from commerce import open_store
from commerce.backup import (
    NAME,
    BackupScheduler,
    backup,
    head_revision,
    inspect_backup,
    restore,
    verify_restored,
)
from commerce.errors import BackupError, BadBackupFile
from commerce.models import Order
from testkit.pg import create_database
from tests.commerce.conftest import SECRET, add_product
from tests.commerce.test_store import paid_order, req
from web.cli import main as cli


async def _second_db(db_url: str, request, tmp_path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path}/restored/shop.db"
    return await asyncio.to_thread(create_database, request.getfixturevalue("pg_admin_url"))


async def _shop(store) -> list[str]:
    """A shop with its own product, paid and unpaid orders, an account and audit rows."""
    await add_product(store, "bk-honey", 50, "48")
    ids = [await paid_order(store, "bk-honey", 2, key=f"p{i}", buyer=f"b{i}") for i in range(3)]
    order, _ = await store.orders.create(req("bk-honey", 1, buyer="b9"), "u1")
    await store.accounts.create_user("farmer", "Zao-zi-tian-2024", "operator")
    await store.audit.record("farmer", "product.create", "sku:bk-honey")
    return ids + [order["id"]]


async def _order_ids(url: str) -> set[str]:
    store = await open_store(url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        async with store.db.read() as s:
            return set(await s.scalars(select(Order.id)))
    finally:
        await store.close()


async def test_restore_brings_back_orders_and_a_verified_trace_log(
    store, db_url, request, tmp_path
):
    ids = await _shop(store)
    before = await store.trace.verify()
    assert before.ok and before.events > 0
    detail = await store.orders.reveal(ids[0])
    result = await backup(store.url, tmp_path / "bk")
    assert NAME.fullmatch(result.path.name) and result.bytes == result.path.stat().st_size > 0
    info = await inspect_backup(result.path)
    assert (info.kind, info.revision) == (result.kind, head_revision())

    # Changes after the backup: one more order. A restore over the same database drops it.
    extra, _ = await store.orders.create(req("bk-honey", 1, buyer="late"), "late")
    await store.close()
    await restore(result.path, db_url)
    assert await _order_ids(db_url) == set(ids)

    # And into an empty database elsewhere, as after losing the machine.
    other = await _second_db(db_url, request, tmp_path)
    await restore(result.path, other)
    report = await verify_restored(other, SECRET)
    assert report.ok and report.revision == report.head == head_revision()
    assert (report.trace_ok, report.trace_events) == (True, before.events)
    assert (report.orders, report.users) == (4, 1) and report.products >= 1
    s2 = await open_store(other, seed_demo=False, secret_key=SECRET, background=False)
    try:
        assert await s2.available("bk-honey") == 50 - 7
        assert [e.action for e in await s2.audit.list()] == ["product.create"]
        assert (await s2.accounts.authenticate("farmer", "Zao-zi-tian-2024", "::1")).role == (
            "operator"
        )
        assert await s2.orders.reveal(ids[0]) == detail  # buyer data decrypts with the key
    finally:
        await s2.close()
    assert extra["id"] not in await _order_ids(other)


async def test_restore_with_another_secret_key_fails_trace_verification(store, tmp_path):
    await _shop(store)
    result = await backup(store.url, tmp_path / "bk")
    report = await verify_restored(store.url, "not-the-shop-key")
    assert report.revision == report.head and not report.trace_ok and not report.ok
    assert report.trace_problems and result.path.exists()


async def test_scheduled_backups_keep_the_newest(store, tmp_path):
    out = tmp_path / "sched"
    out.mkdir()
    (out / "notes.txt").write_text("not a backup")
    (out / "yunlian-manual.sqlite3").write_text("named differently: kept")
    sched = BackupScheduler(store, out, every_seconds=0.05, keep=2)
    sched.start()
    try:
        for _ in range(600):
            if sched.status.runs >= 4:
                break
            await asyncio.sleep(0.05)
    finally:
        await sched.stop()
    assert sched.status.runs >= 4 and sched.status.failures == 0
    kept = sorted(p.name for p in out.iterdir() if NAME.fullmatch(p.name))
    assert len(kept) == 2 and sched.status.last_path.name == kept[-1]
    assert (out / "notes.txt").exists() and (out / "yunlian-manual.sqlite3").exists()
    assert not list(out.glob("*.partial"))
    for name in kept:
        assert (await inspect_backup(out / name)).revision == head_revision()
    with pytest.raises(ValueError):
        BackupScheduler(store, out, every_seconds=0, keep=2)
    with pytest.raises(ValueError):
        BackupScheduler(store, out, every_seconds=1, keep=0)


async def test_backup_failures_are_counted_not_raised_in_the_loop(tmp_path):
    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path}/s.db", seed_demo=False, secret_key=SECRET, background=False
    )
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    sched = BackupScheduler(store, blocker / "sub", every_seconds=0.02, keep=1)
    sched.start()
    try:
        for _ in range(200):
            if sched.status.failures >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await sched.stop()
        await store.close()
    assert sched.status.failures >= 2 and "备份目录" in sched.status.last_error


async def test_bad_files_are_refused_with_reasons(tmp_path, store):
    cases = {
        "missing.sqlite3": None,
        "empty.sqlite3": b"",
        "garbage.bin": b"\x00\x01garbage" * 100,
        "text.sqlite3": b"hello, I am a backup\n" * 50,
        "fake.pgdump": b"PGDMP" + b"\x01" * 300,
    }
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE t (x)")
    good = (await backup(store.url, tmp_path / "bk")).path
    truncated = tmp_path / ("truncated" + good.suffix)
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as c:
        c.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        c.execute("INSERT INTO alembic_version VALUES ('9999')")
    reasons = {}
    for path in [tmp_path / n for n in cases] + [foreign, truncated, newer]:
        with pytest.raises(BadBackupFile) as e:
            await inspect_backup(path)
        reasons[path.name] = e.value.reason
    assert "找不到" in reasons["missing.sqlite3"] and "空" in reasons["empty.sqlite3"]
    assert "不是云链销通的备份文件" in reasons["garbage.bin"]
    assert "不是云链销通" in reasons["fake.pgdump"] and "9999" in reasons["newer.sqlite3"]
    assert "不是云链销通的数据库备份" in reasons["foreign.db"]
    assert "损坏" in reasons[truncated.name]
    with pytest.raises(BackupError):
        await backup("sqlite:///" + str(tmp_path / "nope.db"), tmp_path / "bk")
    with pytest.raises(BackupError):
        await backup("sqlite:///:memory:", tmp_path / "bk")


# -- CLI ---------------------------------------------------------------------------------------
def _run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_cli_backup_and_restore_round_trip(db_url, tmp_path, capsys, monkeypatch):
    async def setup() -> list[str]:
        s = await open_store(db_url, secret_key=SECRET, background=False)
        try:
            return await _shop(s)
        finally:
            await s.close()

    ids = asyncio.run(setup())
    code, out, _ = _run_cli(
        capsys, "backup", "--db", db_url, "--out", str(tmp_path / "b"), "--secret-key", SECRET
    )
    assert code == 0 and "已备份到" in out and "密钥" in out
    (path,) = (tmp_path / "b").iterdir()

    async def damage() -> None:
        s = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
        try:
            async with s.db.write() as sess:
                await sess.execute(text("DELETE FROM order_lines"))
                await sess.execute(text("DELETE FROM order_transitions"))
        finally:
            await s.close()

    asyncio.run(damage())
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = _run_cli(capsys, "restore", str(path), "--db", db_url, "--secret-key", SECRET)
    assert code == 2 and "--yes" in err
    code, out, err = _run_cli(
        capsys, "restore", str(path), "--db", db_url, "--secret-key", SECRET, "--yes"
    )
    assert code == 0, err
    assert f"数据库版本 {head_revision()}，已是最新" in out
    assert "溯源日志校验通过" in out and "订单 4 个" in out
    assert asyncio.run(_order_ids(db_url)) == set(ids)
    assert asyncio.run(_line_count(db_url)) == 4


async def _line_count(url: str) -> int:
    store = await open_store(url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        async with store.db.read() as s:
            return await s.scalar(select(func.count()).select_from(text("order_lines")))
    finally:
        await store.close()


def test_cli_refuses_bad_files_and_databases(tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/shop.db"
    asyncio.run(_make(db))
    (tmp_path / "garbage.bak").write_bytes(b"\x89PNG\r\n" + b"\xff" * 1000)
    (tmp_path / "empty.bak").write_bytes(b"")
    bk = tmp_path / "never-made"
    for args, expect in (
        (["restore", str(tmp_path / "nope.bak"), "--db", db, "--yes"], "找不到备份文件"),
        (["restore", str(tmp_path / "empty.bak"), "--db", db, "--yes"], "备份文件是空的"),
        (["restore", str(tmp_path / "garbage.bak"), "--db", db, "--yes"], "不是云链销通的备份文件"),
        (["restore", str(tmp_path), "--db", db, "--yes"], "找不到备份文件"),
        (["backup", "--db", f"sqlite:///{tmp_path}/missing.db", "--out", str(bk)], "找不到数据库"),
        (["backup", "--db", "mysql://x@y/z", "--out", str(bk)], "不支持的数据库类型"),
        (["backup", "--db", db, "--out", str(tmp_path / "garbage.bak")], "无法创建备份目录"),
        (["backup", "--db", "::not a url::", "--out", str(bk)], "错误"),
    ):
        code, _, err = _run_cli(capsys, *args)
        assert code == 2 and expect in err, (args, err)
    assert not bk.exists()
    code, out, _ = _run_cli(capsys, "backup", "--db", db, "--out", str(tmp_path / "ok"))
    (good,) = (tmp_path / "ok").iterdir()
    code, _, err = _run_cli(
        capsys, "restore", str(good), "--db", "postgresql://u@127.0.0.1:1/x", "--yes"
    )
    assert code == 2 and "SQLite 备份，不能恢复到 PostgreSQL" in err


async def _make(url: str) -> None:
    s = await open_store(url, secret_key=SECRET, background=False)
    await s.close()
