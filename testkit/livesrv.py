"""A real uvicorn server running the whole app in a background thread, for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from web.app import Settings, create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`yunlian serve` in-process: same app, same HTTP, its own event loop thread."""

    def __init__(
        self, db_path: Path, stamp: bool = True, demo_room: bool = True, **settings
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(
            Settings(
                db_url=f"sqlite+aiosqlite:///{db_path}",
                demo_room=demo_room,
                stamp=stamp,
                **settings,
            )
        )
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **self.app.state.settings.server_options(),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._users: dict[str, str] = {}
        self._tokens: dict[tuple, str] = {}

    def __enter__(self) -> LiveServer:
        self.thread.start()
        # room workers are processes that import the whole engine: slower on a busy machine
        wait = 90 if self.app.state.settings.workers else 30
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start within {wait} s")

    @property
    def engine(self):
        return self.app.state.engine

    @property
    def store(self):
        return self.app.state.store

    def call(self, coro, timeout: float = 30):
        """Run a coroutine on the server's own event loop (its store lives there)."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.app.state.loop).result(timeout)

    def user(self, role: str = "admin", shop_id: str | None = None, name: str | None = None):
        """A staff user of `role` with a known password; returns (username, password)."""
        name = name or f"{role}-{shop_id or 'main'}"
        password = "测试密码-" + role[::-1] + "-0123456789"
        if name not in self._users:
            self.call(self.store.accounts.create_user(name, password, role, shop_id))
            self._users[name] = password
        return name, password

    def headers(self, role: str = "admin", shop_id: str | None = None) -> dict[str, str]:
        """`Authorization` for an API token of a staff user of `role`."""
        key = (role, shop_id)
        if key not in self._tokens:
            name, _ = self.user(role, shop_id)
            user = self.call(self.store.accounts.get_user(name))
            self._tokens[key] = self.call(self.store.accounts.create_token(user, role, "tests"))
        return {"Authorization": f"Bearer {self._tokens[key]}"}

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
