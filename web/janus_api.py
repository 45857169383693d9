"""Watching a room through Janus: where the page finds the room's mountpoint.

When `janus_url` is configured, every room that goes live forwards its packets to a Janus
streaming mountpoint (streamer/janus.py). The viewer page asks here for Janus's public HTTP
API address and the mountpoint id, then watches with Janus's own API (web/static/janus-mode.js).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from fastapi import APIRouter, HTTPException

from streamer.engine_base import EngineBase, EngineError, RoomNotFound
from streamer.janus import JanusApi, JanusError
from streamer.nodes import NodeEngine
from web.settings import Settings

log = logging.getLogger(__name__)


def configure(engine: EngineBase, settings: Settings) -> None:
    """Give the engine its Janus (room workers get theirs through their WorkerSpec; a node's
    local engine gets this node's Janus)."""
    if settings.janus_url and isinstance(engine, NodeEngine):
        engine.janus_public_url = settings.janus_public_url or settings.janus_url
        engine = engine.local
    if settings.janus_url and hasattr(engine, "attach_janus"):
        engine.janus_api = JanusApi(settings.janus_url, settings.janus_admin_key)
        engine.janus_rtp_host = settings.janus_rtp_host


async def attach(engine: EngineBase, settings: Settings, room_id: str) -> None:
    """Forward a room that just went live to Janus; the room is live either way."""
    if not settings.janus_url:
        return
    if not hasattr(engine, "attach_janus"):
        log.warning("room %s: Janus forwarding needs rooms in the web process", room_id)
        return
    try:
        await engine.attach_janus(room_id)
    except JanusError as exc:
        log.error("room %s: no Janus mountpoint: %s", room_id, exc)


def on_started(engine: EngineBase, settings: Settings) -> Callable[[str], None]:
    """A hook for a room that just went live outside the rooms API (the scheduler's): it
    forwards to Janus too (off the caller)."""
    tasks: set[asyncio.Task] = set()

    def hook(room_id: str) -> None:
        if not settings.janus_url:
            return
        task = asyncio.get_running_loop().create_task(attach(engine, settings, room_id))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return hook


def build_router(engine: EngineBase, settings: Settings) -> APIRouter:
    r = APIRouter()

    @r.get("/api/rooms/{room_id}/janus")
    async def janus(room_id: str) -> dict:
        """Where the viewer page watches the room through Janus (its HTTP API)."""
        if not settings.janus_url:
            raise HTTPException(404, "本服务器未开启 Janus (Janus is not configured)")
        try:
            engine.config_of(room_id)
            if hasattr(engine, "janus_where"):  # several nodes: the holder says where
                where = await engine.janus_where(room_id)  # (within a deadline, else 503)
            else:
                mount = engine.janus_mount(room_id) if hasattr(engine, "janus_mount") else None
                where = mount and {
                    "url": settings.janus_public_url or settings.janus_url,
                    "mountpoint": mount["mountpoint"],
                    "live": mount["frames"]["video"] > 0,
                }
        except RoomNotFound:
            raise HTTPException(404, f"直播间未开播：{room_id[:64]}") from None
        except EngineError as exc:
            raise HTTPException(503, f"直播间暂时无法接入 Janus：{exc}") from None
        if where is None:
            raise HTTPException(503, "直播间暂未接入 Janus，请用普通模式观看")
        return where

    return r
