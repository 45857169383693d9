"""The seal on a backup file: an HMAC-SHA256 of the whole file under the server's key.

A backup is the database dump followed by a 56-byte trailer: `YLBKSIG1`, the key id (16 hex
digits naming the key, so "another server's key" reads differently from "edited"), and the
MAC of everything before it. An edit anywhere (a cs user made admin, an order total set to
1 fen) or a cut changes the MAC, so `restore` refuses the file before loading a byte of it.
SQLite and pg_restore never see the trailer: restore copies the dump out first.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"YLBKSIG1"
KEY_ID_LEN = 16
MAC_LEN = 32
TRAILER_LEN = len(MAGIC) + KEY_ID_LEN + MAC_LEN
CHUNK = 1 << 20

# Seal states
SEALED = "sealed"  # signed with this server's key and unchanged
UNSIGNED = "unsigned"  # no trailer: an old backup, a foreign file, or a cut one
OTHER_KEY = "other_key"  # signed, but with another key
TAMPERED = "tampered"  # signed with this key id, and the MAC does not match
NO_KEY = "no_key"  # signed, but this machine has no key to check it with


@dataclass(frozen=True, slots=True)
class SealCheck:
    """What the trailer of a backup file says; `payload` is the dump's length in bytes."""

    state: str
    payload: int


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"yunlian-backup-key-id" + key).hexdigest()[:KEY_ID_LEN].encode()


def _mac(path: Path, length: int, key: bytes, tail: bytes) -> bytes:
    """HMAC of the first `length` bytes of `path`, then `tail`."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    left = length
    with path.open("rb") as f:
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                break
            mac.update(chunk)
            left -= len(chunk)
    mac.update(tail)
    return mac.digest()


def seal(path: Path, key: bytes) -> None:
    """Append the trailer to a finished dump (still under its temporary name)."""
    size = path.stat().st_size
    head = MAGIC + key_id(key)
    mac = _mac(path, size, key, head)
    with path.open("ab") as f:
        f.write(head + mac)
        f.flush()
        os.fsync(f.fileno())


def check(path: Path, key: bytes | None) -> SealCheck:
    """Read the trailer and recompute the MAC over the rest of the file."""
    with path.open("rb") as f:
        return _read(f, key, None)


def unseal(src: Path, dest: Path, key: bytes | None) -> SealCheck:
    """Check `src`'s seal and copy its dump (without the trailer) to `dest`, mode 0600, in
    one pass over one open file: what was checked is exactly what was copied."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as f:
        return _read(f, key, out)


def _read(f: BinaryIO, key: bytes | None, out: BinaryIO | None) -> SealCheck:
    size = os.fstat(f.fileno()).st_size
    tail = b""
    if size >= TRAILER_LEN:
        f.seek(size - TRAILER_LEN)
        tail = f.read(TRAILER_LEN)
    payload, their_id, state = size, b"", UNSIGNED
    if tail.startswith(MAGIC):
        payload, their_id = size - TRAILER_LEN, tail[len(MAGIC) : -MAC_LEN]
        if key is None:
            state = NO_KEY
        elif not hmac.compare_digest(their_id, key_id(key)):
            state = OTHER_KEY
        else:
            state = ""  # decided by the MAC below
    compare = state == ""
    if out is None and not compare:
        return SealCheck(state, payload)
    mac = hmac.new(key or b"", digestmod=hashlib.sha256)
    f.seek(0)
    left = payload
    while left > 0:
        chunk = f.read(min(CHUNK, left))
        if not chunk:
            raise OSError("the backup file shrank while it was read")
        if compare:
            mac.update(chunk)
        if out is not None:
            out.write(chunk)
        left -= len(chunk)
    if not compare:
        return SealCheck(state, payload)
    mac.update(MAGIC + their_id)
    ok = hmac.compare_digest(mac.digest(), tail[-MAC_LEN:])
    return SealCheck(SEALED if ok else TAMPERED, payload)


def is_sealed(path: Path) -> bool:
    """A trailer is present (checked or not)."""
    return check(path, None).state != UNSIGNED


@contextlib.contextmanager
def payload_file(path: Path) -> Iterator[Path]:
    """The dump inside a backup file: the file itself when unsealed, else a private copy
    without the trailer (removed afterwards). Checks nothing."""
    if check(path, None).state == UNSIGNED:
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix="yunlian-restore-"))  # 0700
    try:
        dest = tmp / path.name
        unseal(path, dest, None)
        yield dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
