"""A room's RTMP outputs (platforms, CDNs) and its HLS address, over REST.

Shop staff of the room add, list and remove outputs (web/security.py: ROOM_MERCHANT). A
stream key goes in once and only ever comes back masked.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from streamer.engine import Engine, RoomNotFound
from streamer.outputs import MAX_KEY, MAX_NAME, MAX_URL, OutputError, OutputNotFound, TooManyOutputs
from web.settings import Settings

log = logging.getLogger(__name__)
HLS_OUTPUT = "本地HLS"


class OutputIn(BaseModel):
    """Body of POST /api/rooms/{id}/outputs: where to push and with which stream key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    url: str = Field(min_length=1, max_length=MAX_URL)  # rtmp:// or rtmps://host[:port]/app
    stream_key: str = Field(min_length=1, max_length=MAX_KEY)  # the platform's (secret)
    name: str = Field(default="", max_length=MAX_NAME)  # e.g. 抖音, 快手, B站


def output_error(exc: OutputError) -> JSONResponse:
    status = (
        404 if isinstance(exc, OutputNotFound) else 409 if isinstance(exc, TooManyOutputs) else 422
    )
    return JSONResponse({"detail": f"推流设置有误：{exc}"}, status_code=status)


def hls_address(settings: Settings, room_id: str) -> str | None:
    if not (settings.hls_push_url and settings.hls_url):
        return None
    return settings.hls_url.replace("{room_id}", room_id)


def attach_hls(engine: Engine, settings: Settings, room_id: str) -> None:
    """Push a room that just went live to the local nginx-rtmp, which serves it as HLS."""
    if settings.hls_push_url and settings.hls_url:
        try:
            engine.add_output(room_id, settings.hls_push_url, room_id, HLS_OUTPUT, internal=True)
        except OutputError as exc:  # the room is live either way; WebRTC still plays it
            log.error("room %s: no HLS push: %s", room_id, exc)


def build_router(engine: Engine, settings: Settings) -> APIRouter:
    r = APIRouter()

    @r.get("/api/rooms/{room_id}/outputs")
    async def list_outputs(room_id: str) -> list[dict]:
        return engine.list_outputs(room_id)

    @r.post("/api/rooms/{room_id}/outputs", status_code=201)
    async def add_output(room_id: str, body: OutputIn):
        try:
            return engine.add_output(room_id, body.url, body.stream_key, body.name)
        except OutputError as exc:
            return output_error(exc)

    @r.delete("/api/rooms/{room_id}/outputs/{output_id}")
    async def remove_output(room_id: str, output_id: str):
        try:
            engine.remove_output(room_id, output_id)
        except OutputError as exc:
            return output_error(exc)
        return {"id": output_id, "removed": True}

    @r.get("/api/rooms/{room_id}/hls")
    async def hls(room_id: str) -> dict:
        """Where the viewer page plays the room in 省流模式 (HLS through nginx or a CDN)."""
        url = hls_address(settings, room_id)
        if url is None:
            raise HTTPException(404, "本服务器未开启 HLS (HLS is not configured)")
        try:
            live = any(o["internal"] and o["state"] == "live" for o in engine.list_outputs(room_id))
        except RoomNotFound:
            raise HTTPException(404, f"直播间未开播：{room_id[:64]}") from None
        return {"url": url, "live": live}

    return r
