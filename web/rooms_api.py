"""REST, WHEP and WebSocket endpoints for live rooms; everything goes through `Engine`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import OrderedDict
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from avatars.layout import frame_size
from avatars.personas import PERSONAS
from commerce.api_models import Text
from danmaku.seen import SeenFull
from danmaku.sources.douyin import BadPush
from streamer.engine_base import MAX_SDP_BYTES, ROOM_ID, EngineBase, EngineError
from streamer.events import DanmakuAck, DanmakuRejected, chat_reply
from streamer.listener import Heard
from streamer.room import RoomConfig
from web import janus_api, outputs_api
from web.json_depth import too_deep
from web.openapi_bodies import json_body, text_body
from web.security import SHOP_ID, client_ip, principal
from web.settings import Settings, ice_config
from web.urls import absolute
from web.viewers import (
    COOKIE_MAX_AGE,
    VIEWER_COOKIE,
    ViewerGuard,
    ViewerLimits,
)

MAX_WS_MESSAGE = 4096  # bytes of one chat message over the events WebSocket
MAX_PUSH_BYTES = 256 * 1024


class RoomStart(BaseModel):
    """Body of POST /api/rooms. `writer` names a script backend the server's config defines
    ("template", the embedded default, always exists); URLs and model paths are never taken
    from a request."""

    model_config = ConfigDict(extra="forbid")
    room_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    persona: str = Field(default="xiaowang", max_length=32)
    title: str = Field(default="", max_length=60)
    lineup: list[str] | None = Field(default=None, max_length=50)
    writer: str | None = Field(default=None, max_length=64)
    orientation: Literal["landscape", "portrait"] = "landscape"  # portrait: 720×1280 (竖屏)
    # 720p: 1280×720 (720×1280 portrait); 480p (省流): 854×480 (480×854): about a third less
    # CPU a room and 40 % less bandwidth (README, "480p rooms")
    resolution: Literal["720p", "480p"] = "720p"
    # the Douyin room whose live-data pushes this room takes (signed x-roomid must match)
    douyin_room_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class Question(BaseModel):
    """Body of POST /api/rooms/{id}/questions. `viewer_id` is accepted for old clients and
    ignored: the asker is the server-issued viewer (cookie) or the caller's address."""

    viewer_id: Text = Field(default="anon", min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)


class DanmakuIn(BaseModel):
    """Body of POST /api/rooms/{id}/danmaku (the public contract). `user_id` is the
    client's label only; moderation keys on the server-issued viewer identity."""

    model_config = ConfigDict(extra="ignore")
    user_id: Text = Field(min_length=1, max_length=64)  # keys moderation and tickets
    nickname: str = Field(default="", max_length=64)
    text: str = Field(min_length=1, max_length=2000)


class SimulatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = Field(ge=0, le=2000)
    mood: Literal["happy", "upset", "mixed"] = "mixed"
    duration: float | None = Field(default=None, gt=0, le=86400)


class BannedWord(BaseModel):
    word: str = Field(min_length=1, max_length=20)


# a refused platform push: the platform sees the status, an operator reads the reason
PUSH_STATUS = {"bad_signature": 401, "stale": 401, "wrong_room": 403, "too_large": 413}
REFUSED_STATUS = {"empty": 422, "too_long": 422, "rate_limited": 429, "flood": 429}


def heard_response(heard: Heard) -> JSONResponse:
    """202 with the contract's fields; refusals a sender can fix get a 4xx with the reason."""
    body = {
        "id": heard.id,
        "sentiment": heard.sentiment,
        "score": heard.score,
        "intent": heard.intent,
        "action": heard.action,
        "reason": heard.reason,
    }
    status = REFUSED_STATUS.get(heard.reason)
    if status is not None:
        headers = {"Retry-After": "1"} if status == 429 else None
        detail = heard.detail or heard.reason
        return JSONResponse({"detail": detail, **body}, status_code=status, headers=headers)
    return JSONResponse(body, status_code=202)


async def read_limited(request: Request, limit: int) -> bytes:
    """Read a request body, refusing more than `limit` bytes before buffering them."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    return bytes(body)


def viewer_limits(settings: Settings) -> ViewerLimits:
    return ViewerLimits(
        enabled=settings.viewer_limits,
        ws_per_room=settings.ws_per_room,
        ws_per_address=settings.ws_per_address,
        ws_rate=settings.ws_rate,
    )


def viewer_identity(request: Request, guard: ViewerGuard) -> tuple[str, str | None]:
    """The caller's chat identity, and a new signed viewer cookie when it has none."""
    return guard.chat_identity(request.cookies.get(VIEWER_COOKIE), client_ip(request))


