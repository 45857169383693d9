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
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start within 30 s")

    @property
    def engine(self):
        return self.app.state.engine

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
