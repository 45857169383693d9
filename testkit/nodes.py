"""Helpers for the multi-node tests: a real redis-server on loopback, a PostgreSQL restart,
and `yunlian serve` node processes. Every wait is bounded."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "nodes-test-secret-key-0123456789"
NODE_SECRET = "test-node-secret-0123456789"


def admin_token(db_url: str) -> str:
    """An admin account in the cluster's shop and a bearer token for it (the nodes' tests
    call the HTTP API as ops staff)."""
    from commerce import open_store

    async def make() -> str:
        store = await open_store(db_url, secret_key=SECRET_KEY, background=False)
        try:
            user = await store.accounts.create_user("ops", "测试密码-集群-0123456789", "admin")
            return await store.accounts.create_token(user, "admin", "tests")
        finally:
            await store.close()

    return asyncio.run(make())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, every: float = 0.2):
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # the thing polled may be restarting
            last = exc
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")


class RedisServer:
    """redis-server on 127.0.0.1 (no persistence), restartable on the same port."""

    def __init__(self) -> None:
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="yunlian-redis-")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._ping, 20, "redis-server up", every=0.05)

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def restart_postgres(admin_url: str, down_for: float = 1.0) -> None:
    """Stop the test cluster (immediate: connections die as in a crash), wait, start it."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(admin_url)

    async def _datadir() -> str:
        conn = await asyncpg.connect(user=u.username, host=u.host, port=u.port, database="postgres")
        try:
            return await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()

    data = asyncio.run(_datadir())
    from testkit.pg import _runner, find_bindir

    prefix, _ = _runner()
    ctl = prefix + [f"{find_bindir()}/pg_ctl", "-D", data]
    subprocess.run(ctl + ["-m", "immediate", "-w", "stop"], check=True, timeout=60)
    time.sleep(down_for)
    # postmaster.opts keeps the options it was started with: start it the same way
    opts = Path(data, "postmaster.opts").read_text().split(maxsplit=1)[1]
    log = os.path.join(os.path.dirname(data), "server.log")
    subprocess.run(
        ctl + ["-l", log, "-o", _pg_options(opts), "-w", "-t", "60", "start"],
        check=True,
        timeout=90,
        capture_output=True,
    )


def _pg_options(opts: str) -> str:
    """postmaster.opts is `bin "-D" "data" "-p" "5432" …`: keep all but -D."""
    import shlex

    parts = shlex.split(opts)
    out, skip = [], False
    for p in parts:
        if skip:
            skip = False
            continue
        if p == "-D":
            skip = True
            continue
        out.append(p)
    return " ".join(shlex.quote(p) for p in out)


class Node:
    """`yunlian serve` as its own process (kill -9 able), logging to a file."""

    def __init__(self, db_url: str, redis_url: str, node_id: str, tmp: Path, **env) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.node_id = node_id
        self.log_path = tmp / f"node-{node_id}.log"
        self.cwd = tmp
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "YUNLIAN_NODE_SECRET": NODE_SECRET,
            "YUNLIAN_LEASE_TTL": "4",
            "YUNLIAN_SECRET_KEY": SECRET_KEY,
            **env,
        }
        self.args = [
            sys.executable,
            "-m",
            "web.cli",
            "serve",
            "--port",
            str(self.port),
            "--db",
            db_url,
            "--no-demo",
            "--workers",
            "0",
            "--redis",
            redis_url,
            "--node-id",
            node_id,
        ]
        self.proc: subprocess.Popen | None = None

    def start(self, wait: float = 90) -> Node:
        self.spawn()
        return self.wait_up(wait)

    def spawn(self) -> Node:
        """Start the process and return at once (see wait_up)."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    def wait_up(self, wait: float = 90) -> Node:
        wait_for(self._healthy, wait, f"node {self.node_id} up")
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"node {self.node_id} exited: {self.log_tail()}")
        return httpx.get(self.url + "/healthz", timeout=2).status_code == 200

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()
        if getattr(self, "_log", None):
            self._log.close()
