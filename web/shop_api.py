"""REST endpoints of the shop under /api/shop, and the public trace page under /trace."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from commerce import Store
from commerce.api_models import (
    BatchIn,
    CouponIn,
    FlashSaleIn,
    MediaIn,
    OrderIn,
    PinIn,
    ProductIn,
    ProductPatchIn,
    TraceEventIn,
    _In,
    facts_json,
)
from commerce.catalog import MAX_NEAR_EXPIRY_DAYS
from commerce.errors import CommerceError, InvalidInput, ProductSoldOut
from commerce.facts import ProductFacts
from commerce.money import to_fen
from commerce.order_state import PUBLIC_TRANSITIONS
from commerce.orders import LineRequest, OrderRequest
from web.openapi_bodies import json_body
from web.security import principal, serves_this_shop
from web.shop_pages import add_page_routes
from web.shop_rooms_api import add_room_routes

MAX_BODY = 64 * 1024
MAX_TRACE_INDEX = 2**53 - 1  # trace log positions: far past any log, within a BIGINT
PERCENT = re.compile(r"[0-9]{1,3}")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes without reading it all."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"请求体过大（上限 {limit // 1024} KB）")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"请求体过大（上限 {limit // 1024} KB）")
    return bytes(body)


async def read_json(request: Request, model: type[_In]) -> Any:
    """Read at most MAX_BODY bytes (413 beyond) and validate, with a one-line reason on 422."""
    body = await read_body(request)
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        raise HTTPException(422, f"请求格式不正确：{where}：{err.get('msg')}") from None


ORDER_STAFF = ("admin", "operator", "cs")  # who may act on any buyer's order


def is_order_staff(request: Request) -> bool:
    """Signed-in staff who handle this shop's orders (the permission layer found the caller):
    the role is not enough, the caller's shop must be this one."""
    who = principal(request)
    return who.role in ORDER_STAFF and serves_this_shop(who)


def _fen(value: str | float, what: str) -> int:
    try:
        return to_fen(value)
    except InvalidInput:
        raise HTTPException(422, f"{what}格式不正确：{value!r}") from None


