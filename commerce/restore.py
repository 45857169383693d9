"""`yunlian restore`, in the only safe order.

1. The seal first: the file must carry an HMAC of itself under this server's key. Anything
   else (no seal, another key, an edit) is refused before a byte of it is parsed, unless the
   operator says `--force-unsigned` for a foreign file. The dump is checked and copied out
   in one pass over one open file, so what was checked is what gets loaded.
2. No server may hold the database (`commerce.db_lock`): a restore under a live shop would
   mix old and new data.
3. The live database is copied aside (0600) before it is replaced.
4. After loading, the result is verified (migrations, trace log under this key, counts); if
   that fails, the copy aside is put back.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from commerce import backup_seal
from commerce.backup import (
    PGDUMP_MAGIC,
    SQLITE_MAGIC,
    BackupInfo,
    RestoreReport,
    _pg_env,
    _read_head,
    _sqlite_copy,
    _tool,
    db_kind,
    inspect_dump,
    load_dump,
    pg_tool,
    sqlite_path,
    verify_restored,
)
from commerce.crypto import backup_key
from commerce.db_lock import hold
from commerce.errors import BackupError, BackupRefused, BadBackupFile
from commerce.private_files import fresh_private_file

FORCE_HINT = "确认文件来源可信时，可加 --force-unsigned 强制恢复（不校验文件是否被改动）"
REFUSALS = {
    backup_seal.UNSIGNED: "备份文件没有签名：它不是本服务器做的备份，或者被截断、改动过。已拒绝恢复。"
    + FORCE_HINT,
    backup_seal.TAMPERED: "备份文件签名不符：文件在备份之后被改动过。已拒绝恢复",
    backup_seal.OTHER_KEY: "备份文件是用另一个密钥签名的（另一台服务器的备份，或密钥不对）。"
    "已拒绝恢复。请用 --secret-key 指定做备份时的密钥；" + FORCE_HINT,
    backup_seal.NO_KEY: "找不到本服务器的密钥（var/yunlian.key 或 YUNLIAN_SECRET_KEY），"
    "无法校验备份的签名。已拒绝恢复。请用 --secret-key 指定",
}
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
ASIDE_DIR = Path("./var/pre-restore")  # PostgreSQL's copy aside; SQLite's sits by its file


@dataclass(frozen=True, slots=True)
class CheckedBackup:
    """A backup whose seal was checked; `dump` is its private copy without the seal."""

    path: Path
    seal: str  # a backup_seal state; anything but SEALED only with force_unsigned
    dump: Path
    info: BackupInfo


@dataclass(slots=True)
class RestoreOutcome:
    """What a restore did: the report of the loaded data, where the replaced database was
    copied, and whether that copy had to be put back."""

    report: RestoreReport | None
    aside: Path | None
    rolled_back: bool = False
    problem: str | None = None


@contextlib.asynccontextmanager
async def checked_backup(
    path: str | Path, secret: bytes | None, *, force_unsigned: bool = False
) -> AsyncIterator[CheckedBackup]:
    """The backup at `path`, its seal checked under `secret` and its dump copied out.
    Raises BadBackupFile (not a backup) or BackupRefused (seal not proven)."""
    p = Path(path)
    head = await asyncio.to_thread(_read_head, p)  # missing, unreadable
    if not head:
        raise BadBackupFile(f"备份文件是空的：{p}")
    if not head.startswith((SQLITE_MAGIC, PGDUMP_MAGIC)) and not await asyncio.to_thread(
        backup_seal.is_sealed, p
    ):
        raise BadBackupFile(
            f"不是云链销通的备份文件：{p}（既不是 SQLite 数据库，也不是 pg_dump -Fc 文件）"
        )
    tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="yunlian-restore-"))  # 0700
    try:
        dump = tmp / p.name
        key = backup_key(secret) if secret else None
        try:
            seal = await asyncio.to_thread(backup_seal.unseal, p, dump, key)
        except OSError as e:
            raise BadBackupFile(f"无法读取备份文件 {p}：{e.strerror or e}") from None
        if seal.state != backup_seal.SEALED and not force_unsigned:
            raise BackupRefused(REFUSALS[seal.state])
        try:
            info = await inspect_dump(dump)
        except BadBackupFile as e:
            raise BadBackupFile(e.reason.replace(str(dump), str(p))) from None
        yield CheckedBackup(p, seal.state, dump, BackupInfo(p, info.kind, info.revision))
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, True)


async def restore_checked(backup: CheckedBackup, url: str, secret: bytes) -> RestoreOutcome:
    """Replace the database at `url` with a checked backup; see the module docstring."""
    kind = db_kind(url)
    if backup.info.kind != kind:
        raise BadBackupFile(f"这是 {NAMES[backup.info.kind]} 备份，不能恢复到 {NAMES[kind]} 数据库")
    held = await hold(url, exclusive=True)
    try:
        aside = await set_aside(url, kind)
        problem = None
        report = None
        try:
            await load_dump(backup.dump, url)
            report = await verify_restored(url, secret.decode())
            if not report.ok:
                problem = _describe(report)
        except Exception as e:  # noqa: BLE001 - any failure here means: put it back
            problem = getattr(e, "reason", None) or f"{type(e).__name__}: {e}"
        if problem is None:
            return RestoreOutcome(report, aside)
        await put_back(aside, url, kind)
        return RestoreOutcome(report, aside, rolled_back=True, problem=problem)
    finally:
        await held.release()


def _describe(report: RestoreReport) -> str:
    if report.revision != report.head:
        return f"数据库版本 {report.revision} 不是最新（{report.head}）"
    first = "；".join(report.trace_problems[:3])
    return f"溯源日志校验失败（{len(report.trace_problems)} 处问题）：{first}"


async def set_aside(url: str, kind: str) -> Path | None:
    """Copy the live database aside before it is replaced; None when there is none yet."""
    stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S-%f}"
    if kind == "sqlite":
        db = sqlite_path(url)
        if not await asyncio.to_thread(db.is_file):
            return None
        dest = db.with_name(f"{db.name}.before-restore-{stamp}")
        await asyncio.to_thread(fresh_private_file, dest)
        await asyncio.to_thread(_sqlite_copy, db, dest)
        return dest
    await asyncio.to_thread(ASIDE_DIR.mkdir, 0o700, True, True)
    dest = ASIDE_DIR / f"before-restore-{stamp}.pgdump"
    await asyncio.to_thread(fresh_private_file, dest)
    args = [pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", "-f", str(dest)]
    await _tool(args, _pg_env(url))
    return dest


async def put_back(aside: Path | None, url: str, kind: str) -> None:
    """Bring back the database a failed restore replaced (or remove what it created)."""
    if aside is None:  # there was no database before: leave none
        if kind == "sqlite":
            db = sqlite_path(url)
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    db.with_name(db.name + suffix).unlink()
        return
    try:
        await load_dump(aside, url)
    except BackupError as e:
        raise BackupError(f"放回原数据库失败：{e.reason}；原数据库的副本在 {aside}") from None
