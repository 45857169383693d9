"""开播向导 (the start wizard): pick a host, pick products, name the room, 开播 — and the room
plays on the same page over WHEP. The page calls the public room API (`POST /api/rooms`) with
the session's CSRF token, so the permission checks and the per-operator room cap are the
API's own."""

from __future__ import annotations

from fastapi import APIRouter, Request

from avatars.personas import PERSONAS
from commerce import Store
from web.pages import render
from web.security import principal

MAX_SHOWN = 60  # products offered on the page (the lineup takes at most 50)


def build_router(store: Store) -> APIRouter:
    r = APIRouter()

    @r.get("/workbench/start", include_in_schema=False)
    async def start(request: Request):
        p = principal(request)
        facts = [f for f in await store.fact_sheets() if f.stock > 0][:MAX_SHOWN]
        products = []
        for f in facts:
            detail = await store.product_detail(f.sku)
            photo = next((m["url"] for m in detail.get("media", []) if m["kind"] == "image"), "")
            products.append(
                {
                    "sku": f.sku,
                    "title": f.title,
                    "price": str(f.price),
                    "unit": f.unit,
                    "stock": f.stock,
                    "photo": photo if photo.startswith("/media/") else "",
                }
            )
        return render(
            "workbench/start.html",
            me={"username": p.username, "role": p.role, "can_edit": True, "can_ship": True},
            nav="start",
            personas=[{"id": x.id, "name": x.name, "role": x.role} for x in PERSONAS.values()],
            products=products,
        )

    return r
