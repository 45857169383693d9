"""The whole app with the dashboard router and a demo history, served by uvicorn on loopback
in a thread: the dashboard tests' and the analytics benchmarks' server."""

from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn

from commerce.demo import seed_history
from testkit.livesrv import LiveServer, free_port
from web import dashboard_api
from web.app import Settings, create_app


class DashServer:
    """`web.app.create_app` with the dashboard router included in its lifespan (as the lead
    wires it in app.py), served by uvicorn on loopback in a thread."""

    def __init__(
        self,
        db_path: Path,
        history: bool = True,
        demo_room: bool = False,
        history_orders: int | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app = create_app(
            Settings(db_url=f"sqlite+aiosqlite:///{db_path}", demo_room=demo_room)
        )
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a):
            async with inner(a) as state:
                router = None
                if getattr(a.state, "analytics", None) is None:  # app.py did not build it
                    router = dashboard_api.build_router(a.state.store, a.state.engine)
                    a.include_router(router)
                if history and history_orders:
                    await seed_history(
                        a.state.store, days=365, customers=20_000, orders=history_orders
                    )
                elif history:
                    await seed_history(a.state.store)
                if history and router is None:  # the app's own dashboard started before it
                    await a.state.analytics.forget()
                try:
                    yield state
                finally:
                    if router is not None:
                        await router.close()

        app.router.lifespan_context = lifespan
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._users, self._tokens = {}, {}

    def __enter__(self) -> DashServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start within 30 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    # staff accounts, exactly as LiveServer makes them (on the server's own loop)
    _users: dict
    _tokens: dict
    store = LiveServer.store
    call = LiveServer.call
    user = LiveServer.user
    headers = LiveServer.headers
