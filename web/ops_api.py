"""The ops desk (运维台): `/ops`, its one WebSocket and its read-only JSON.

For the ops and admin roles (web/security.py). Everything here is read-only and carries no
buyer data: rooms' health, outputs, sales totals, machines and workers, alerts."""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from web.ops_watch import OpsWatch

HELLO_TIMEOUT = 10.0  # seconds a console may take to read its first message


def build_router(watch: OpsWatch, alerts=None, page=None) -> APIRouter:
    r = APIRouter()

    @r.get("/ops", include_in_schema=False)
    async def ops_page() -> HTMLResponse:
        return HTMLResponse(page("ops.html"))

    @r.get("/api/ops/snapshot")
    async def snapshot() -> dict:
        """The latest sample (rooms, machine, workers, active alerts)."""
        return watch.last or watch.tick()

    @r.get("/api/ops/history")
    async def history() -> dict:
        """Sparklines for the last hour, one point every 10 s."""
        return watch.history()

    @r.get("/api/ops/alerts")
    async def alert_history(limit: int = Query(default=50, ge=1, le=500)) -> dict:
        """Alerts as they fired and resolved, newest first, with their webhook deliveries."""
        if alerts is None:
            return {"active": [], "history": []}
        return {"active": alerts.active_view(), "history": await alerts.history(limit)}

    @r.websocket("/api/ops/live")
    async def live(ws: WebSocket) -> None:
        """One message on connect (the latest sample and the sparklines), then one update a
        sample. Read-only: anything the console sends is ignored."""
        await ws.accept()
        q = watch.subscribe()
        try:
            hello = {"type": "hello", "history": watch.history(), "snapshot": watch.last}
            if alerts is not None:
                hello["alerts"] = await alerts.history(30)
            async with asyncio.timeout(HELLO_TIMEOUT):
                await ws.send_text(json.dumps(hello, ensure_ascii=False, default=str))

            async def drain() -> None:  # reads (and drops) client messages; ends on close
                while True:
                    msg = await ws.receive()
                    if msg["type"] == "websocket.disconnect":
                        return

            reader = asyncio.ensure_future(drain())
            try:
                while not reader.done():
                    getter = asyncio.ensure_future(q.get())
                    done, _ = await asyncio.wait({getter, reader}, return_when="FIRST_COMPLETED")
                    if getter not in done:
                        getter.cancel()
                        break
                    c0 = time.thread_time()
                    await ws.send_text(getter.result())
                    watch.send_cpu_s += time.thread_time() - c0  # the desk's own cost
            finally:
                reader.cancel()
        except (WebSocketDisconnect, RuntimeError, TimeoutError, asyncio.CancelledError):
            pass
        finally:
            watch.unsubscribe(q)

    return r
