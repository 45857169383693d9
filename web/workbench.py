"""农户工作台 (the farmer's workbench): home figures, products, orders, and the buyer's order
page. Pages are rendered on the server with Jinja2; their buttons call the JSON routes in
`web.workbench_api` (and the shop's own API), with the session's CSRF token.

Who may open what is decided in `web.security.POLICY` like every route; a signed-out visitor
of a workbench page is sent to the login page.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from commerce import Store, order_state
from commerce.analytics.reports import parse_range
from commerce.errors import CommerceError
from commerce.order_list import OrderFilter, count_by_status, filter_choices, list_orders
from web import order_pdf
from web.pages import render
from web.security import SHOP_ID, principal

STATUS_ZH = {
    order_state.UNPAID: "待支付",
    order_state.PAID: "待发货",
    order_state.SHIPPED: "已发货",
    order_state.DELIVERED: "已签收",
    order_state.COMPLETED: "已完成",
    order_state.CANCELLED: "已取消",
    order_state.REFUND_REQUESTED: "退款申请中",
    order_state.REFUNDED: "已退款",
}
EDITORS = ("admin", "operator")  # change products
SHIPPERS = ("admin", "operator", "cs")  # ship orders, decide refunds
LOW_STOCK = 20
MAX_PRINT = 100  # orders in one PDF
ORDER_ID = re.compile(r"[A-Za-z0-9]{1,32}")


async def login_redirect(request: Request, exc: StarletteHTTPException) -> Response:
    """A signed-out browser on a workbench page goes to the login page; every other refusal
    (and a script's, which does not ask for HTML) is the usual JSON answer."""
    path = request.url.path
    browser = "text/html" in request.headers.get("accept", "")
    if (
        exc.status_code == 401
        and browser
        and request.method == "GET"
        and path.startswith("/workbench")
    ):
        target = path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return await http_exception_handler(request, exc)


def _day(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise HTTPException(422, f"{what}格式不正确，应为 2026-12-06") from None


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 6:
        raise HTTPException(422, "页码和每页数量必须是正整数")
    return int(value)


def _filter(q: Any, default_status: str | None = None) -> OrderFilter:
    """The orders list's filter from a page's query string."""
    return OrderFilter(
        status=q.get("status") or default_status,
        day_from=_day(q.get("from"), "开始日期"),
        day_to=_day(q.get("to"), "结束日期"),
        room_id=q.get("room") or None,
        sku=q.get("sku") or None,
        province=q.get("province") or None,
    )


def build_router(store: Store, engine: Any, analytics: Any) -> APIRouter:
    """The workbench pages. `analytics` is the dashboard's `Analytics` (fresh rollups)."""
    r = APIRouter()

    def who(request: Request) -> dict:
        p = principal(request)
        return {
            "username": p.username,
            "role": p.role,
            "can_edit": p.role in EDITORS,
            "can_ship": p.role in SHIPPERS,
        }

    async def call(coro):
        try:
            return await coro
        except CommerceError as e:
            raise HTTPException(e.status, e.reason) from None

    @r.get("/workbench", include_in_schema=False)
    async def home(request: Request):
        today = analytics.today()
        kpis = await analytics.report("kpis", parse_range(None, None, today, 1))
        rooms = [
            x for x in engine.list_rooms() if engine.room_shop(x["room_id"]) in (SHOP_ID, None)
        ]
        counts = await count_by_status(store, order_state.PAID, order_state.REFUND_REQUESTED)
        stock = await analytics.stock()
        low = [i for i in stock["items"] if i.get("warn")]
        figures = {
            "gmv": kpis.get("gmv", 0),
            "paid_orders": kpis.get("paid_orders", 0),
            "rooms": len(rooms),
            "viewers": sum(x.get("viewers", 0) for x in rooms),
            "to_ship": counts[order_state.PAID],
            "refunds": counts[order_state.REFUND_REQUESTED],
            "tickets": await store.tickets.count_open(),
            "stock_warnings": len(low) + len(stock.get("near_expiry", [])),
        }
        return render(
            "workbench/home.html",
            me=who(request),
            nav="home",
            today=today.isoformat(),
            f=figures,
            rooms=rooms,
            low=low[:5],
        )

    @r.get("/workbench/products", include_in_schema=False)
    async def products(request: Request):
        facts = await store.fact_sheets()
        rows = [
            {
                "sku": f.sku,
                "name": f.name,
                "title": f.title,
                "price": str(f.price),
                "list_price": str(f.list_price) if f.list_price is not None else "",
                "unit": f.unit,
                "stock": f.stock,
                "status": "已售罄"
                if f.stock <= 0
                else "库存紧张"
                if f.stock < LOW_STOCK
                else "在售",
                "near_expiry": f.near_expiry,
            }
            for f in facts
        ]
        return render("workbench/products.html", me=who(request), nav="products", rows=rows)

    @r.get("/workbench/products/new", include_in_schema=False)
    async def new_product(request: Request):
        return render(
            "workbench/product_form.html",
            me=who(request),
            nav="products",
            p=None,
            detail={"batches": [], "media": []},
            today=analytics.today().isoformat(),
        )

    @r.get("/workbench/products/bulk", include_in_schema=False)
    async def bulk(request: Request):
        facts = await store.fact_sheets()
        return render("workbench/bulk.html", me=who(request), nav="products", rows=facts)

    @r.get("/workbench/products/{sku}", include_in_schema=False)
    async def edit_product(sku: str, request: Request):
        f = await store.fact_sheet(sku)
        if f is None:
            raise HTTPException(404, f"商品不存在：{sku[:64]}")
        detail = await call(store.product_detail(sku))
        return render(
            "workbench/product_form.html",
            me=who(request),
            nav="products",
            p=f,
            detail=detail,
            today=analytics.today().isoformat(),
        )

    @r.get("/workbench/orders", include_in_schema=False)
    async def orders(request: Request):
        q = request.query_params
        f = _filter(q)
        page = await call(list_orders(store, f, _int(q.get("page"), 1), _int(q.get("size"), 20)))
        base = {
            k: v
            for k, v in q.items()
            if k in ("status", "from", "to", "room", "sku", "province", "size") and v
        }
        return render(
            "workbench/orders.html",
            me=who(request),
            nav="orders",
            page=page,
            q=base,
            statuses=STATUS_ZH,
            choices=await filter_choices(store),
        )

    @r.get("/workbench/orders/print", include_in_schema=False)
    async def print_orders(request: Request):
        """拣货单 and 面单 of up to 100 orders of the list (by default those to ship), with
        the full contact details a parcel needs; printing is recorded in the audit log."""
        q = request.query_params
        f = _filter(q, default_status=order_state.PAID)
        page = await call(list_orders(store, f, _int(q.get("page"), 1), 100))
        orders = [await call(store.orders.reveal(o["id"])) for o in page["orders"]]
        picks: dict[tuple[str, str], int] = {}
        for o in orders:
            for it in o["items"]:
                picks[(it["sku"], it["unit"])] = (
                    picks.get((it["sku"], it["unit"]), 0) + it["quantity"]
                )
        names = {f.sku: f.title for f in await store.fact_sheets()}
        p = principal(request)
        await store.audit.record(
            p.username, "order.print", "", role=p.role or "", after={"orders": len(orders)}
        )
        return render(
            "workbench/print.html",
            orders=orders,
            picks=sorted(picks.items()),
            names=names,
            page=page,
        )

    @r.get("/workbench/orders/print.pdf", include_in_schema=False)
    async def print_pdf(request: Request):
        """拣货单 and 面单 as a PDF: the orders ticked on the orders page (`ids`, comma
        separated, at most 100), or up to 100 orders of the list's filter (by default those
        to ship). Recorded in the audit log like the printable page."""
        q = request.query_params
        ids_arg = q.get("ids", "")
        if ids_arg:
            ids = [x for x in ids_arg.split(",") if x]
            if len(ids) > MAX_PRINT or len(ids_arg) > MAX_PRINT * 40:
                raise HTTPException(422, f"一次最多打印 {MAX_PRINT} 单")
            if any(not ORDER_ID.fullmatch(x) for x in ids):
                raise HTTPException(422, "订单号格式不正确")
            ids = list(dict.fromkeys(ids))
            note = f"所选 {len(ids)} 单"
        else:
            f = _filter(q, default_status=order_state.PAID)
            page = await call(list_orders(store, f, _int(q.get("page"), 1), MAX_PRINT))
            ids = [o["id"] for o in page["orders"]]
            note = f"筛选：{STATUS_ZH.get(f.status or '', '全部')}，第 {page['page']} / {page['pages']} 页"
        orders = [await call(store.orders.reveal(i)) for i in ids]
        names = {f.sku: f.title for f in await store.fact_sheets()}
        try:
            data = await asyncio.to_thread(
                order_pdf.build_pdf,
                orders,
                names,
                title_note=note,
                printed_at=analytics.today().isoformat(),
            )
        except order_pdf.FontMissing as e:
            raise HTTPException(503, str(e)) from None
        p = principal(request)
        await store.audit.record(
            p.username,
            "order.print",
            "pdf",
            role=p.role or "",
            after={"orders": len(orders), "ids": ids[:MAX_PRINT]},
        )
        return Response(
            data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": 'inline; filename="picking-list.pdf"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @r.get("/orders/{order_id}", include_in_schema=False)
    async def buyer_order(order_id: str):
        # the shell only: the page reads the order with the buyer's token (kept in the URL's
        # #fragment or this browser's storage), so no token reaches a server log
        return render("workbench/buyer_order.html", order_id=order_id[:40], statuses=STATUS_ZH)

    return r
