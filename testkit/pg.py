"""A private, throwaway PostgreSQL cluster for tests and benchmarks.

`postgres_server()` yields an admin URL (asyncpg driver); `create_database(admin_url)` makes
a fresh empty database on it. If YUNLIAN_TEST_PG_URL is set, that server is used instead.
Missing PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

ENV_URL = "YUNLIAN_TEST_PG_URL"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries are missing or the cluster did not start."""


def find_bindir() -> str:
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], check=False, capture_output=True, text=True)
        bindir = out.stdout.strip()
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return os.path.dirname(found[-1])
    if shutil.which("initdb"):
        return os.path.dirname(shutil.which("initdb"))
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql, "
        f"or set {ENV_URL} to a server URL"
    )


def _version_key(path: str) -> int:
    try:
        return int(path.split("/")[4])
    except (IndexError, ValueError):
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner() -> tuple[list[str], str | None]:
    """initdb refuses root: as root, run the server binaries as the postgres user."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root but there is no `postgres` user") from None
    return ["runuser", "-u", "postgres", "--"], "postgres"


def _run(cmd: list[str], what: str) -> None:
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({res.returncode}): {res.stderr.strip()[-800:]}")


@contextmanager
def postgres_server(unix_socket: bool = False, durable: bool = False) -> Iterator[str]:
    """Yield `postgresql+asyncpg://...` of a server that lives for the `with` block.

    With unix_socket=True the URL connects over the cluster's Unix socket instead of TCP.
    Tests trade durability for speed (fsync off); durable=True keeps PostgreSQL's defaults,
    every commit flushed to disk, as a shop would run it: benchmarks use that.
    """
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    bindir = find_bindir()
    prefix, user = _runner()
    root = tempfile.mkdtemp(prefix="yunlian-pg-")
    data, sock, log = (os.path.join(root, n) for n in ("data", "sock", "server.log"))
    os.makedirs(sock)
    if user:
        pw = pwd.getpwnam(user)
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    try:
        _run(
            prefix
            + [
                f"{bindir}/initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb",
        )
        opts = (
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c shared_buffers=128MB"
        )
        if not durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _run(
            prefix
            + [f"{bindir}/pg_ctl", "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start"],
            "pg_ctl start",
        )
        if unix_socket:
            yield f"postgresql+asyncpg://postgres@/postgres?host={sock}&port={port}"
        else:
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(
                prefix + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def create_database(admin_url: str, name: str | None = None) -> str:
    """Create an empty database on the server and return its URL."""
    import asyncio

    import asyncpg

    name = name or "yl_" + uuid.uuid4().hex[:12]
    from sqlalchemy.engine import make_url

    u = make_url(admin_url)
    dsn = {
        "user": u.username,
        "database": u.database,
        "host": u.host or u.query.get("host"),
        "port": u.port or int(u.query.get("port", 5432)),
    }

    async def _create() -> None:
        for attempt in range(50):
            try:
                conn = await asyncpg.connect(**dsn)
                break
            except (OSError, asyncpg.CannotConnectNowError):
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(_create())
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)
