"""Files only the server's own user may read: the database, its backups, the secret key and
the first admin password. Each is created 0600 (never readable for a moment first), and a
file found wider is narrowed, since all of them hold what the shop's walls rest on."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Make `path` (and parents) if missing; a new directory is the owner's alone."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing; narrow it to 0600 if it is wider."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE))
    narrow(path)


def fresh_private_file(path: Path) -> None:
    """Replace whatever is at `path` with a new empty 0600 file (a stale partial copy from
    an earlier run is never written into)."""
    private_dir(path.parent)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE))


def narrow(path: Path) -> None:
    """Take group and other permissions off an existing file (a missing one is fine)."""
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, MODE)


def private_sqlite(path: Path) -> None:
    """A SQLite database file and the journals next to it (SQLite gives a new WAL or journal
    the database file's own mode, so a 0600 database keeps them 0600)."""
    private_file(path)
    for suffix in SQLITE_SIDECARS:
        narrow(path.with_name(path.name + suffix))


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a 0600 file, replacing what was there."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), MODE)
        f.write(data)
