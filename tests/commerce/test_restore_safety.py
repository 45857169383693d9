"""`yunlian restore` as an attacker and a tired operator would meet it (issue 16, failure 5),
through the real CLI in a subprocess: a tampered backup (a cs user made admin, every order
total set to 1 fen) is refused; a restore under a running `yunlian serve` is refused, and
allowed once that server is killed -9 (no stale lock); the live database is copied aside
and put back when verification fails; --force-unsigned takes a foreign file, loudly."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from commerce import open_store
from commerce.backup import backup
from commerce.backup_seal import TRAILER_LEN
from commerce.crypto import backup_key
from commerce.db_lock import hold
from commerce.errors import DatabaseInUse
from commerce.models import Order, User
from commerce.restore import checked_backup, restore_checked
from testkit.livesrv import free_port
from tests.commerce.conftest import SECRET
from tests.commerce.test_backup import _shop

ROOT = Path(__file__).resolve().parents[2]
OTHER_SECRET = "another-farm-server-key"


def yunlian(*args: str, cwd: Path, secret: str | None = SECRET, timeout: float = 120):
    """The `yunlian` command, as a user runs it (this worktree's code)."""
    env = {k: v for k, v in os.environ.items() if k != "YUNLIAN_SECRET_KEY"}
    env["PYTHONPATH"] = str(ROOT)
    if secret:
        env["YUNLIAN_SECRET_KEY"] = secret
    out = subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    return out


def shop_at(path: Path, secret: str = SECRET) -> str:
    """A SQLite shop with orders, an operator and a cs user; returns its URL."""
    url = f"sqlite+aiosqlite:///{path}"

    async def make() -> None:
        store = await open_store(url, seed_demo=False, secret_key=secret, background=False)
        try:
            await _shop(store)
            await store.accounts.create_user("kefu", "Zaoxiang-mima-2024", "cs")
        finally:
            await store.close()

    asyncio.run(make())
    return url


def facts(db: Path) -> dict:
    """What an attacker would want to change, read straight from the file."""
    with sqlite3.connect(db) as c:
        roles = dict(c.execute("SELECT username, role FROM users"))
        totals = sorted(t for (t,) in c.execute("SELECT total_fen FROM orders"))
    return {"roles": roles, "totals": totals}


def make_backup(cwd: Path, db: Path, secret: str = SECRET) -> Path:
    out = yunlian(
        "backup", "--db", f"sqlite:///{db}", "--out", str(cwd / "bk"), cwd=cwd, secret=secret
    )
    assert out.returncode == 0, out.stderr
    (path,) = (cwd / "bk").iterdir()
    return path


def tamper(src: Path, dest: Path, keep_seal: bool) -> None:
    """Make the cs user an admin and every order total 1 fen, then keep (or drop) the seal."""
    data = src.read_bytes()
    dest.write_bytes(data[:-TRAILER_LEN])
    with sqlite3.connect(dest) as c:
        c.execute("UPDATE users SET role = 'admin' WHERE username = 'kefu'")
        c.execute("UPDATE orders SET total_fen = 1")
    c.close()
    if keep_seal:
        with dest.open("ab") as f:
            f.write(data[-TRAILER_LEN:])


def test_a_tampered_backup_is_refused_and_the_live_shop_is_untouched(tmp_path):
    db = tmp_path / "shop.db"
    shop_at(db)
    good = make_backup(tmp_path, db)
    assert good.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "bk").stat().st_mode & 0o777 == 0o700
    before = facts(db)
    assert before["roles"]["kefu"] == "cs" and min(before["totals"]) > 1

    resealed, unsealed, flipped = (tmp_path / n for n in ("a.sqlite3", "b.sqlite3", "c.sqlite3"))
    tamper(good, resealed, keep_seal=True)
    tamper(good, unsealed, keep_seal=False)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit anywhere
    flipped.write_bytes(bytes(data))
    assert facts(unsealed)["roles"]["kefu"] == "admin"  # the edit itself worked

    url = f"sqlite:///{db}"
    for path, reason in (
        (resealed, "签名不符"),
        (flipped, "签名不符"),
        (unsealed, "没有签名"),
    ):
        out = yunlian("restore", str(path), "--db", url, "--yes", cwd=tmp_path)
        assert out.returncode == 2 and reason in out.stderr and "拒绝" in out.stderr, out.stderr
        assert "溯源日志校验通过" not in out.stdout
    assert "--force-unsigned" in out.stderr  # the unsigned refusal names the way out
    other = yunlian("restore", str(good), "--db", url, "--yes", cwd=tmp_path, secret=OTHER_SECRET)
    assert other.returncode == 2 and "另一个密钥" in other.stderr
    assert facts(db) == before
    assert not list(tmp_path.glob("shop.db.before-restore-*"))  # refused before anything


