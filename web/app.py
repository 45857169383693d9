"""The FastAPI application: pages, REST, WHEP and WebSockets over one `Engine`."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import make_url
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from avatars.voice import make_voice_chain
from commerce import open_store
from commerce.backup import BackupScheduler
from commerce.db import DEFAULT_URL
from commerce.db_lock import hold
from commerce.demo import seed_history
from commerce.errors import AccountError, BadCredentials, LoginThrottled, UserNotFound
from commerce.ops_alerts import OpsAlertRows
from commerce.private_files import write_private
from commerce.push_seen import PushSeenRows
from danmaku.seen import SeenIds
from danmaku.sources.douyin import FUTURE_SKEW
from streamer.engine import Engine, EngineError
from streamer.heap import settle_heap
from streamer.nodes import NodeEngine
from streamer.room import RoomConfig
from streamer.scheduler import Scheduler, zone
from streamer.shop_feed import shop_catalog, ticket_desk
from streamer.worker import WorkerSpec
from streamer.workers import WorkerEngine
from web import (
    auth_api,
    dashboard_api,
    health,
    janus_api,
    live_console,
    logs,
    ops_api,
    outputs_api,
    rooms_api,
    schedule_api,
    sessions_api,
    shop_api,
    tickets_api,
    wizard,
    workbench,
    workbench_api,
)
from web.alerts import AlertDesk
from web.json_depth import JsonDepthGuard
from web.metrics import Metrics, RequestTimer
from web.middleware import Guard, action_name, audit_after
from web.ops_watch import OpsWatch
from web.security import SHOP_ID, authorize, client_ip
from web.settings import ConfigError, Settings
from web.viewers import ChatGate, ViewerGuard

__all__ = ["Settings", "create_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
DEMO_ROOM = "demo"


def page(name: str) -> str:
    return (HERE / "templates" / name).read_text(encoding="utf-8")


def announce(base: str, rooms: list[dict], admin_password_file: Path | None = None) -> None:
    """Tell a newcomer where to click, once the rooms are live (and, on the very first
    start, where the admin's password is: the password itself never reaches a log)."""
    lines = [f"云链销通 已启动: {base}/"]
    lines += [f"  观看直播 ({r['title']}): {base}/rooms/{r['room_id']}" for r in rooms]
    lines.append(f"  农户控制台: {base}/panel")
    lines.append(f"  农户工作台（商品、订单、发货）: {base}/workbench")
    if admin_password_file:
        lines.append(
            f"  首次启动：管理员 admin 的密码已写入 {admin_password_file}"
            "（仅本账户可读；登录后请删除此文件）"
        )
    print("\n".join(lines), flush=True)


def keep_first_password(settings: Settings, db_url: str, password: str) -> Path:
    """Write the first admin's password to a 0600 file and return its path."""
    if settings.admin_password_file:
        path = Path(settings.admin_password_file)
    else:
        db = make_url(db_url)
        local = db.get_backend_name() == "sqlite" and db.database not in (None, "", ":memory:")
        path = (Path(db.database).parent if local else Path("var")) / "admin-password.txt"
    write_private(path, f"admin\n{password}\n".encode())
    return path


def data_dir(db_url: str) -> Path:
    """Where the shop's data lives on this machine (the disk the desk watches)."""
    db = make_url(db_url)
    if db.get_backend_name() == "sqlite" and db.database not in (None, "", ":memory:"):
        return Path(db.database).resolve().parent
    return Path("var") if Path("var").is_dir() else Path(".")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    if settings.log_json:  # opt-in: JSON lines with room and request ids (web/logs.py)
        logs.configure(True, settings.log_level)
    try:
        zone(settings.schedule_tz)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # held for the server's life (ends with the process, crash included): a restore
        # refuses to run under a live shop, and a server waits out a running restore
        held = await hold(settings.db_url or DEFAULT_URL, exclusive=False, wait=30.0)
        try:
            store = await open_store(settings.db_url)
        except BaseException:
            await held.release()
            raise

        limits = {
            "platform_secrets": (
                {"douyin": settings.douyin_secret} if settings.douyin_secret else {}
            ),
            # pushes' message ids, kept in the database for the window (+ clock skew)
            "seen_ids": SeenIds(
                PushSeenRows(store.db), retention=settings.push_window + FUTURE_SKEW
            ),
            "push_window": settings.push_window,
            "max_rooms": settings.max_rooms,
            "max_rooms_per_owner": settings.max_rooms_per_operator,
            "max_viewers_per_room": settings.max_viewers_per_room,
        }
        if settings.workers > 0:  # rooms in worker processes; this process holds none
            spec = WorkerSpec(
                db_url=store.url, online_voice=settings.online_voice, log_json=settings.log_json
            )
            if settings.janus_url:  # each worker forwards its rooms to Janus
                spec = replace(
                    spec,
                    janus_url=settings.janus_url,
                    janus_admin_key=settings.janus_admin_key,
                    janus_rtp_host=settings.janus_rtp_host,
                )
            engine = WorkerEngine(spec, settings.workers, **limits)
            try:
                await engine.start()
            except BaseException:
                await store.close()
                await held.release()
                raise
        else:
            engine = Engine(
                shop_catalog(store),
                voice=make_voice_chain(online=settings.online_voice),
                open_ticket=ticket_desk(store),
                **limits,
            )
        if settings.redis_url:  # one node of several: leases in PostgreSQL, bus on Redis
            engine = NodeEngine(
                engine,
                store.url,
                settings.redis_url,
                settings.node_id or "node",
                settings.node_secret or "",
                settings.lease_ttl,
                store=store,
                writers=settings.writers,
                **limits,
            )
            # a room taken over from a dead node pushes to its HLS and saved outputs here
            # (and forwards to this node's Janus: the mountpoint taken over or made again)
            adopted_hooks = (
                outputs_api.on_started(engine, settings, store),
                janus_api.on_started(engine, settings),
            )
            engine.on_adopted = lambda room_id: [hook(room_id) for hook in adopted_hooks]
            try:
                await engine.start()
            except BaseException:
                await engine.close()
                await store.close()
                await held.release()
                raise
        app.state.engine, app.state.store = engine, store
        app.state.loop = asyncio.get_running_loop()
        first_password = await store.accounts.ensure_admin()
        password_file = None
        if first_password:
            password_file = keep_first_password(settings, store.url, first_password)
        app.include_router(auth_api.build_router(store, page))
        app.include_router(rooms_api.build_router(engine, settings, app.state.viewers))
        app.include_router(outputs_api.build_router(engine, settings, store))
        janus_api.configure(engine, settings)
        app.include_router(janus_api.build_router(engine, settings))
        app.include_router(shop_api.build_router(store))
        app.include_router(tickets_api.build_router(store, engine))
        if settings.demo_room:
            await seed_history(store)  # a small sales history: the dashboard is never empty
        dashboard = dashboard_api.build_router(store, engine)
        app.include_router(dashboard)
        app.state.analytics = dashboard.analytics
        sessions = sessions_api.build_router(store, engine, settings.session_bucket_s)  # 场次复盘
        app.include_router(sessions)
        sessions.start()
        app.include_router(workbench.build_router(store, engine, dashboard.analytics))
        app.include_router(workbench_api.build_router(store, Path(settings.media_dir)))
        app.include_router(live_console.build_router(store, engine))
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
        if settings.demo_room and DEMO_ROOM not in engine.configs():  # another node may hold it
            await store.rooms.claim(DEMO_ROOM, SHOP_ID, by="system", title="阜平大枣直播间")
            await engine.start_room(
                RoomConfig(
                    room_id=DEMO_ROOM,
                    persona="xiaowang",
                    title="阜平大枣直播间",
                    stamp=settings.stamp,
                    douyin_room_id=settings.douyin_rooms.get(DEMO_ROOM, ""),
                )
            )
            outputs_api.attach_hls(engine, settings, DEMO_ROOM)
            await outputs_api.restore_saved(engine, store, DEMO_ROOM)
            await janus_api.attach(engine, settings, DEMO_ROOM)
        # the ops desk: one sampler, the alert rules and their webhook (web/ops_*.py)
        alerts = AlertDesk(
            settings.alert_rules,
            OpsAlertRows(store.db),
            settings.alert_webhook,
            settings.alert_webhook_kind,
            settings.alert_retries,
            settings.alert_retry_base_s,
        )
        alerts.start()
        metrics = app.state.metrics
        watch = OpsWatch(
            engine,
            store,
            alerts,
            interval=settings.ops_interval,
            data_dir=data_dir(store.url),
            http_counts=lambda: (metrics.requests_total, metrics.errors_total),
        )
        watch.start()
        app.state.ops_watch, app.state.alerts = watch, alerts
        app.include_router(ops_api.build_router(watch, alerts, page))
        # the 7×24 schedule: rooms start and stop on their slots' times; started after the
        # demo room, its first pass catches up a slot that began while the server was down
        started_hooks = (
            outputs_api.on_started(engine, settings, store),
            janus_api.on_started(engine, settings),
        )

        def after_start(room_id: str) -> None:  # a room the schedule started
            for hook in started_hooks:
                hook(room_id)

        scheduler = Scheduler(
            engine,
            store,
            tz=settings.schedule_tz,
            on_started=after_start,
            douyin_rooms=settings.douyin_rooms,
        )
        app.state.scheduler = scheduler
        app.include_router(schedule_api.build_router(store, scheduler))
        app.include_router(wizard.build_router(store))
        scheduler.start()
        shown = settings.public_url or settings.listen_url
        if shown:
            announce(shown, engine.list_rooms(), password_file)
        settle_heap()
        try:
            yield
        finally:
            await watch.close()
            await alerts.close()
            await scheduler.close()
            if backups is not None:
                await backups.stop()
            await sessions.close()
            await dashboard.close()
            await engine.close()
            try:
                await store.close()
            finally:
                await held.release()

    app = FastAPI(title="云链销通 Yunlian", lifespan=lifespan, dependencies=[Depends(authorize)])
    app.state.settings = settings
    app.state.viewers = ViewerGuard(rooms_api.viewer_limits(settings))
    app.state.metrics = Metrics(lambda: getattr(app.state, "engine", None))
    app.include_router(health.build_router())  # /healthz, /readyz (web/health.py)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def record_change(scope, status: int, body: bytes) -> None:
        state = scope.get("state") or {}
        who = state.get("principal")
        if who is None or not who.staff:
            return
        route = scope.get("route")
        action = action_name(
            scope["method"], getattr(route, "path", scope["path"]), scope.get("path_params")
        )
        if action.startswith("auth."):  # logins and logouts are recorded by their handlers
            return
        headers = dict(scope.get("headers") or [])
        await app.state.store.audit.record(
            who.username,
            action,
            scope["path"][:200],
            role=who.role or "",
            before=state.get("audit_before"),
            after=state.get("audit_after", audit_after(body)),
            ip=client_ip(HTTPConnection(scope)),
            user_agent=headers.get(b"user-agent", b"")[:200].decode("latin-1"),
        )

    app.add_middleware(RequestTimer, metrics=app.state.metrics)  # request latency histogram
    app.add_middleware(Guard, limit=settings.body_limit, audit=record_change)
    app.add_middleware(JsonDepthGuard)  # before any parser recurses into a body
    app.add_middleware(
        logs.RequestContext, log_requests=settings.log_json and settings.log_requests
    )
    app.add_middleware(ChatGate, guard=app.state.viewers)  # outermost: floods stop here

    app.add_exception_handler(StarletteHTTPException, workbench.login_redirect)

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

    @app.get("/watch", include_in_schema=False)
    async def watch() -> RedirectResponse:
        return RedirectResponse(f"/rooms/{DEMO_ROOM}")

    return app
