"""Liveness and readiness for load balancers and orchestrators.

- `/healthz`: the process answers (alive). Nothing else is checked, so a slow database
  never gets a healthy process restarted.
- `/readyz`: the database answers a query, every live room's media loop ticked recently and
  every room worker is up. Otherwise 503 with the reasons, so traffic goes elsewhere until
  it recovers by itself."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

DB_TIMEOUT = 2.0  # seconds the readiness query may take
STALL_AFTER = 3.0  # seconds without a media-loop tick: the room is stalled


async def database_ok(store, timeout: float = DB_TIMEOUT) -> str | None:
    """None if the database answers `SELECT 1` in time, else why not."""
    if store is None:
        return "database not open yet"
    try:
        async with asyncio.timeout(timeout):
            async with store.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return f"database did not answer within {timeout:g} s"
    except Exception as exc:  # any driver error means not reachable
        return f"database unreachable: {type(exc).__name__}"
    return None


def room_problems(metrics: dict, stall_after: float = STALL_AFTER) -> list[str]:
    """Rooms whose media loop stopped ticking, and room workers that are down."""
    out = []
    for rid, s in metrics.get("rooms", {}).items():
        age = s.get("tick_age_s")
        if s.get("live") is False:
            out.append(f"room {rid}: media loop not running")
        elif age is not None and age > stall_after:
            out.append(f"room {rid}: no frame for {age:.1f} s")
    for w in metrics.get("workers") or []:
        if not w.get("ready"):
            out.append(f"worker {w['index']}: down")
    return out


async def readiness(state) -> tuple[bool, dict]:
    engine = getattr(state, "engine", None)
    reasons = []
    db = await database_ok(getattr(state, "store", None))
    if db:
        reasons.append(db)
    if engine is None:
        reasons.append("engine not started yet")
        rooms = 0
    else:
        m = engine.metrics()
        reasons += room_problems(m)
        rooms = len(m.get("rooms", {}))
    return not reasons, {
        "ready": not reasons,
        "reasons": reasons,
        "rooms": rooms,
        "checked_at": round(time.time(), 3),
    }


def build_router() -> APIRouter:
    r = APIRouter()

    @r.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> dict:
        engine = getattr(request.app.state, "engine", None)
        return {"ok": True, "rooms": len(engine.rooms) if engine is not None else 0}

    @r.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        ok, body = await readiness(request.app.state)
        return JSONResponse(body, status_code=200 if ok else 503)

    return r