def test_restore_refuses_while_yunlian_serve_runs_and_not_after_it_is_killed(tmp_path):
    db = tmp_path / "shop.db"
    shop_at(db)
    good = make_backup(tmp_path, db)
    url = f"sqlite:///{db}"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YUNLIAN_SECRET_KEY": SECRET}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web.cli",
            "serve",
            "--port",
            str(port),
            "--db",
            url,
            "--no-demo",
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "yunlian serve exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "yunlian serve did not start in 60 s"
            time.sleep(0.2)
        before = facts(db)
        out = yunlian("restore", str(good), "--db", url, "--yes", cwd=tmp_path)
        assert out.returncode == 2 and "正被运行中的服务" in out.stderr, out.stderr
        assert facts(db) == before
        os.kill(server.pid, signal.SIGKILL)  # a crash: no shutdown code runs
        server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
    out = yunlian("restore", str(good), "--db", url, "--yes", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "备份签名校验通过" in out.stdout and "溯源日志校验通过" in out.stdout


def test_the_live_database_is_set_aside_and_put_back_when_verification_fails(tmp_path):
    theirs = tmp_path / "theirs" / "shop.db"
    theirs.parent.mkdir()
    shop_at(theirs, secret=OTHER_SECRET)
    foreign = make_backup(theirs.parent, theirs, secret=OTHER_SECRET)
    db = tmp_path / "shop.db"
    shop_at(db)
    before = facts(db)

    # A foreign backup loads with --force-unsigned, but its trace log does not verify under
    # this server's key: the restore is undone and the live shop comes back as it was.
    out = yunlian(
        "restore",
        str(foreign),
        "--db",
        f"sqlite:///{db}",
        "--yes",
        "--force-unsigned",
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "警告" in out.stderr and "--force-unsigned" in out.stderr
    assert "校验失败" in out.stderr and "已放回原数据库" in out.stderr
    assert facts(db) == before
    (aside,) = tmp_path.glob("shop.db.before-restore-*")
    assert aside.stat().st_mode & 0o777 == 0o600 and facts(aside) == before


def test_a_good_restore_keeps_the_replaced_database_aside(tmp_path):
    db = tmp_path / "shop.db"
    shop_at(db)
    good = make_backup(tmp_path, db)
    with sqlite3.connect(db) as c:  # a change after the backup: the restore drops it
        c.execute("UPDATE orders SET total_fen = total_fen + 100")
    c.close()
    changed = facts(db)
    out = yunlian("restore", str(good), "--db", f"sqlite:///{db}", "--yes", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "原数据库已另存为" in out.stdout and "溯源日志校验通过" in out.stdout
    (aside,) = tmp_path.glob("shop.db.before-restore-*")
    assert facts(aside) == changed and facts(db) != changed
    assert aside.stat().st_mode & 0o777 == 0o600


def test_force_unsigned_takes_a_foreign_file_with_a_loud_warning(tmp_path):
    db = tmp_path / "shop.db"
    shop_at(db)
    good = make_backup(tmp_path, db)
    bare = tmp_path / "old-style.sqlite3"  # a backup from before seals: the dump alone
    bare.write_bytes(good.read_bytes()[:-TRAILER_LEN])
    url = f"sqlite:///{db}"
    refused = yunlian("restore", str(bare), "--db", url, "--yes", cwd=tmp_path)
    assert refused.returncode == 2 and "没有签名" in refused.stderr
    out = yunlian("restore", str(bare), "--db", url, "--yes", "--force-unsigned", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("!!") >= 4 and "没有签名" in out.stderr and "警告" in out.stderr
    assert "溯源日志校验通过" in out.stdout
    nokey = yunlian("restore", str(good), "--db", url, "--yes", cwd=tmp_path, secret=None)
    assert nokey.returncode == 2 and "找不到本服务器的密钥" in nokey.stderr


async def test_restore_waits_for_no_server_and_sets_aside_on_both_databases(db_url, tmp_path):
    """The same guarantees through the API, on SQLite and PostgreSQL (advisory lock)."""
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        ids = await _shop(store)
        result = await backup(store.url, tmp_path / "bk", key=backup_key(SECRET.encode()))
        async with store.db.write() as s:
            (await s.scalars(select(User).where(User.username == "farmer"))).one().role = "admin"
    finally:
        await store.close()
    assert result.path.stat().st_mode & 0o777 == 0o600

    server = await hold(db_url, exclusive=False)  # what `yunlian serve` holds
    try:
        async with checked_backup(result.path, SECRET.encode()) as bk:
            with pytest.raises(DatabaseInUse) as info:
                await restore_checked(bk, db_url, SECRET.encode())
        assert "正被运行中的服务" in info.value.reason
        with pytest.raises(DatabaseInUse):  # it waits, bounded, then says why
            await hold(db_url, exclusive=True, wait=0.3)
    finally:
        await server.release()
    restoring = await hold(db_url, exclusive=True)  # and a server starting mid-restore waits
    try:
        with pytest.raises(DatabaseInUse) as info:
            await hold(db_url, exclusive=False, wait=0.3)
        assert "正在恢复" in info.value.reason
    finally:
        await restoring.release()

    async with checked_backup(result.path, SECRET.encode()) as bk:
        outcome = await restore_checked(bk, db_url, SECRET.encode())
    assert not outcome.rolled_back and outcome.report.ok and outcome.aside.exists()
    assert outcome.aside.stat().st_mode & 0o777 == 0o600
    store = await open_store(db_url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        async with store.db.read() as s:
            assert set(await s.scalars(select(Order.id))) == set(ids)
            farmer = (await s.scalars(select(User).where(User.username == "farmer"))).one()
            assert farmer.role == "operator"  # the change after the backup is gone
    finally:
        await store.close()
    again = await hold(db_url, exclusive=True)  # the restore released its hold
    await again.release()
