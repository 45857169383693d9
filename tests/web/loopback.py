"""An ASGI app served by a real uvicorn on a free loopback port, with a client for it."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager

import httpx
import uvicorn


@asynccontextmanager
async def served(app, timeout: float = 20):
    """Serve `app` until the block ends; yields an httpx client bound to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):  # started, or the test fails rather than hangs
            while not server.started:
                await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
