"""REST, WHEP and WebSocket endpoints for live rooms; everything goes through `Engine`."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from avatars.personas import PERSONAS
from streamer.engine import MAX_SDP_BYTES, Engine
from streamer.room import RoomConfig


class WriterConfig(BaseModel):
    """Where the host's words come from: the embedded template, an OpenAI-compatible
    endpoint, or a local model directory (always with the template as fallback)."""

    model_config = ConfigDict(extra="forbid")
    backend: Literal["template", "openai", "transformers"] = "template"
    base_url: str | None = Field(default=None, max_length=300)
    api_key: str | None = Field(default=None, max_length=300)
    model: str | None = Field(default=None, max_length=100)
    timeout: float | None = Field(default=None, gt=0, le=60)
    model_dir: str | None = Field(default=None, max_length=500)


class RoomStart(BaseModel):
    """Body of POST /api/rooms."""

    room_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    persona: str = "xiaowang"
    title: str = Field(default="", max_length=60)
    lineup: list[str] | None = Field(default=None, max_length=50)
    writer: WriterConfig | None = None


class Question(BaseModel):
    """Body of POST /api/rooms/{id}/questions."""

    viewer_id: str = Field(default="anon", min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)


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


def build_router(engine: Engine) -> APIRouter:
    r = APIRouter()

    @r.get("/api/personas")
    async def personas() -> list[dict]:
        return [{"id": p.id, "name": p.name, "role": p.role} for p in PERSONAS.values()]

    @r.get("/api/rooms")
    async def list_rooms() -> list[dict]:
        return engine.list_rooms()

    @r.post("/api/rooms", status_code=201)
    async def start_room(body: RoomStart) -> dict:
        writer = body.writer.model_dump(exclude_none=True) if body.writer else None
        return await engine.start_room(
            RoomConfig(
                room_id=body.room_id,
                persona=body.persona,
                title=body.title,
                lineup=body.lineup,
                writer=writer,
            )
        )

    @r.post("/api/rooms/{room_id}/questions")
    async def ask(room_id: str, body: Question) -> dict:
        return await engine.ask(room_id, body.viewer_id, body.text)

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
        return Response(
            content=answer,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": f"/api/rooms/{room_id}/whep/{session_id}"},
        )

    @r.delete("/api/rooms/{room_id}/whep/{session_id}")
    async def whep_delete(room_id: str, session_id: str) -> Response:
        await engine.whep_delete(room_id, session_id)
        return Response(status_code=200)

    @r.patch("/api/rooms/{room_id}/whep/{session_id}")
    async def whep_patch(room_id: str, session_id: str) -> Response:
        # all candidates are in the answer: trickle ICE is not needed (RFC 9725 §4.3.1)
        return JSONResponse({"detail": "trickle ICE is not supported"}, status_code=405)

    @r.websocket("/api/rooms/{room_id}/events")
    async def room_events(ws: WebSocket, room_id: str) -> None:
        await ws.accept()
        if room_id not in engine.rooms:
            await ws.send_json({"type": "error", "detail": f"no live room {room_id!r}"})
            await ws.close(code=4404)
            return
        q = engine.subscribe(room_id)
        try:
            await ws.send_json({"type": "hello", **engine.room(room_id).info()})
            while True:
                event = await q.get()
                await ws.send_text(json.dumps(event, ensure_ascii=False, default=str))
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
