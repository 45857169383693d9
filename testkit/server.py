"""The whole app served by uvicorn on a loopback port in a background thread (benchmarks)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from testkit.webhook import free_port
from web.app import Settings, create_app


class AppServer:
    def __init__(self, db_path: Path, **settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings.setdefault("demo_room", False)
        self.app = create_app(Settings(db_url=f"sqlite+aiosqlite:///{db_path}", **settings))
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
        self._token: str | None = None

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start within 60 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(20)

    def call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.app.state.loop).result(timeout)

    def headers(self, role: str = "ops") -> dict[str, str]:
        if self._token is None:
            store = self.app.state.store
            self.call(store.accounts.create_user("bench-ops", "基准测试密码-0123456789", role))
            user = self.call(store.accounts.get_user("bench-ops"))
            self._token = self.call(store.accounts.create_token(user, role, "bench"))
        return {"Authorization": f"Bearer {self._token}"}
