"""The FastAPI application: pages, REST, WHEP and WebSockets over one `Engine`."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from avatars.voice import make_voice_chain
from commerce import open_store
from commerce.demo import seed_history
from streamer.director import TicketRequest
from streamer.engine import Engine, EngineError
from streamer.room import RoomConfig
from web import dashboard_api, rooms_api, shop_api, tickets_api

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
DEMO_ROOM = "demo"


@dataclass
class Settings:
    """How `yunlian serve` runs; every field has an offline default."""

    db_url: str | None = None  # None = SQLite file under ./var
    demo_room: bool = True
    online_voice: bool = False  # try edge-tts first (falls back to eSpeak)
    stamp: bool = False
    public_url: str | None = None  # where `yunlian serve` listens; printed once rooms are live
    douyin_secret: str | None = None  # verifies Douyin live-data pushes; None = refused

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            db_url=os.environ.get("YUNLIAN_DB") or None,
            demo_room=os.environ.get("YUNLIAN_DEMO_ROOM", "1") != "0",
            online_voice=os.environ.get("YUNLIAN_ONLINE_VOICE", "0") == "1",
            douyin_secret=os.environ.get("YUNLIAN_DOUYIN_SECRET") or None,
        )


def page(name: str) -> str:
    return (HERE / "templates" / name).read_text(encoding="utf-8")


def announce(base: str, rooms: list[dict]) -> None:
    """Tell a newcomer where to click, once the rooms are live."""
    lines = [f"云链销通 已启动: {base}/"]
    lines += [f"  观看直播 ({r['title']}): {base}/rooms/{r['room_id']}" for r in rooms]
    lines.append(f"  农户控制台: {base}/panel")
    print("\n".join(lines), flush=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = await open_store(settings.db_url)

        async def open_ticket(t: TicketRequest) -> object:
            return await store.tickets.open(
                t.room_id, t.user_id, t.nickname, t.kind, t.text[:500], t.product_sku, t.reason
            )

        engine = Engine(
            store.fact_sheets,
            voice=make_voice_chain(online=settings.online_voice),
            open_ticket=open_ticket,
            platform_secrets={"douyin": settings.douyin_secret} if settings.douyin_secret else {},
        )
        app.state.engine, app.state.store = engine, store
        app.include_router(rooms_api.build_router(engine))
        app.include_router(shop_api.build_router(store))
        app.include_router(tickets_api.build_router(store))
        if settings.demo_room:
            await seed_history(store)  # a small sales history: the dashboard is never empty
        dashboard = dashboard_api.build_router(store, engine)
        app.include_router(dashboard)
        store.add_listener(lambda ev: engine.shop_event(ev.room_id, ev.kind, ev.sku, ev.data))
        if settings.demo_room:
            await engine.start_room(
                RoomConfig(
                    room_id=DEMO_ROOM,
                    persona="xiaowang",
                    title="阜平大枣直播间",
                    stamp=settings.stamp,
                )
            )
        if settings.public_url:
            announce(settings.public_url, engine.list_rooms())
        try:
            yield
        finally:
            await dashboard.close()
            await engine.close()
            await store.close()

    app = FastAPI(title="云链销通 Yunlian", lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(EngineError)
    async def engine_error(request: Request, exc: EngineError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        return JSONResponse(
            {"detail": f"请求参数不正确 (invalid request): {reasons}"}, status_code=422
        )

    @app.get("/", include_in_schema=False)
    async def home() -> HTMLResponse:
        return HTMLResponse(page("home.html"))

    @app.get("/rooms/{room_id}", include_in_schema=False)
    async def viewer(room_id: str) -> HTMLResponse:
        return HTMLResponse(page("viewer.html"))

    @app.get("/panel", include_in_schema=False)
    async def panel() -> HTMLResponse:
        return HTMLResponse(page("panel.html"))

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> dict:
        return {"ok": True, "rooms": len(request.app.state.engine.rooms)}

    @app.get("/watch", include_in_schema=False)
    async def watch() -> RedirectResponse:
        return RedirectResponse(f"/rooms/{DEMO_ROOM}")

    return app
