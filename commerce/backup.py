"""一键备份与恢复: SQLite through its online backup API, PostgreSQL through pg_dump -Fc.

A backup is one file, `yunlian-YYYYmmdd-HHMMSS-ffffff.sqlite3` or `.pgdump` (UTC), mode
0600, written under a temporary name and renamed when complete, so a crash never leaves a
half file that looks whole. It ends with a seal, an HMAC of the whole file under the
server's key (`commerce.backup_seal`), which `yunlian restore` checks before anything else
(`commerce.restore`). Here: checking a file's dump (kind, integrity, schema revision),
loading it, and verifying the result: migrations at head, the trace log's hashes and
signatures, and the order and product counts. The secret key (var/yunlian.key or
YUNLIAN_SECRET_KEY) is NOT in the backup: keep it safe separately, without it the trace log
and buyer data cannot be verified or read, and backups cannot be checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from commerce import backup_seal
from commerce.crypto import backup_key, load_secret
from commerce.db import alembic_config, normalise_url
from commerce.errors import BackupError, BadBackupFile
from commerce.private_files import fresh_private_file, private_dir

if TYPE_CHECKING:
    from commerce.store import Store

log = logging.getLogger(__name__)
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
NAME = re.compile(r"yunlian-\d{8}-\d{6}-\d{6}\.(sqlite3|pgdump)")
TOOL_TIMEOUT = 3600.0


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A finished backup file."""

    path: Path
    kind: str  # "sqlite" | "postgresql"
    bytes: int
    seconds: float


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup file holds, checked without loading it."""

    path: Path
    kind: str
    revision: str


@dataclass(slots=True)
class RestoreReport:
    """The state of a database after a restore."""

    revision: str
    head: str
    trace_ok: bool
    trace_events: int
    trace_problems: list[str] = field(default_factory=list)
    orders: int = 0
    products: int = 0
    users: int = 0

    @property
    def ok(self) -> bool:
        return self.revision == self.head and self.trace_ok


def db_kind(url: str) -> str:
    backend = make_url(normalise_url(url)).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持的数据库类型：{backend}")
    return backend


def sqlite_path(url: str) -> Path:
    db = make_url(normalise_url(url)).database
    if not db or db == ":memory:":
        raise BackupError("内存数据库无法备份或恢复")
    return Path(db)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def backup_name(kind: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    ext = "sqlite3" if kind == "sqlite" else "pgdump"
    return f"yunlian-{now:%Y%m%d-%H%M%S-%f}.{ext}"


# -- tools -------------------------------------------------------------------------------------
def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: the newest /usr/lib/postgresql/*/bin, else PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise BackupError(
        f"找不到 {name}：请安装 PostgreSQL 客户端（apt-get install postgresql-client）"
    )


def _version(path: str) -> int:
    try:
        return int(path.split("/")[4])
    except (IndexError, ValueError):
        return 0


def _pg_env(url: str) -> dict[str, str]:
    """libpq environment for a SQLAlchemy URL (the password never appears in argv)."""
    u = make_url(normalise_url(url))
    env = dict(os.environ)
    host = u.host or u.query.get("host")
    port = u.port or u.query.get("port")
    for key, value in (
        ("PGHOST", host),
        ("PGPORT", port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value:
            env[key] = str(value if not isinstance(value, tuple) else value[0])
    return env


async def _tool(args: list[str], env: dict[str, str] | None = None) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TOOL_TIMEOUT)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        msg = err.decode(errors="replace").strip()[-600:]
        raise BackupError(f"{Path(args[0]).name} 失败（退出码 {proc.returncode}）：{msg}")
    return out


# -- backup ------------------------------------------------------------------------------------
async def backup(
    url: str, out_dir: str | Path, *, now: datetime | None = None, key: bytes | None = None
) -> BackupResult:
    """Write one timestamped, sealed backup of the database at `url` into `out_dir`. `key`
    seals it (`Keys.backup`); by default the server's own key is loaded."""
    kind = db_kind(url)
    key = key or backup_key(load_secret())
    if kind == "sqlite" and not await asyncio.to_thread(sqlite_path(url).is_file):
        raise BackupError(f"找不到数据库 {sqlite_path(url)}")
    out = Path(out_dir)
    await asyncio.to_thread(_make_dir, out)
    dest = out / backup_name(kind, now)
    partial = dest.with_name(dest.name + ".partial")
    t0 = time.perf_counter()
    try:
        try:
            await asyncio.to_thread(fresh_private_file, partial)  # 0600 before a byte is written
        except OSError as e:
            raise BackupError(f"无法写入备份 {partial}：{e.strerror}") from None
        if kind == "sqlite":
            await asyncio.to_thread(_sqlite_copy, sqlite_path(url), partial)
        else:
            args = [pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", "-f", str(partial)]
            await _tool(args, _pg_env(url))
            await _tool([pg_tool("pg_restore"), "-l", str(partial)])  # readable as a whole
        await asyncio.to_thread(backup_seal.seal, partial, key)
        os.chmod(partial, 0o600)  # whatever the dump tool did to the mode
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return BackupResult(dest, kind, dest.stat().st_size, round(time.perf_counter() - t0, 3))


def _make_dir(out: Path) -> None:
    try:
        private_dir(out)
    except OSError as e:
        raise BackupError(f"无法创建备份目录 {out}：{e.strerror}") from None


def _sqlite_copy(src: Path, dest: Path) -> None:
    """Online backup: one step, one read transaction; WAL writers are not blocked."""
    if not src.is_file():
        raise BackupError(f"找不到数据库 {src}")
    with contextlib.closing(sqlite3.connect(src, timeout=30)) as s:
        with contextlib.closing(sqlite3.connect(dest)) as d:
            s.backup(d)
            d.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            (ok,) = d.execute("PRAGMA quick_check").fetchone()
    if ok != "ok":
        raise BackupError(f"备份校验失败：{ok}")


# -- inspect -----------------------------------------------------------------------------------
async def inspect_backup(path: str | Path) -> BackupInfo:
    """Kind and schema revision of a backup file (sealed or not; the seal is not checked
    here); BadBackupFile for anything else."""
    p = Path(path)
    async with payload(p) as raw:
        info = await inspect_dump(raw)
    return BackupInfo(p, info.kind, info.revision)


@contextlib.asynccontextmanager
async def payload(p: Path):
    """The dump inside a backup file (a private copy without the seal when sealed)."""
    if not await asyncio.to_thread(p.is_file):
        raise BadBackupFile(f"找不到备份文件：{p}")
    cm = backup_seal.payload_file(p)
    try:
        raw = await asyncio.to_thread(cm.__enter__)
    except OSError as e:
        raise BadBackupFile(f"无法读取备份文件 {p}：{e.strerror}") from None
    try:
        yield raw
    except BadBackupFile as e:  # name the user's file, not the private copy
        raise BadBackupFile(e.reason.replace(str(raw), str(p))) from None
    finally:
        await asyncio.to_thread(cm.__exit__, None, None, None)


async def inspect_dump(p: Path) -> BackupInfo:
    """Kind and schema revision of a bare dump (no seal)."""
    head = await asyncio.to_thread(_read_head, p)
    if not head:
        raise BadBackupFile(f"备份文件是空的：{p}")
    if head == SQLITE_MAGIC:
        kind, revision = "sqlite", await asyncio.to_thread(_sqlite_revision, p)
    elif head.startswith(PGDUMP_MAGIC):
        kind, revision = "postgresql", await _pgdump_revision(p)
    else:
        raise BadBackupFile(
            f"不是云链销通的备份文件：{p}（既不是 SQLite 数据库，也不是 pg_dump -Fc 文件）"
        )
    if revision not in known_revisions():
        raise BadBackupFile(
            f"备份的数据库版本 {revision[:32]!r} 不是本程序已知的版本（备份来自更新的版本？）"
        )
    return BackupInfo(p, kind, revision)


def _read_head(p: Path) -> bytes:
    if not p.is_file():
        raise BadBackupFile(f"找不到备份文件：{p}")
    try:
        with p.open("rb") as f:
            return f.read(16)
    except OSError as e:
        raise BadBackupFile(f"无法读取备份文件 {p}：{e.strerror}") from None


def _sqlite_revision(p: Path) -> str:
    try:
        with contextlib.closing(sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True)) as c:
            (ok,) = c.execute("PRAGMA quick_check").fetchone()
            if ok != "ok":
                raise BadBackupFile(f"备份文件已损坏：{p}（{str(ok)[:200]}）")
            row = c.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as e:
        raise BadBackupFile(f"不是云链销通的数据库备份：{p}（{e}）") from None
    except sqlite3.DatabaseError as e:
        raise BadBackupFile(f"备份文件已损坏：{p}（{e}）") from None
    if row is None:
        raise BadBackupFile(f"备份里没有数据库版本记录：{p}")
    return str(row[0])


