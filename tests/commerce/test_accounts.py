"""Accounts on SQLite and PostgreSQL: hashing, throttling, sessions, tokens, first admin."""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from commerce import open_store
from commerce.accounts import AccountService, login_p95
from commerce.errors import (
    BadCredentials,
    InvalidAccount,
    LoginThrottled,
    ScopeNotAllowed,
    UserExists,
    UserNotFound,
    WeakPassword,
)
from commerce.login_throttle import ThrottlePolicy
from commerce.models import Base, User
from commerce.passwords import argon2_parameters
from tests.commerce.conftest import SECRET
from tests.commerce.test_migrations import _alembic

PW = "Zao-zi-tian-2024"
MINE = ("users", "user_sessions", "api_tokens", "login_throttle", "audit_log")


async def test_passwords_sessions_and_tokens_are_never_stored_in_plaintext(store, db_url):
    u = await store.accounts.create_user("farmer01", PW, "operator")
    assert u.shop_id == "default" and u.role == "operator" and not u.disabled
    sid, csrf = await store.accounts.create_session(u, "10.0.0.1", "pytest")
    token = await store.accounts.create_token(u, "operator", "脚本")
    admin_pw = await store.accounts.ensure_admin()
    secrets_given = [PW, sid, token, admin_pw]
    async with store.db.read() as s:
        hashes = list(await s.scalars(select(User.password_hash)))
        rows = []
        for table in ("users", "user_sessions", "api_tokens"):
            rows += (await s.execute(text(f"SELECT * FROM {table}"))).all()
    dumped = " ".join(str(r) for r in rows)
    assert len(hashes) == 2 and all(h.startswith("$argon2id$v=19$m=32768,t=3,p=1$") for h in hashes)
    for secret in secrets_given:
        assert secret not in dumped
    if db_url.startswith("sqlite"):
        await store.close()
        path = Path(db_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"$argon2id$" in raw  # the hashes are in these bytes: the search is real
        for secret in secrets_given:
            assert secret.encode() not in raw


async def test_login_checks_password_case_insensitive_name_and_disabled(store):
    await store.accounts.create_user("Alice", PW, "cs")
    assert (await store.accounts.authenticate("ALICE", PW, "1.1.1.1")).username == "alice"
    with pytest.raises(BadCredentials):
        await store.accounts.authenticate("alice", PW + "x", "1.1.1.1")
    with pytest.raises(BadCredentials):
        await store.accounts.authenticate("nobody", PW, "1.1.1.1")
    for hostile in (None, "", "a" * 10_000, "bob\x00", 42):
        with pytest.raises(BadCredentials):
            await store.accounts.authenticate(hostile, PW, "1.1.1.1")
    with pytest.raises(BadCredentials):
        await store.accounts.authenticate("alice", "x" * 100_000, "1.1.1.1")
    await store.accounts.set_disabled("alice")
    with pytest.raises(BadCredentials) as e:
        await store.accounts.authenticate("alice", PW, "1.1.1.1")
    assert e.value.reason == "用户名或密码错误"
    await store.accounts.set_disabled("alice", False)
    await store.accounts.set_password("alice", "Li-zi-hong-2025")
    with pytest.raises(BadCredentials):
        await store.accounts.authenticate("alice", PW, "1.1.1.1")
    assert (await store.accounts.authenticate("alice", "Li-zi-hong-2025", "1.1.1.1")).role == "cs"


async def test_eleventh_wrong_password_is_throttled_even_with_the_right_one(store, clock):
    await store.accounts.create_user("op1", PW, "operator")
    for i in range(10):
        with pytest.raises(BadCredentials):
            await store.accounts.authenticate("op1", f"wrong-pass-{i}", f"10.0.0.{i}")
    with pytest.raises(LoginThrottled) as e:
        await store.accounts.authenticate("op1", PW, "10.9.9.9")
    assert e.value.retry_after == 60 and "60 秒" in e.value.reason
    clock.advance(seconds=30)
    with pytest.raises(LoginThrottled) as e:
        await store.accounts.authenticate("op1", PW, "10.9.9.9")
    assert e.value.retry_after == 30
    clock.advance(seconds=31)
    # The lock is over; ten more failures lock it again, for twice as long.
    for i in range(10):
        with pytest.raises(BadCredentials):
            await store.accounts.authenticate("op1", f"wrong-again-{i}", "10.0.1.1")
    with pytest.raises(LoginThrottled) as e:
        await store.accounts.authenticate("op1", PW, "10.0.1.1")
    assert e.value.retry_after == 120
    clock.advance(seconds=121)
    assert (await store.accounts.authenticate("op1", PW, "10.0.1.1")).username == "op1"
    # A success forgets the user's history: ten fresh tries again.
    for i in range(10):
        with pytest.raises(BadCredentials):
            await store.accounts.authenticate("op1", f"w-{i}-xxxxxx", "10.0.2.2")


async def test_one_address_guessing_many_users_is_throttled(store):
    await store.accounts.create_user("real", PW, "ops")
    for i in range(30):
        with pytest.raises(BadCredentials):
            await store.accounts.authenticate(f"user{i}", "Guess-123456", "203.0.113.9")
    with pytest.raises(LoginThrottled):
        await store.accounts.authenticate("real", PW, "203.0.113.9")
    assert (await store.accounts.authenticate("real", PW, "198.51.100.1")).username == "real"


async def test_concurrent_guesses_cannot_pass_the_limit_together(store):
    await store.accounts.create_user("target", PW, "admin")
    results = await asyncio.gather(
        *(store.accounts.authenticate("target", f"guess-{i:06d}", "192.0.2.1") for i in range(25)),
        return_exceptions=True,
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds.count("BadCredentials") == 10, kinds
    assert kinds.count("LoginThrottled") == 15, kinds


async def test_unknown_user_costs_an_argon2_verification(store):
    await store.accounts.create_user("known", PW, "ops")
    svc = AccountService(store, ThrottlePolicy(max_failures=1000, ip_max_failures=1000))

    async def median(name: str) -> float:
        times = []
        for i in range(5):
            t0 = time.perf_counter()
            with pytest.raises(BadCredentials):
                await svc.authenticate(name, f"Wrong-pass-{i}", "127.0.0.1")
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    known, unknown = await median("known"), await median("ghost")
    assert unknown > 0.5 * known, (known, unknown)


async def test_sessions_expire_when_idle_and_absolutely(store, clock):
    u = await store.accounts.create_user("cs01", PW, "cs")
    sid, csrf = await store.accounts.create_session(u, "1.2.3.4", "UA")
    assert await store.accounts.session_user(sid) == (u, csrf)
    clock.advance(hours=11, minutes=59)
    assert await store.accounts.session_user(sid) is not None  # touched: idle clock restarts
    clock.advance(hours=11, minutes=59)
    assert await store.accounts.session_user(sid) is not None
    clock.advance(hours=12)
    assert await store.accounts.session_user(sid) is None  # 12 h idle
    assert await store.accounts.session_user(sid) is None

    sid, _ = await store.accounts.create_session(u, "1.2.3.4", "UA")
    alive = []
    for _ in range(16):  # active every 11 h, yet 7 days (168 h) is the end
        clock.advance(hours=11)
        alive.append(await store.accounts.session_user(sid) is not None)
    assert alive == [True] * 15 + [False]


async def test_sessions_end_on_logout_password_change_and_disable(store):
    u = await store.accounts.create_user("cs02", PW, "cs")
    a, _ = await store.accounts.create_session(u)
    b, _ = await store.accounts.create_session(u)
    c, _ = await store.accounts.create_session(u)
    assert a != b and await store.accounts.end_session(a) is True
    assert (
        await store.accounts.session_user(a) is None
        and await store.accounts.end_session(a) is False
    )
    assert await store.accounts.session_user(b) is not None
    await store.accounts.set_password("cs02", "Another-pass-99")
    assert (
        await store.accounts.session_user(b) is None
        and await store.accounts.session_user(c) is None
    )
    d, _ = await store.accounts.create_session(u)
    await store.accounts.set_disabled("cs02")
    assert await store.accounts.session_user(d) is None
    with pytest.raises(UserNotFound):
        await store.accounts.create_session(u)
    for hostile in (None, 42, "", "short", "x" * 5000, "../../etc/passwd", "a" * 43 + "\x00"):
        assert await store.accounts.session_user(hostile) is None
        assert await store.accounts.end_session(hostile) is False


async def test_a_user_keeps_at_most_twenty_sessions(store, clock):
    u = await store.accounts.create_user("busy", PW, "ops")
    ids = []
    for _ in range(22):
        clock.advance(seconds=1)
        ids.append((await store.accounts.create_session(u))[0])
    alive = [await store.accounts.session_user(s) is not None for s in ids]
    assert alive == [False, False] + [True] * 20


async def test_tokens_are_scoped_revocable_and_die_with_the_user(store):
    admin = await store.accounts.create_user("boss", PW, "admin")
    op = await store.accounts.create_user("farmer", PW, "operator", "shop-7")
    t_ops = await store.accounts.create_token(admin, "ops", "监控脚本")
    t_op = await store.accounts.create_token(op, "operator")
    assert t_ops.startswith("ylt_") and len(t_ops) > 40
    assert await store.accounts.token_user(t_ops) == (admin, "ops")
    user, scope = await store.accounts.token_user(t_op)
    assert (user.username, user.shop_id, scope) == ("farmer", "shop-7", "operator")
    for scope in ("admin", "cs", "ops"):
        with pytest.raises(ScopeNotAllowed):
            await store.accounts.create_token(op, scope)
    for bad in ("root", "", None):
        with pytest.raises(InvalidAccount):
            await store.accounts.create_token(admin, bad)
    with pytest.raises(InvalidAccount):
        await store.accounts.create_token(admin, "ops", "x" * 65)

    listed = await store.accounts.list_tokens("boss")
    assert [(t.scope, t.name, t.prefix) for t in listed] == [("ops", "监控脚本", t_ops[:12])]
    assert await store.accounts.revoke_token(listed[0].id) is True
    assert await store.accounts.token_user(t_ops) is None
    assert await store.accounts.revoke_token(listed[0].id) is False
    assert (
        await store.accounts.revoke_token(t_op) is True
        and await store.accounts.token_user(t_op) is None
    )

    t2 = await store.accounts.create_token(op, "operator")
    await store.accounts.set_disabled("farmer")
    assert await store.accounts.token_user(t2) is None
    for hostile in (None, 1, "", "ylt_", "ylt_" + "a" * 500, t2[:-1], t2 + "A", "Bearer " + t2):
        assert await store.accounts.token_user(hostile) is None


async def test_first_start_creates_one_admin_with_a_printed_password(store):
    password = await store.accounts.ensure_admin()
    assert password and len(password) >= 20
    assert await store.accounts.ensure_admin() is None
    admin = await store.accounts.authenticate("admin", password, "127.0.0.1")
    assert admin.role == "admin" and admin.shop_id is None
    assert [u.username for u in await store.accounts.list_users()] == ["admin"]


async def test_bad_usernames_passwords_roles_and_duplicates_are_refused(store):
    assert (await store.accounts.create_user("张三_01", PW, "cs")).username == "张三_01"
    for name in ("a", "x" * 33, "bad name", "emoji😀", "<script>", "", None, "a/b"):
        with pytest.raises(InvalidAccount):
            await store.accounts.create_user(name, PW, "cs")
    for pw in (
        "short",
        "1234567890",
        "qwertyuiop",
        "aaaaaaaaaaaa",
        "abababababab",
        "5678901234",
        "xx-mallory-xx",
        "p" * 257,
        "tab\there-123",
        None,
    ):
        with pytest.raises(WeakPassword):
            await store.accounts.create_user("mallory", pw, "cs")
    for role in ("root", "", None, "Admin"):
        with pytest.raises(InvalidAccount):
            await store.accounts.create_user("mallory", PW, role)
    with pytest.raises(InvalidAccount):
        await store.accounts.create_user("mallory", PW, "operator", "shop 1; drop")
    with pytest.raises(UserExists):
        await store.accounts.create_user("张三_01", PW, "ops")
    await store.accounts.create_user("Mallory", PW, "ops")
    with pytest.raises(UserExists):
        await store.accounts.create_user("mallory", PW, "ops")
    with pytest.raises(UserNotFound):
        await store.accounts.set_password("nobody", PW)


async def test_migration_matches_the_models_and_downgrades(store, db_url):
    await store.close()

    def look(conn):
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        return set(inspect(conn).get_table_names()), [
            d for d in diffs if any(t in repr(d) for t in MINE)
        ]

    from commerce.db import make_engine

    async def schema():
        engine = make_engine(db_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    tables, diffs = await schema()
    assert set(MINE) <= tables and diffs == []
    await _alembic(db_url, command.downgrade, "0006")
    tables, _ = await schema()
    assert not set(MINE) & tables and "cs_tickets" in tables
    await _alembic(db_url, command.upgrade, "head")
    tables, diffs = await schema()
    assert set(MINE) <= tables and diffs == []


async def test_login_p95_reports_the_argon2_parameters(store):
    r = await login_p95(store, n=5)
    assert r["n"] == 5 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"]
    assert (
        r["argon2"]
        == argon2_parameters()
        == {
            "algorithm": "argon2id",
            "time_cost": 3,
            "memory_cost_kib": 32768,
            "parallelism": 1,
        }
    )


# -- CLI ---------------------------------------------------------------------------------------
def _cli(capsys, monkeypatch, stdin: str, *argv: str) -> tuple[int, str, str]:
    from web.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


async def _with_store(url: str, fn):
    store = await open_store(url, seed_demo=False, secret_key=SECRET, background=False)
    try:
        return await fn(store)
    finally:
        await store.close()


def test_cli_user_commands(db_url, capsys, monkeypatch):
    asyncio.run(_with_store(db_url, lambda s: asyncio.sleep(0)))
    db = ["--db", db_url, "--secret-key", SECRET]
    code, out, _ = _cli(
        capsys,
        monkeypatch,
        PW + "\n",
        "user",
        "add",
        "Farmer",
        "--role",
        "operator",
        "--password-stdin",
        *db,
    )
    assert code == 0 and "已添加账号 farmer（operator，店铺 default）" in out
    code, out, _ = _cli(capsys, monkeypatch, "", "user", "add", "boss", "--role", "admin", *db)
    assert code == 0 and "初始密码（只显示这一次" in out
    boss_pw = out.strip().rsplit("：", 1)[1]
    for stdin, args, expect in (
        (PW, ["add", "farmer", "--role", "cs", "--password-stdin"], "用户已存在"),
        ("short\n", ["add", "cs1", "--role", "cs", "--password-stdin"], "密码至少 10 个字符"),
        (PW, ["add", "bad name", "--role", "cs", "--password-stdin"], "用户名必须是"),
        (PW, ["add", "cs1", "--role", "cs", "--shop", "a b", "--password-stdin"], "店铺 ID"),
        (PW, ["passwd", "ghost", "--password-stdin"], "用户不存在"),
        ("", ["token", "farmer", "--scope", "admin"], "不能创建 admin 权限的令牌"),
        ("", ["token", "farmer", "--scope", "operator", "--name", "x" * 65], "令牌名称"),
        ("", ["disable", "ghost"], "用户不存在"),
    ):
        code, _, err = _cli(capsys, monkeypatch, stdin, "user", *args, *db)
        assert code == 2 and expect in err, (args, err)
    with pytest.raises(SystemExit) as e:
        _cli(capsys, monkeypatch, "", "user", "add", "x1", "--role", "root", *db)
    assert e.value.code == 2

    code, out, _ = _cli(capsys, monkeypatch, "", "user", "token", "boss", "--scope", "ops", *db)
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("ylt_")
    code, out, _ = _cli(
        capsys, monkeypatch, "New-pass-2025\n", "user", "passwd", "farmer", "--password-stdin", *db
    )
    assert code == 0 and "已修改 farmer 的密码" in out
    code, out, _ = _cli(capsys, monkeypatch, "", "user", "disable", "farmer", *db)
    assert code == 0 and "已停用账号 farmer" in out
    code, out, _ = _cli(capsys, monkeypatch, "", "user", "list", *db)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].split()[:4] == ["farmer", "operator", "default", "已停用"]
    assert lines[1].split()[:4] == ["boss", "admin", "-", "正常"]

    async def check(store):
        assert (await store.accounts.authenticate("boss", boss_pw, "::1")).role == "admin"
        assert (await store.accounts.token_user(token))[1] == "ops"
        with pytest.raises(BadCredentials):
            await store.accounts.authenticate("farmer", "New-pass-2025", "::1")
        return [(e.action, e.target) for e in await store.audit.list()]

    assert asyncio.run(_with_store(db_url, check)) == [
        ("user.disable", "user:farmer"),
        ("user.passwd", "user:farmer"),
        ("token.create", "user:boss"),
        ("user.create", "user:boss"),
        ("user.create", "user:farmer"),
    ]


def test_cli_prompts_on_a_terminal_and_refuses_a_missing_database(tmp_path, capsys, monkeypatch):
    db = f"sqlite:///{tmp_path}/shop.db"
    code, _, err = _cli(capsys, monkeypatch, "", "user", "list", "--db", db)
    assert code == 2 and "找不到数据库" in err and not (tmp_path / "shop.db").exists()
    asyncio.run(_with_store(db, lambda s: asyncio.sleep(0)))
    answers = iter(["Tian-tian-2024", "Tian-tian-2025", "Tian-tian-2024", "Tian-tian-2024"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    from web.cli import main

    monkeypatch.setattr("sys.stdin", Tty(""))
    args = ["user", "add", "kefu", "--role", "cs", "--db", db, "--secret-key", SECRET]
    assert main(args) == 2 and "两次输入的密码不一致" in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "已添加账号 kefu（cs）" in out and "Tian-tian" not in out

    async def check(store):
        return (await store.accounts.authenticate("kefu", "Tian-tian-2024", "::1")).role

    assert asyncio.run(_with_store(db, check)) == "cs"
