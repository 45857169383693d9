"""What safety costs: orders/s through the permission layer vs the bare shop router, and
login latency with the argon2 parameters in use.

The order path is served twice from the same SQLite shop, in the same run: once by the
shop router alone, once with the app-wide permission dependency and the body-limit/audit
middleware in front of it, exactly as `yunlian serve` does. Buyers place orders as
anonymous viewers do. Runs alternate (bare, guarded, bare, guarded) so drift in this noisy
2-core machine's load lands on both sides.

`python -m benchmarks.bench_security` prints the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_commerce import SECRET, _load, _prepare, _throughput, shop_server

SECONDS = 6
CONCURRENCY = 50
TARGET_RATIO = 0.9


def make_app(guarded: bool):
    """The shop router alone, or behind the permission dependency and the Guard middleware."""
    from contextlib import asynccontextmanager
    from types import SimpleNamespace

    from fastapi import Depends, FastAPI

    from commerce import open_store
    from web.middleware import Guard
    from web.security import authorize
    from web.settings import Settings
    from web.shop_api import build_router

    @asynccontextmanager
    async def lifespan(app):
        store = await open_store(os.environ["YUNLIAN_BENCH_DB"], secret_key=SECRET, seed_demo=False)
        app.state.store = store
        app.state.settings = Settings(demo_room=False)
        app.state.engine = SimpleNamespace(room_shop=lambda room_id: None)
        app.include_router(build_router(store))
        yield
        await store.close()

    if not guarded:
        return FastAPI(lifespan=lifespan)
    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authorize)])

    async def audit(scope, status, body):  # the real app writes staff changes only
        return None

    app.add_middleware(Guard, limit=1024 * 1024, audit=audit)
    return app


def serve(port: int, guarded: bool) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    config = uvicorn.Config(
        make_app(guarded), loop="uvloop", http="httptools", log_level="warning", access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


def server(url: str, guarded: bool):
    """One shop server process, bare or guarded (bench_commerce's launcher)."""
    args = ("--guarded",) if guarded else ()
    return shop_server(url, 1, "benchmarks.bench_security", *args)


def orders_per_s(quick: bool = False) -> dict:
    seconds = 3 if quick else SECONDS
    with tempfile.TemporaryDirectory(prefix="yl-sec-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'shop.db'}"
        _load(_prepare(url))
        runs: dict[str, list[float]] = {"bare": [], "guarded": []}
        for _ in range(2):
            for name in ("bare", "guarded"):
                with server(url, name == "guarded") as port:
                    r = _load(_throughput(port, CONCURRENCY, 20000, seconds))
                if r["errors"]:
                    raise RuntimeError(f"{name}: {r['errors']} orders failed")
                runs[name].append(r["orders_per_s"])
    bare = sum(runs["bare"]) / 2
    guarded = sum(runs["guarded"]) / 2
    return {
        "orders_per_s_without_auth": round(bare, 1),
        "orders_per_s_with_auth": round(guarded, 1),
        "ratio_with_over_without": round(guarded / bare, 3),
        "runs": runs,
        "concurrency": CONCURRENCY,
        "target_ratio": TARGET_RATIO,
    }


def login_figures() -> dict:
    from commerce.accounts import login_p95

    return asyncio.run(login_p95(n=60))


def run(quick: bool = False) -> dict:
    out = {"order_path": orders_per_s(quick), "login": login_figures()}
    out["met"] = {"auth_ratio": out["order_path"]["ratio_with_over_without"] >= TARGET_RATIO}
    return out


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), "--guarded" in sys.argv)
    else:
        print(json.dumps(run("--quick" in sys.argv), ensure_ascii=False, indent=2))
