"""场次复盘 over HTTP: the list of a shop's past sessions and one session's minute replay,
and the page that draws them (plotly's basic bundle, served from web/static/vendor).

`build_router(store, engine)` owns the session recorder; the app starts it in its lifespan
and `close()` ends the sessions still open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from commerce import Store
from commerce.errors import CommerceError
from commerce.sessions import SessionRecorder, list_sessions, replay
from web.security import SHOP_ID

TEMPLATES = Path(__file__).with_name("templates")
BUCKET_S = 60  # seconds a replay row covers (tests shorten it)
TICK_S = 1.0


class SessionsRouter(APIRouter):
    recorder: SessionRecorder

    def start(self) -> None:
        self.recorder.start(TICK_S)

    async def close(self) -> None:
        await self.recorder.close()


def build_router(store: Store, engine: Any, bucket_s: int | None = None) -> SessionsRouter:
    r = SessionsRouter()
    r.recorder = SessionRecorder(engine, store, shop_id=SHOP_ID, bucket_s=bucket_s or BUCKET_S)

    async def call(coro):
        try:
            return await coro
        except CommerceError as e:
            raise HTTPException(e.status, e.reason) from None

    @r.get("/analytics/sessions", include_in_schema=False)
    async def sessions_page() -> HTMLResponse:
        html = (TEMPLATES / "sessions.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @r.get("/api/sessions")
    async def sessions(
        limit: int = Query(50, ge=1, le=200),
        room_id: str | None = Query(None, max_length=64),
    ) -> dict:
        async with store.db.read() as s:
            rows = await call(list_sessions(s, SHOP_ID, limit, room_id or None))
        return {"sessions": rows}

    @r.get("/api/sessions/{session_id}")
    async def session_replay(session_id: str) -> dict:
        async with store.db.read() as s:
            return await call(replay(s, SHOP_ID, session_id[:64], store.clock()))

    return r
