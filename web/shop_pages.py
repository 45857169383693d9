"""The shop's public pages (simulated cashier, trace page, QR code), rendered with Jinja2:
the base URL a QR code may encode, JSON in a page."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import segno
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from commerce import Store
from web.pages import render
from web.urls import public_base

log = logging.getLogger(__name__)

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


def add_page_routes(r: APIRouter, store: Store, call: Callable) -> None:
    """The public pages: the simulated cashier, the trace page and its QR code."""

    @r.get("/api/shop/payments/{payment_id}/cashier", response_class=HTMLResponse)
    async def cashier(payment_id: str):
        pay = await call(store.payments.get(payment_id))
        return render(
            "shop_cashier.html",
            private=False,
            payment_id=pay["payment_id"],
            order_id=pay["order_id"],
            amount=pay["amount"],
            status=pay["status"],
            confirm_url=Markup(json_for_script(pay["confirm_url"])),
        )

    @r.get("/trace/{batch_id}", response_class=HTMLResponse)
    async def trace_page(batch_id: str, request: Request):
        from commerce.trace.page import render_page

        view = await call(store.trace.batch_view(batch_id))
        # public: no Cache-Control: no-store; the view is escaped for a <script> element
        return HTMLResponse(render_page(view, Markup(json_for_script(view))))

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