def set_viewer_cookie(request: Request, response: Response, cookie: str | None) -> Response:
    if cookie is not None:
        response.set_cookie(
            VIEWER_COOKIE,
            cookie,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def give_viewer_cookie(request: Request, response: Response, guard: ViewerGuard) -> None:
    """The viewer page hands out the chat identity before the first message."""
    set_viewer_cookie(request, response, viewer_identity(request, guard)[1])


class EncodedEvents:
    """JSON text of recent events: one event goes to every socket of a room, and is
    encoded once rather than once per socket."""

    def __init__(self, size: int = 512) -> None:
        self._cache: OrderedDict[int, tuple[object, str]] = OrderedDict()
        self._size = size

    def text(self, item) -> str:
        if isinstance(item, DanmakuAck):  # this socket's own ack: sent once, not cached
            return json.dumps(item.as_dict(), ensure_ascii=False, default=str)
        hit = self._cache.get(id(item))
        if hit is not None and hit[0] is item:
            return hit[1]
        text = json.dumps(item.as_dict(), ensure_ascii=False, default=str)
        self._cache[id(item)] = (item, text)  # holding the event keeps its id unique
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return text


WHEP_METHODS = "POST, DELETE, PATCH, OPTIONS"
WHEP_HEADERS = "Content-Type, Authorization, If-Match"
WHEP_EXPOSE = "Location, Link, ETag, Accept-Patch"


def build_router(
    engine: EngineBase, settings: Settings | None = None, viewers: ViewerGuard | None = None
) -> APIRouter:
    settings = settings or Settings()
    viewers = viewers or ViewerGuard(viewer_limits(settings))
    encoded = EncodedEvents()
    r = APIRouter()

    def cors(request: Request) -> dict[str, str]:
        """CORS for watching only: the configured origins may play a room from their site;
        no credentials are ever allowed cross-origin."""
        origin = request.headers.get("origin")
        allowed = settings.cors_origins
        if not origin or not allowed:
            return {}
        if "*" in allowed:
            value = "*"
        elif origin in allowed:
            value = origin
        else:
            return {}
        return {
            "Access-Control-Allow-Origin": value,
            "Access-Control-Expose-Headers": WHEP_EXPOSE,
            "Vary": "Origin",
        }

    ice = ice_config(settings)

    def ice_links(room_id: str) -> dict[str, str]:
        """ICE servers in WHEP's Link header (RFC 9725 4.6), TURN with fresh credentials."""
        value = ice.link_header(room_id if ROOM_ID.match(room_id) else "-")
        return {"Link": value} if value else {}

    @r.options("/api/rooms/{room_id}/whep")
    @r.options("/api/rooms/{room_id}/whep/{session_id}")
    async def whep_preflight(request: Request, room_id: str, session_id: str = "") -> Response:
        headers = cors(request)
        if headers:
            headers |= {
                "Access-Control-Allow-Methods": WHEP_METHODS,
                "Access-Control-Allow-Headers": WHEP_HEADERS,
                "Access-Control-Max-Age": "600",
            }
        links = ice_links(room_id)
        return Response(status_code=204, headers={"Allow": WHEP_METHODS, **headers, **links})

    @r.get("/api/rooms/{room_id}/ice-servers")
    async def ice_servers(room_id: str, request: Request) -> JSONResponse:
        """What the viewer page gives its RTCPeerConnection: STUN, and TURN with credentials
        good for `ttl` seconds."""
        engine.config_of(room_id)
        body = {"iceServers": ice.ice_servers(room_id), "ttl": ice.ttl}
        return JSONResponse(body, headers={"Cache-Control": "no-store", **cors(request)})

    @r.get("/api/backends")
    async def backends() -> list[dict]:
        out = [{"name": "template", "backend": "template"}]
        out += [{"name": n, "backend": c["backend"]} for n, c in settings.writers.items()]
        return out

    @r.get("/api/personas")
    async def personas() -> list[dict]:
        return [{"id": p.id, "name": p.name, "role": p.role} for p in PERSONAS.values()]

    @r.get("/api/rooms")
    async def list_rooms() -> list[dict]:
        return engine.list_rooms()

    @r.post("/api/rooms", status_code=201)
    async def start_room(body: RoomStart, request: Request) -> dict:
        who = principal(request)
        writer = settings.writer(body.writer)
        shop = who.shop_id or SHOP_ID
        rooms = request.app.state.store.rooms
        size = frame_size(body.resolution, portrait=body.orientation == "portrait")
        if await rooms.claim(body.room_id, shop, by=who.username, live=False) != shop:
            raise HTTPException(403, f"直播间 {body.room_id} 属于其他店铺 (not your shop's room)")
        info = await engine.start_room(
            RoomConfig(
                room_id=body.room_id,
                persona=body.persona,
                title=body.title,
                lineup=body.lineup,
                writer=writer,
                shop_id=shop,
                owner=who.username if who.role == "operator" else "",
                width=size[0],
                height=size[1],
                douyin_room_id=body.douyin_room_id or settings.douyin_rooms.get(body.room_id, ""),
            )
        )
        await rooms.claim(body.room_id, shop, by=who.username, title=info.get("title", ""))
        outputs_api.attach_hls(engine, settings, body.room_id)
        await outputs_api.restore_saved(engine, request.app.state.store, body.room_id)
        await janus_api.attach(engine, settings, body.room_id)
        return info

    @r.post("/api/rooms/{room_id}/danmaku", status_code=202)
    async def danmaku(room_id: str, body: DanmakuIn, request: Request) -> JSONResponse:
        engine.config_of(room_id)  # 404 before an identity is issued for nothing
        viewer, cookie = viewer_identity(request, viewers)
        heard = await engine.danmaku(room_id, viewer, body.nickname, body.text)
        return set_viewer_cookie(request, heard_response(heard), cookie)

    @r.post("/api/rooms/{room_id}/questions")
    async def ask(room_id: str, body: Question, request: Request) -> JSONResponse:
        """Alias of /danmaku that also waits (at most 2 s) for the text answer."""
        engine.config_of(room_id)
        viewer, cookie = viewer_identity(request, viewers)
        out = await engine.ask(room_id, viewer, body.text)
        status = REFUSED_STATUS.get(out["reason"], 200)
        if status != 200:
            out["detail"] = out.get("detail") or out["reason"]
        return set_viewer_cookie(request, JSONResponse(out, status_code=status), cookie)

    @r.post("/api/rooms/{room_id}/platforms/{platform}", openapi_extra=json_body(None))
    async def platform_push(room_id: str, platform: str, request: Request) -> JSONResponse:
        engine.config_of(room_id)
        body = await read_limited(request, MAX_PUSH_BYTES)
        try:
            out = await engine.platform_push(room_id, platform, dict(request.headers), body)
        except BadPush as exc:
            detail = f"推送被拒绝（{exc.reason}）：{exc.detail or exc.reason}"
            status = PUSH_STATUS.get(exc.reason, 400)
            return JSONResponse({"detail": detail, "reason": exc.reason}, status_code=status)
        except SeenFull as exc:
            busy = {"detail": exc.reason, "reason": "busy"}
            return JSONResponse(busy, status_code=503, headers={"Retry-After": "10"})
        return JSONResponse(out)

    @r.post("/api/rooms/{room_id}/simulator")
    async def simulator(room_id: str, body: SimulatorIn) -> dict:
        return await engine.simulate_viewers(room_id, body.rate, body.mood, body.duration)

    @r.get("/api/rooms/{room_id}/banned-words")
    async def banned_words(room_id: str) -> list[str]:
        return await engine.banned_words(room_id)

    @r.post("/api/rooms/{room_id}/banned-words", status_code=201)
    async def add_banned(room_id: str, body: BannedWord) -> dict:
        added = await engine.ban_word(room_id, body.word)
        return {"word": body.word, "added": added}

    @r.delete("/api/rooms/{room_id}/banned-words/{word}")
    async def remove_banned(room_id: str, word: str) -> dict:
        if not await engine.unban_word(room_id, word):
            raise HTTPException(404, f"「{word[:20]}」不在屏蔽词列表中")
        return {"word": word, "removed": True}

    @r.get("/api/rooms/{room_id}")
    async def room_stats(room_id: str) -> dict:
        return await engine.room_stats(room_id)

    @r.post("/api/rooms/{room_id}/stop")
    async def stop_room(room_id: str) -> dict:
        await engine.stop_room(room_id)
        return {"room_id": room_id, "live": False}

    @r.post(
        "/api/rooms/{room_id}/whep",
        status_code=201,
        openapi_extra=text_body("application/sdp", MAX_SDP_BYTES),
    )
    async def whep_offer(room_id: str, request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/sdp":
            raise HTTPException(415, "WHEP offers must be sent as Content-Type: application/sdp")
        engine.config_of(room_id)  # 404 before reading a body for nothing
        body = await read_limited(request, MAX_SDP_BYTES)
        try:
            sdp = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "SDP offer is not UTF-8 text") from None
        session_id, answer = await engine.whep_offer(room_id, sdp)
        # absolute from the configured public URL (or a loopback Host), so a player on
        # another site resolves it to this server; never built from an untrusted Host header
        path = request.app.url_path_for("whep_delete", room_id=room_id, session_id=session_id)
        location = absolute(request, str(path))
        return Response(
            content=answer,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": location, **cors(request), **ice_links(room_id)},
        )

    @r.delete("/api/rooms/{room_id}/whep/{session_id}", name="whep_delete")
    async def whep_delete(room_id: str, session_id: str, request: Request) -> Response:
        await engine.whep_delete(room_id, session_id)
        return Response(status_code=200, headers=cors(request))

    @r.patch("/api/rooms/{room_id}/whep/{session_id}")
    async def whep_patch(room_id: str, session_id: str, request: Request) -> Response:
        # all candidates are in the answer: trickle ICE is not needed (draft-ietf-wish-whep)
        return JSONResponse(
            {"detail": "trickle ICE is not supported"},
            status_code=405,
            headers={"Allow": "DELETE", **cors(request)},
        )

    @r.websocket("/api/rooms/{room_id}/events")
    async def room_events(ws: WebSocket, room_id: str) -> None:
        """Room events out; chat in: {"type": "danmaku", "text", "nickname"}. Each socket is
        one viewer with a server-issued id (its viewer cookie's, or its own), so nobody can
        post or read replies as another. Sockets are capped per room and per address, and
        each has a message budget (see web/viewers.py)."""
        await ws.accept()
        if room_id not in engine.rooms:
            await _refuse(ws, 4404, f"no live room {room_id!r}")
            return
        address = client_ip(ws)
        refused = viewers.open_socket(room_id, address)
        if refused is not None:
            await viewers.tarpit(f"ws:{address}")  # a reconnect loop tries once a second
            await _refuse(ws, *refused)
            return
        try:
            await _serve_events(ws, room_id)
        finally:
            viewers.close_socket(room_id, address)

    async def _serve_events(ws: WebSocket, room_id: str) -> None:
        cookie_id = viewers.ids.verify(ws.cookies.get(VIEWER_COOKIE))
        viewer_id = cookie_id or "v-" + uuid.uuid4().hex[:12]
        budget = viewers.socket_budget()
        q = engine.subscribe(room_id, viewer_id=viewer_id)  # acks for this socket go here too

        async def send_loop() -> None:
            while True:
                await ws.send_text(encoded.text(await q.get()))

        async def receive_loop() -> None:
            while True:
                pause = budget.delay()
                if pause:  # over budget: read later, and TCP holds the sender back
                    await asyncio.sleep(pause)
                ack = await chat(await ws.receive_text())
                if q.full():
                    q.get_nowait()
                q.put_nowait(ack)

        async def chat(raw: str) -> DanmakuAck:
            """One chat line in, its typed reply out (streamer.events.DanmakuAck/Rejected)."""
            if len(raw) > MAX_WS_MESSAGE or len(raw.encode("utf-8", "replace")) > MAX_WS_MESSAGE:
                return DanmakuRejected(room_id, reason="too_long", detail="消息太长了")
            try:
                if too_deep(raw.encode("utf-8", "replace")):  # before json recurses into it
                    raise ValueError("nested too deeply")
                msg = json.loads(raw)
            except ValueError:
                return DanmakuRejected(room_id, reason="bad_json", detail="消息格式不对")
            if not isinstance(msg, dict) or msg.get("type") != "danmaku":
                return DanmakuRejected(room_id, reason="bad_type", detail="消息格式不对")
            text, nick = msg.get("text"), msg.get("nickname") or ""
            if not isinstance(text, str) or not isinstance(nick, str):
                return DanmakuRejected(room_id, reason="bad_type", detail="消息格式不对")
            try:
                heard = await engine.danmaku(room_id, viewer_id, nick, text)
            except EngineError as exc:
                return DanmakuRejected(room_id, reason="invalid", detail=str(exc))
            return chat_reply(room_id, heard, text)

        try:
            await ws.send_json(
                {"type": "hello", "viewer_id": viewer_id, **(await engine.room_info(room_id))}
            )
            tasks = [asyncio.ensure_future(send_loop()), asyncio.ensure_future(receive_loop())]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
            for t in tasks:
                if t.done() and not t.cancelled():
                    t.exception()  # retrieve: a closed socket ends the loops, nothing to report
        except (WebSocketDisconnect, asyncio.CancelledError, RuntimeError):
            pass
        finally:
            engine.unsubscribe(room_id, q)

    @r.get("/api/metrics")
    async def metrics() -> dict:
        return engine.metrics() | {"event_sockets": viewers.info()}

    @r.get("/metrics", response_class=PlainTextResponse)
    async def prometheus(request: Request) -> Response:
        body, ctype = request.app.state.metrics.render()  # web/metrics.py (prometheus-client)
        return Response(body, media_type=ctype)

    return r


async def _refuse(ws: WebSocket, code: int, detail: str) -> None:
    """Say why a socket is refused and close it; a client already gone needs neither."""
    try:
        await ws.send_json({"type": "error", "detail": detail})
        await ws.close(code=code, reason=detail)
    except (WebSocketDisconnect, RuntimeError):
        pass
