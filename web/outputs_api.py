"""A room's RTMP outputs (platforms, CDNs) and its HLS address, over REST.

Shop staff of the room add, list and remove outputs (web/security.py: ROOM_MERCHANT). A
stream key goes in once and only ever comes back masked. Added outputs are saved in the shop
database (key sealed) and pushed again whenever the room next goes live, after a restart too;
removing one forgets it. While the room is off air its saved outputs are still listed (keys
masked, state "off air", 未开播) and can be removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from streamer.engine import Engine, EngineError, RoomNotFound
from streamer.outputs import (
    MAX_KEY,
    MAX_NAME,
    MAX_URL,
    OutputError,
    OutputNotFound,
    TooManyOutputs,
    mask_key,
)
from web.settings import Settings

if TYPE_CHECKING:
    from commerce.store import Store

log = logging.getLogger(__name__)
HLS_OUTPUT = "本地HLS"
OFF_AIR = "off air"  # the state of a saved output while its room is not live (未开播)


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


async def restore_saved(engine: Engine, store: Store, room_id: str) -> int:
    """Push a room that just went live to the outputs its staff saved (same ids); returns
    how many started. The room is live either way: a failure is logged, never raised."""
    try:
        saved = await store.room_outputs.list(room_id)
        have = {o["id"] for o in engine.list_outputs(room_id)}
    except Exception as exc:
        log.error("room %s: saved outputs not read: %s", room_id, exc)
        return 0
    started = 0
    for o in saved:
        if o.id in have:  # already pushing (a room restored by its worker keeps its own)
            continue
        try:
            key = store.room_outputs.stream_key(o)
        except Exception:  # sealed under another secret key: the staff must enter it again
            log.error("room %s: output %s: its stream key cannot be opened", room_id, o.id)
            continue
        try:
            engine.add_output(room_id, o.url, key, o.name, output_id=o.id)
            started += 1
        except (OutputError, EngineError) as exc:
            log.error("room %s: saved output %s not started: %s", room_id, o.id, exc)
    if saved:
        log.info("room %s: %d of %d saved outputs started", room_id, started, len(saved))
    return started


async def saved_views(store: Store, room_id: str) -> list[dict]:
    """A room's saved outputs as the list shows them while it is off air: keys masked."""
    views = []
    for o in await store.room_outputs.list(room_id):
        try:
            masked = mask_key(store.room_outputs.stream_key(o))
        except Exception:  # sealed under another secret: shown, to be removed or entered again
            masked = "****"
        views.append(
            {
                "id": o.id,
                "name": o.name,
                "url": o.url,
                "stream_key": masked,
                "internal": False,
                "saved": True,
                "state": OFF_AIR,
                "state_label": "未开播",
                "kbps": 0,
                "connects": 0,
                "reconnects": 0,
                "failures": 0,
                "last_error": None,
            }
        )
    return views


def on_started(engine: Engine, settings: Settings, store: Store) -> Callable[[str], None]:
    """A hook for a room that just went live (the scheduler's): its HLS push, then its saved
    outputs (read from the shop database off the caller)."""
    tasks: set[asyncio.Task] = set()

    def hook(room_id: str) -> None:
        attach_hls(engine, settings, room_id)
        task = asyncio.get_running_loop().create_task(restore_saved(engine, store, room_id))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return hook


def build_router(engine: Engine, settings: Settings, store: Store | None = None) -> APIRouter:
    r = APIRouter()

    @r.get("/api/rooms/{room_id}/outputs")
    async def list_outputs(room_id: str) -> list[dict]:
        # live anywhere (another node's room included): what it pushes now
        if store is None or engine.room_shop(room_id) is not None:
            try:
                return engine.list_outputs(room_id)
            except RoomNotFound:  # stopped meanwhile
                if store is None:
                    raise
        # off air (the permission layer found the room registered to the caller's shop): what
        # it will push when it next goes live
        try:
            return await saved_views(store, room_id)
        except Exception as exc:
            log.error("room %s: saved outputs not read: %s", room_id, exc)
            raise HTTPException(503, "推流设置暂时无法读取，请稍后再试") from None

    @r.post("/api/rooms/{room_id}/outputs", status_code=201)
    async def add_output(room_id: str, body: OutputIn, request: Request):
        try:
            view = engine.add_output(room_id, body.url, body.stream_key, body.name)
        except OutputError as exc:
            return output_error(exc)
        if store is not None:  # kept: the room pushes there again when it next goes live
            who = getattr(request.state, "principal", None)
            try:
                await store.room_outputs.save(
                    room_id,
                    view["id"],
                    body.url,
                    body.stream_key,
                    body.name,
                    getattr(who, "username", "") or "",
                )
            except Exception as exc:
                log.error("room %s: output %s not saved: %s", room_id, view["id"], exc)
                with contextlib.suppress(OutputError, EngineError):
                    engine.remove_output(room_id, view["id"])
                raise HTTPException(503, "推流设置未能保存，请稍后再试") from None
        return view

    @r.delete("/api/rooms/{room_id}/outputs/{output_id}")
    async def remove_output(room_id: str, output_id: str):
        forgotten = False
        if store is not None:
            forgotten = await store.room_outputs.remove(room_id, output_id)
        if forgotten and engine.room_shop(room_id) is None:  # off air: nothing pushes it
            return {"id": output_id, "removed": True}
        try:
            engine.remove_output(room_id, output_id)
        except (OutputError, RoomNotFound) as exc:
            if not forgotten:  # neither pushing nor saved
                if isinstance(exc, RoomNotFound):
                    raise
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