async def _pgdump_revision(p: Path) -> str:
    try:
        await _tool([pg_tool("pg_restore"), "-f", os.devnull, str(p)])  # reads every entry
        out = await _tool(
            [pg_tool("pg_restore"), "--data-only", "--table=alembic_version", "-f", "-", str(p)]
        )
    except BackupError as e:
        raise BadBackupFile(f"备份文件已损坏或不完整：{p}（{e.reason[-300:]}）") from None
    lines = out.decode(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and i + 1 < len(lines):
            value = lines[i + 1].strip()
            if value and value != "\\.":
                return value
    raise BadBackupFile(f"不是云链销通的数据库备份（没有 alembic_version）：{p}")


# -- restore -----------------------------------------------------------------------------------
async def restore(path: str | Path, url: str) -> BackupInfo:
    """Load a backup into the database at `url`, replacing what it holds. Checks neither the
    seal nor that no server holds the database: `commerce.restore.restore_checked` does."""
    p = Path(path)
    async with payload(p) as raw:
        info = await load_dump(raw, url)
    return BackupInfo(p, info.kind, info.revision)


async def load_dump(raw: Path, url: str) -> BackupInfo:
    """Load a bare dump into the database at `url`."""
    info = await inspect_dump(raw)
    kind = db_kind(url)
    if info.kind != kind:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise BadBackupFile(f"这是 {names[info.kind]} 备份，不能恢复到 {names[kind]} 数据库")
    if kind == "sqlite":
        await asyncio.to_thread(_sqlite_load, info.path, sqlite_path(url))
    else:
        args = [
            pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "-d",
            _pg_env(url)["PGDATABASE"],
            str(info.path),
        ]
        await _tool(args, _pg_env(url))
    return info


def _sqlite_load(src: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(src.resolve().as_uri() + "?mode=ro", uri=True)) as s:
        with contextlib.closing(sqlite3.connect(target, timeout=30)) as d:
            s.backup(d)


async def verify_restored(url: str, secret_key: str | None = None) -> RestoreReport:
    """Open the restored shop (migrating it to head), verify the trace log, count things."""
    from commerce.models import Order, Product, User
    from commerce.store import open_store

    store = await open_store(url, seed_demo=False, secret_key=secret_key, background=False)
    try:
        trace = await store.trace.verify()
        async with store.db.read() as s:
            revision = await s.scalar(text("SELECT version_num FROM alembic_version"))
            counts = [
                await s.scalar(select(func.count()).select_from(m)) for m in (Order, Product, User)
            ]
    finally:
        await store.close()
    return RestoreReport(
        revision=str(revision),
        head=head_revision(),
        trace_ok=trace.ok,
        trace_events=trace.events,
        trace_problems=list(trace.problems),
        orders=counts[0],
        products=counts[1],
        users=counts[2],
    )


# -- scheduled backups -------------------------------------------------------------------------
@dataclass(slots=True)
class SchedulerStatus:
    """Counters the ops page can show."""

    runs: int = 0
    failures: int = 0
    last_path: Path | None = None
    last_ok_at: datetime | None = None
    last_error: str | None = None


class BackupScheduler:
    """Back up `store`'s database every `every_seconds` into `directory`, keeping the newest
    `keep` backup files (only files named like backups are ever deleted)."""

    def __init__(
        self, store: Store, directory: str | Path, every_seconds: float, keep: int
    ) -> None:
        if not every_seconds > 0:
            raise ValueError("every_seconds must be positive")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError("keep must be an integer ≥ 1")
        self.store = store
        self.directory = Path(directory)
        self.every = float(every_seconds)
        self.keep = keep
        self.status = SchedulerStatus()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> BackupResult:
        self.status.runs += 1
        try:
            result = await backup(self.store.url, self.directory, key=self.store.keys.backup)
        except Exception as e:
            self.status.failures += 1
            self.status.last_error = getattr(e, "reason", None) or f"{type(e).__name__}: {e}"
            raise
        self.status.last_path = result.path
        self.status.last_ok_at = datetime.now(UTC)
        self.status.last_error = None
        self.prune()
        return result

    def prune(self) -> list[Path]:
        """Delete the oldest backups beyond `keep`; returns the deleted paths."""
        files = sorted(p for p in self.directory.iterdir() if NAME.fullmatch(p.name))
        gone = files[: max(0, len(files) - self.keep)]
        for p in gone:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        return gone

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled backup failed")
