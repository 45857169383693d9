"""Helpers of the shop's public pages: the base URL a QR code may encode, JSON in a page."""

from __future__ import annotations

import html
import io
import json
import logging
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import segno
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from commerce import Store
from web.urls import public_base

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_for_script(value: Any) -> str:
    """JSON to embed in <script type="application/json">: no character can close the element
    or start markup, and JSON.parse(textContent) returns `value` unchanged."""
    text = json.dumps(value, ensure_ascii=False)
    return text.translate(str.maketrans(_SCRIPT_ESCAPES))


def public_base_url(request: Request) -> str:
    """The origin links printed on labels point to, never taken from an untrusted Host header.

    The configured public URL (settings.public_url or YUNLIAN_PUBLIC_URL, e.g.
    https://shop.example.cn). Otherwise the request's own Host only when it names this
    machine (localhost, 127.0.0.0/8, ::1), as in a demo; any other Host falls back to
    http://127.0.0.1:<the port this server listens on>: a label needs an absolute URL.
    """
    base = public_base(request)
    if base:
        return base
    server = request.scope.get("server") or ("127.0.0.1", 8000)
    return f"http://127.0.0.1:{server[1]}"


def _render(name: str, **values: str) -> HTMLResponse:
    tpl = string.Template((TEMPLATES / name).read_text(encoding="utf-8"))
    return HTMLResponse(tpl.safe_substitute(values))


def add_page_routes(r: APIRouter, store: Store, call: Callable) -> None:
    """The public pages: the simulated cashier, the trace page and its QR code."""

    @r.get("/api/shop/payments/{payment_id}/cashier", response_class=HTMLResponse)
    async def cashier(payment_id: str):
        pay = await call(store.payments.get(payment_id))
        return _render(
            "shop_cashier.html",
            payment_id=html.escape(pay["payment_id"]),
            order_id=html.escape(pay["order_id"]),
            amount=html.escape(pay["amount"]),
            status=html.escape(pay["status"]),
            confirm_url=json_for_script(pay["confirm_url"]),
        )

    @r.get("/trace/{batch_id}", response_class=HTMLResponse)
    async def trace_page(batch_id: str, request: Request):
        from commerce.trace.page import describe_reports, render_events

        view = await call(store.trace.batch_view(batch_id))
        cp = view["checkpoint"] or {}
        return _render(
            "shop_trace.html",
            title=html.escape(view["product"]),
            batch_id=html.escape(view["batch_id"]),
            origin_plot=html.escape(view["origin_plot"]),
            harvest_date=view["harvest_date"],
            expiry_date=view["expiry_date"],
            certifications=html.escape("、".join(view["certifications"]) or "无"),
            reports=describe_reports(view["inspection_reports"]),
            events=render_events(view["events"]),
            tree_size=str(cp.get("tree_size", 0)),
            root_hash=html.escape(cp.get("root_hash", "")),
            signature=html.escape(cp.get("signature", "")),
            public_key=html.escape(cp.get("public_key", "")),
            signed_at=html.escape(cp.get("signed_at", "")),
            view_json=json_for_script(view),
        )

    @r.get("/trace/{batch_id}/qr.{fmt}")
    async def trace_qr(batch_id: str, fmt: str, request: Request) -> Response:
        await call(store.trace.batch_view(batch_id))  # 404 for unknown batches
        path = request.app.url_path_for("trace_page", batch_id=batch_id)
        url = public_base_url(request) + str(path)
        qr = segno.make(url, error="m")
        buf = io.BytesIO()
        if fmt == "svg":
            qr.save(buf, kind="svg", scale=6, border=2)
            return Response(buf.getvalue(), media_type="image/svg+xml")
        if fmt == "png":
            qr.save(buf, kind="png", scale=6, border=2)
            return Response(buf.getvalue(), media_type="image/png")
        raise HTTPException(404, "二维码格式只支持 png 或 svg")
