"""The FastAPI application: pages, REST, WHEP and WebSockets over one `Engine`."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from avatars.voice import make_voice_chain
from commerce import open_store
from commerce.analytics import recommended_lineup
from commerce.backup import BackupScheduler
from commerce.demo import seed_history
from commerce.errors import AccountError, BadCredentials, LoginThrottled, UserNotFound
from streamer.director import TicketRequest
from streamer.engine import Engine, EngineError
from streamer.room import RoomConfig
from web import auth_api, dashboard_api, rooms_api, shop_api, tickets_api
from web.middleware import Guard, action_name, audit_after
from web.security import authorize
from web.settings import ConfigError, Settings
from web.viewers import ChatGate, ViewerGuard

__all__ = ["Settings", "create_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
DEMO_ROOM = "demo"
LINEUP_REFRESH = 60.0  # seconds between re-ranking a room's products from sales


def page(name: str) -> str:
    return (HERE / "templates" / name).read_text(encoding="utf-8")


def announce(base: str, rooms: list[dict], admin_password: str | None = None) -> None:
    """Tell a newcomer where to click, once the rooms are live (and, on the very first
    start, the admin's password: shown this once, only its hash is stored)."""
    lines = [f"云链销通 已启动: {base}/"]
    lines += [f"  观看直播 ({r['title']}): {base}/rooms/{r['room_id']}" for r in rooms]
    lines.append(f"  农户控制台: {base}/panel")
    if admin_password:
        lines.append(
            f"  首次启动：管理员 admin 的密码是 {admin_password}  (只显示这一次，请妥善保存)"
        )
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

        lineup = {"at": -1e9, "rank": {}}

        async def catalog(room_id: str | None = None) -> list:
            """The room's fact sheets in the order the shop's sales suggest (in-season
            sellers first, each followed by what its buyers also buy), refreshed each minute."""
            facts = await store.fact_sheets(room_id)
            now = time.monotonic()
            if now - lineup["at"] > LINEUP_REFRESH:
                lineup["at"] = now
                try:
                    order = await recommended_lineup(store, [f.sku for f in facts], store.clock())
                    lineup["rank"] = {sku: i for i, sku in enumerate(order)}
                except Exception:  # figures are advice: the room keeps the catalog order
                    log.exception("lineup recommendation failed")
            rank = lineup["rank"]
            return sorted(facts, key=lambda f: rank.get(f.sku, len(rank)))

        engine = Engine(
            catalog,
            voice=make_voice_chain(online=settings.online_voice),
            open_ticket=open_ticket,
            platform_secrets={"douyin": settings.douyin_secret} if settings.douyin_secret else {},
            max_rooms=settings.max_rooms,
            max_rooms_per_owner=settings.max_rooms_per_operator,
            max_viewers_per_room=settings.max_viewers_per_room,
        )
        app.state.engine, app.state.store = engine, store
        app.state.loop = asyncio.get_running_loop()
        settings.first_admin_password = await store.accounts.ensure_admin()
        app.include_router(auth_api.build_router(store, page))
        app.include_router(rooms_api.build_router(engine, settings, app.state.viewers))
        app.include_router(shop_api.build_router(store))
        app.include_router(tickets_api.build_router(store))
        if settings.demo_room:
            await seed_history(store)  # a small sales history: the dashboard is never empty
        dashboard = dashboard_api.build_router(store, engine)
        app.include_router(dashboard)
        backups = None
        if settings.backup_dir:  # scheduled backups with retention (一键恢复: yunlian restore)
            backups = BackupScheduler(
                store,
                settings.backup_dir,
                settings.backup_every_hours * 3600,
                settings.backup_keep,
            )
            backups.start()
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
            announce(settings.public_url, engine.list_rooms(), settings.first_admin_password)
        try:
            yield
        finally:
            if backups is not None:
                await backups.stop()
            await dashboard.close()
            await engine.close()
            await store.close()

    app = FastAPI(title="云链销通 Yunlian", lifespan=lifespan, dependencies=[Depends(authorize)])
    app.state.settings = settings
    app.state.viewers = ViewerGuard(rooms_api.viewer_limits(settings))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def record_change(scope, status: int, body: bytes) -> None:
        state = scope.get("state") or {}
        who = state.get("principal")
        if who is None or not who.staff:
            return
        route = scope.get("route")
        headers = dict(scope.get("headers") or [])
        await app.state.store.audit.record(
            who.username,
            action_name(scope["method"], getattr(route, "path", scope["path"])),
            scope["path"][:200],
            role=who.role or "",
            before=state.get("audit_before"),
            after=state.get("audit_after", audit_after(body)),
            ip=(scope.get("client") or ("",))[0],
            user_agent=headers.get(b"user-agent", b"")[:200].decode("latin-1"),
        )

    app.add_middleware(Guard, limit=settings.body_limit, audit=record_change)
    app.add_middleware(ChatGate, guard=app.state.viewers)  # outermost: floods stop here

    @app.exception_handler(AccountError)
    async def account_error(request: Request, exc: AccountError) -> JSONResponse:
        if isinstance(exc, LoginThrottled):
            return JSONResponse(
                {"detail": exc.reason},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        status = (
            401
            if isinstance(exc, BadCredentials)
            else 404
            if isinstance(exc, UserNotFound)
            else 400
        )
        return JSONResponse({"detail": exc.reason}, status_code=status)

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

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
    async def viewer(room_id: str, request: Request) -> HTMLResponse:
        response = HTMLResponse(page("viewer.html"))
        rooms_api.give_viewer_cookie(request, response, app.state.viewers)  # chat identity
        return response

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