def build_router(store: Store) -> APIRouter:
    """All shop endpoints; mount with `app.include_router(build_router(store))`."""
    r = APIRouter()

    async def call(coro):
        try:
            return await coro
        except ProductSoldOut as e:
            raise HTTPException(409, e.reason) from None
        except CommerceError as e:
            raise HTTPException(e.status, e.reason) from None

    def owner_or_staff(request: Request, order_id: str, order_token: str | None) -> None:
        """The buyer holding the order's token (X-Order-Token), or staff, reaches an order.
        A wrong or missing token answers the same for every id: no oracle for order ids."""
        if store.orders.token_matches(order_id, order_token) or is_order_staff(request):
            return
        if principal(request).role in ORDER_STAFF:  # another shop's staff
            raise HTTPException(403, "只能处理本店铺的订单 (not your shop's data)")
        if order_token:
            raise HTTPException(403, "订单凭证无效")
        raise HTTPException(401, "需要订单凭证（X-Order-Token 请求头）")

    # -- catalog -------------------------------------------------------------------------------
    @r.get("/api/shop/products")
    async def products(room_id: str | None = None) -> list[dict]:
        return [facts_json(f) for f in await store.fact_sheets(room_id)]

    @r.get("/api/shop/products/{sku}")
    async def product(sku: str, room_id: str | None = None) -> dict:
        f = await store.fact_sheet(sku, room_id)
        if f is None:
            raise HTTPException(404, f"商品不存在：{sku}")
        return facts_json(f)

    @r.post("/api/shop/products", status_code=201, openapi_extra=json_body(ProductIn))
    async def create_product(request: Request):
        b: ProductIn = await read_json(request, ProductIn)
        facts = ProductFacts(
            sku=b.sku,
            name=b.name,
            title=b.title,
            price=Decimal(_fen(b.price, "价格")) / 100,
            unit=b.unit,
            stock=sum(x.quantity for x in b.batches),
            origin=b.origin,
            harvest_date=min(x.harvest_date for x in b.batches),
            category=b.category,
            certifications=tuple(b.certifications),
            features=tuple(b.features),
            taste=b.taste,
            nutrition=b.nutrition,
            storage=b.storage,
            promo=b.promo,
            list_price=Decimal(_fen(b.list_price, "划线价")) / 100 if b.list_price else None,
            tags=tuple(b.tags),
        )
        if facts.price <= 0:
            raise HTTPException(422, "价格必须大于0")
        await call(
            store.add_product(facts, [x.spec() for x in b.batches], per_user_limit=b.per_user_limit)
        )
        return facts_json(await store.fact_sheet(b.sku))

    @r.patch("/api/shop/products/{sku}", openapi_extra=json_body(ProductPatchIn))
    async def edit_product(sku: str, request: Request) -> dict:
        b: ProductPatchIn = await read_json(request, ProductPatchIn)
        diff = await call(store.update_product(sku, b.changes()))
        request.state.audit_before, request.state.audit_after = diff["before"], diff["after"]
        return {**diff, "product": facts_json(await store.fact_sheet(sku))}

    @r.get("/api/shop/products/{sku}/detail")
    async def product_detail(sku: str) -> dict:
        return await call(store.product_detail(sku))

    @r.post("/api/shop/products/{sku}/batches", status_code=201, openapi_extra=json_body(BatchIn))
    async def add_batch(sku: str, request: Request):
        b: BatchIn = await read_json(request, BatchIn)
        await call(store.add_batch(sku, b.spec()))
        return await call(store.product_detail(sku))

    @r.post("/api/shop/products/{sku}/media", status_code=201, openapi_extra=json_body(MediaIn))
    async def add_media(sku: str, request: Request):
        b: MediaIn = await read_json(request, MediaIn)
        return await call(store.add_media(sku, b.kind, b.url, b.caption))

    @r.get("/api/shop/near-expiry")
    async def near_expiry(days: int = Query(14, ge=0, le=MAX_NEAR_EXPIRY_DAYS)) -> list[dict]:
        return await call(store.near_expiry(days))

    # -- orders --------------------------------------------------------------------------------
    @r.post("/api/shop/orders", status_code=201, openapi_extra=json_body(OrderIn))
    async def create_order(
        request: Request,
        idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
    ):
        body: OrderIn = await read_json(request, OrderIn)
        if not idempotency_key:
            raise HTTPException(400, "缺少 Idempotency-Key 请求头")
        items = tuple(
            LineRequest(
                i.sku, i.quantity, _fen(i.unit_price, "单价") if i.unit_price is not None else None
            )
            for i in body.items
        )
        req = OrderRequest(
            buyer_id=body.buyer.id or "",
            buyer_name=body.buyer.name,
            phone=body.buyer.phone,
            address=body.buyer.address,
            items=items,
            room_id=body.room_id,
            persona=body.persona,
            segment=body.segment,
            coupon_code=body.coupon,
        )
        order, created = await call(store.orders.create(req, idempotency_key))
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return JSONResponse(order, status_code=201 if created else 200, headers=headers)

    @r.get("/api/shop/orders/{order_id}")
    async def get_order(
        order_id: str,
        request: Request,
        x_order_token: str | None = Header(default=None),
    ) -> dict:
        owner_or_staff(request, order_id, x_order_token)
        return await call(store.orders.get(order_id))

    @r.post("/api/shop/orders/{order_id}/payments", status_code=201)
    async def start_payment(
        order_id: str,
        request: Request,
        x_order_token: str | None = Header(default=None),
    ) -> dict:
        owner_or_staff(request, order_id, x_order_token)
        return await call(store.payments.start(order_id))

    @r.post("/api/shop/orders/{order_id}/{transition}")
    async def transition(
        order_id: str,
        transition: str,
        request: Request,
        x_order_token: str | None = Header(default=None),
    ) -> dict:
        if transition not in PUBLIC_TRANSITIONS:
            raise HTTPException(404, f"未知的订单操作：{transition}")
        if transition in ("cancel", "request_refund"):
            owner_or_staff(request, order_id, x_order_token)
        elif not is_order_staff(request):
            who = principal(request)
            if who.role in ORDER_STAFF:  # another shop's staff
                raise HTTPException(403, "只能处理本店铺的订单 (not your shop's data)")
            status = 403 if who.staff or x_order_token else 401
            raise HTTPException(status, "发货、退款等操作需要商家或客服登录")
        return await call(store.orders.transition(order_id, transition))

    # -- payments ------------------------------------------------------------------------------
    @r.get("/api/shop/payments/{payment_id}")
    async def get_payment(payment_id: str) -> dict:
        return await call(store.payments.get(payment_id))

    @r.post("/api/shop/payments/{payment_id}/confirm")
    async def confirm(payment_id: str) -> dict:
        pay = await call(store.payments.confirm(payment_id))
        return {**pay, "order": await call(store.orders.get(pay["order_id"]))}

    @r.post("/api/shop/payments/webhook", openapi_extra=json_body(None))
    async def webhook(request: Request, x_sim_signature: str = Header(default="")) -> dict:
        body = await read_body(request, 16 * 1024)
        return await call(store.payments.handle_webhook(body, x_sim_signature))

    # -- live-room promotions ------------------------------------------------------------------
    @r.get("/api/shop/rooms/{room_id}/promotions")
    async def room_promotions(room_id: str) -> dict:
        return await store.promotions.room_state(room_id)

    @r.get("/api/shop/rooms/{room_id}/sales")
    async def room_sales(room_id: str) -> dict:
        return await store.room_sales(room_id)

    @r.get("/api/shop/rooms/{room_id}/products")
    async def room_products(room_id: str) -> list[dict]:
        return [facts_json(f) for f in await store.fact_sheets(room_id)]

    @r.post("/api/shop/rooms/{room_id}/pin", openapi_extra=json_body(PinIn))
    async def pin(room_id: str, request: Request):
        body: PinIn = await read_json(request, PinIn)
        return await call(store.promotions.pin(room_id, body.sku))

    @r.post(
        "/api/shop/rooms/{room_id}/flash-sales",
        status_code=201,
        openapi_extra=json_body(FlashSaleIn),
    )
    async def flash_sale(room_id: str, request: Request):
        b: FlashSaleIn = await read_json(request, FlashSaleIn)
        return await call(
            store.promotions.start_flash_sale(
                room_id,
                b.sku,
                _fen(b.price, "秒杀价"),
                b.quantity,
                starts_at=_naive(b.starts_at),
                ends_at=_naive(b.ends_at),
                duration_s=b.duration_s,
                per_user_limit=b.per_user_limit,
            )
        )

    @r.post("/api/shop/rooms/{room_id}/coupons", status_code=201, openapi_extra=json_body(CouponIn))
    async def coupon(room_id: str, request: Request):
        b: CouponIn = await read_json(request, CouponIn)
        if b.kind == "percent":
            # int() would also take " 5", "1_0" and "٥": only plain digits are a percentage
            if isinstance(b.value, bool) or not PERCENT.fullmatch(str(b.value)):
                raise HTTPException(422, "折扣百分比必须是 1 到 99 的整数")
            value = int(str(b.value))
        else:
            value = _fen(b.value, "优惠金额")
        from datetime import timedelta

        ends = store.clock() + timedelta(seconds=b.duration_s) if b.duration_s else None
        return await call(
            store.promotions.issue_coupon(
                room_id,
                b.code,
                b.kind,
                value,
                min_spend_fen=_fen(b.min_spend, "使用门槛"),
                per_user_limit=b.per_user_limit,
                total_limit=b.total_limit,
                sku=b.sku,
                ends_at=ends,
            )
        )

    # -- traceability --------------------------------------------------------------------------
    @r.get("/api/shop/trace/checkpoint")
    async def checkpoint() -> dict:
        cp = await store.trace.latest_checkpoint()
        if cp is None:
            raise HTTPException(404, "溯源日志为空")
        return cp

    @r.get("/api/shop/trace/batches/{batch_id}")
    async def trace_batch(batch_id: str) -> dict:
        return await call(store.trace.batch_view(batch_id))

    @r.post(
        "/api/shop/trace/batches/{batch_id}/events",
        status_code=201,
        openapi_extra=json_body(TraceEventIn),
    )
    async def trace_append(batch_id: str, request: Request):
        b: TraceEventIn = await read_json(request, TraceEventIn)
        at = _naive(b.occurred_at) or store.clock()
        [idx] = await call(store.trace.append([(batch_id, b.kind, at, b.details)]))
        return await call(store.trace.inclusion(idx))

    @r.get("/api/shop/trace/proofs/inclusion")
    async def inclusion(
        index: int = Query(ge=0, le=MAX_TRACE_INDEX),
        tree_size: int | None = Query(default=None, ge=1, le=MAX_TRACE_INDEX),
    ) -> dict:
        return await call(store.trace.inclusion(index, tree_size))

    @r.get("/api/shop/trace/proofs/consistency")
    async def consistency(
        first: int = Query(ge=1, le=MAX_TRACE_INDEX), second: int = Query(ge=1, le=MAX_TRACE_INDEX)
    ) -> dict:
        return await call(store.trace.consistency(first, second))

    add_page_routes(r, store, call)
    add_room_routes(r, store)
    return r


def _naive(dt: datetime | None) -> datetime | None:
    """Store times as naive UTC."""
    if dt is None or dt.tzinfo is None:
        return dt
    from datetime import UTC

    try:
        return dt.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is past the last representable time
        raise HTTPException(422, "时间超出范围") from None
