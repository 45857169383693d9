"""REST, WHEP and WebSocket endpoints for live rooms; everything goes through `Engine`."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from avatars.personas import PERSONAS
from streamer.engine import MAX_SDP_BYTES, Engine, EngineError
from streamer.events import DanmakuAck, DanmakuRejected, chat_reply
from streamer.listener import Heard
from streamer.room import RoomConfig
from web.security import principal
from web.settings import Settings

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


class Question(BaseModel):
    """Body of POST /api/rooms/{id}/questions."""

    viewer_id: str = Field(default="anon", min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)


class DanmakuIn(BaseModel):
    """Body of POST /api/rooms/{id}/danmaku (the public contract)."""

    model_config = ConfigDict(extra="ignore")
    user_id: str = Field(min_length=1, max_length=64)
    nickname: str = Field(default="", max_length=64)
    text: str = Field(min_length=1, max_length=2000)


class SimulatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = Field(ge=0, le=2000)
    mood: Literal["happy", "upset", "mixed"] = "mixed"
    duration: float | None = Field(default=None, gt=0, le=86400)


class BannedWord(BaseModel):
    word: str = Field(min_length=1, max_length=20)


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


WHEP_METHODS = "POST, DELETE, PATCH, OPTIONS"
WHEP_HEADERS = "Content-Type, Authorization, If-Match"
WHEP_EXPOSE = "Location, Link, ETag, Accept-Patch"


def build_router(engine: Engine, settings: Settings | None = None) -> APIRouter:
    settings = settings or Settings()
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

    def ice_links() -> dict[str, str]:
        links = [f'<{url}>; rel="ice-server"' for url in settings.ice_servers]
        return {"Link": ", ".join(links)} if links else {}

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
        return Response(status_code=204, headers={"Allow": WHEP_METHODS, **headers, **ice_links()})

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
        return await engine.start_room(
            RoomConfig(
                room_id=body.room_id,
                persona=body.persona,
                title=body.title,
                lineup=body.lineup,
                writer=writer,
                shop_id=who.shop_id or "default",
                owner=who.username if who.role == "operator" else "",
                width=720 if body.orientation == "portrait" else 1280,
                height=1280 if body.orientation == "portrait" else 720,
            )
        )

    @r.post("/api/rooms/{room_id}/danmaku", status_code=202)
    async def danmaku(room_id: str, body: DanmakuIn) -> JSONResponse:
        return heard_response(engine.post_danmaku(room_id, body.user_id, body.nickname, body.text))

    @r.post("/api/rooms/{room_id}/questions")
    async def ask(room_id: str, body: Question) -> JSONResponse:
        """Alias of /danmaku that also waits (at most 2 s) for the text answer."""
        out = await engine.ask(room_id, body.viewer_id, body.text)
        status = REFUSED_STATUS.get(out["reason"], 200)
        if status != 200:
            out["detail"] = out.get("detail") or out["reason"]
        return JSONResponse(out, status_code=status)

    @r.post("/api/rooms/{room_id}/platforms/{platform}")
    async def platform_push(room_id: str, platform: str, request: Request) -> dict:
        engine.room(room_id)
        body = await read_limited(request, MAX_PUSH_BYTES)
        return engine.platform_push(room_id, platform, dict(request.headers), body)

    @r.post("/api/rooms/{room_id}/simulator")
    async def simulator(room_id: str, body: SimulatorIn) -> dict:
        return engine.simulate(room_id, body.rate, body.mood, body.duration)

    @r.get("/api/rooms/{room_id}/banned-words")
    async def banned_words(room_id: str) -> list[str]:
        return engine.room(room_id).listener.moderator.banned_words()

    @r.post("/api/rooms/{room_id}/banned-words", status_code=201)
    async def add_banned(room_id: str, body: BannedWord) -> dict:
        added = engine.room(room_id).listener.moderator.add_banned(body.word)
        return {"word": body.word, "added": added}

    @r.delete("/api/rooms/{room_id}/banned-words/{word}")
    async def remove_banned(room_id: str, word: str) -> dict:
        if not engine.room(room_id).listener.moderator.remove_banned(word):
            raise HTTPException(404, f"「{word[:20]}」不在屏蔽词列表中")
        return {"word": word, "removed": True}

    @r.get("/api/rooms/{room_id}")
    async def room_stats(room_id: str) -> dict:
        return engine.room(room_id).stats()

    @r.post("/api/rooms/{room_id}/stop")
    async def stop_room(room_id: str) -> dict:
        await engine.stop_room(room_id)
        return {"room_id": room_id, "live": False}

    @r.post("/api/rooms/{room_id}/whep", status_code=201)
    async def whep_offer(room_id: str, request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/sdp":
            raise HTTPException(415, "WHEP offers must be sent as Content-Type: application/sdp")
        engine.room(room_id)  # 404 before reading a body for nothing
        body = await read_limited(request, MAX_SDP_BYTES)
        try:
            sdp = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "SDP offer is not UTF-8 text") from None
        session_id, answer = await engine.whep_offer(room_id, sdp)
        # absolute, so a player on another site resolves it to this server
        location = str(request.url_for("whep_delete", room_id=room_id, session_id=session_id))
        return Response(
            content=answer,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": location, **cors(request), **ice_links()},
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
        one viewer with a server-chosen id, so nobody can post or read replies as another."""
        await ws.accept()
        if room_id not in engine.rooms:
            await ws.send_json({"type": "error", "detail": f"no live room {room_id!r}"})
            await ws.close(code=4404)
            return
        viewer_id = "v-" + uuid.uuid4().hex[:12]
        q = engine.subscribe(room_id, viewer_id=viewer_id)  # acks for this socket go here too

        async def send_loop() -> None:
            while True:
                item = await q.get()
                data = item if isinstance(item, dict) else item.as_dict()
                await ws.send_text(json.dumps(data, ensure_ascii=False, default=str))

        async def receive_loop() -> None:
            while True:
                raw = await ws.receive_text()
                ack = chat(raw)
                if q.full():
                    q.get_nowait()
                q.put_nowait(ack)

        def chat(raw: str) -> DanmakuAck:
            """One chat line in, its typed reply out (streamer.events.DanmakuAck/Rejected)."""
            if len(raw.encode("utf-8", "replace")) > MAX_WS_MESSAGE:
                return DanmakuRejected(room_id, reason="too_long", detail="消息太长了")
            try:
                msg = json.loads(raw)
            except ValueError:
                return DanmakuRejected(room_id, reason="bad_json", detail="消息格式不对")
            if not isinstance(msg, dict) or msg.get("type") != "danmaku":
                return DanmakuRejected(room_id, reason="bad_type", detail="消息格式不对")
            text, nick = msg.get("text"), msg.get("nickname") or ""
            if not isinstance(text, str) or not isinstance(nick, str):
                return DanmakuRejected(room_id, reason="bad_type", detail="消息格式不对")
            try:
                heard = engine.post_danmaku(room_id, viewer_id, nick, text)
            except EngineError as exc:
                return DanmakuRejected(room_id, reason="invalid", detail=str(exc))
            return chat_reply(room_id, heard, text)

        try:
            await ws.send_json(
                {"type": "hello", "viewer_id": viewer_id, **engine.room(room_id).info()}
            )
            tasks = [asyncio.ensure_future(send_loop()), asyncio.ensure_future(receive_loop())]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in pending:
                t.cancel()
            for t in done:
                t.exception()  # retrieve: a closed socket ends the loops, nothing to report
        except (WebSocketDisconnect, asyncio.CancelledError, RuntimeError):
            pass
        finally:
            engine.unsubscribe(room_id, q)

    @r.get("/api/metrics")
    async def metrics() -> dict:
        return engine.metrics()

    @r.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> str:
        return prometheus_text(engine.metrics())

    return r


def prometheus_text(m: dict) -> str:
    """Room gauges and counters in the Prometheus text format."""
    fields = {
        "fps": "gauge",
        "frames": "counter",
        "skipped_frames": "counter",
        "render_ms": "gauge",
        "encode_ms": "gauge",
        "video_kbps": "gauge",
        "viewers": "gauge",
        "keyframes": "counter",
        "viewer_drops": "counter",
        "lines": "counter",
        "fillers": "counter",
    }
    out = [f"# TYPE yunlian_sessions gauge\nyunlian_sessions {m['viewers']}"]
    for name, kind in fields.items():
        out.append(f"# TYPE yunlian_room_{name} {kind}")
        for rid, stats in m["rooms"].items():
            out.append(f'yunlian_room_{name}{{room="{rid}"}} {stats[name]}')
    out.append("# TYPE yunlian_voice_fallbacks counter")
    out.append(f"yunlian_voice_fallbacks {m['voice']['fallbacks']}")
    return "\n".join(out) + "\n"
