"""Orders: idempotent creation, the state machine applied to rows, expiry of unpaid orders."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from commerce import inventory, order_state, promotions
from commerce.crypto import mask_address, mask_name, mask_phone
from commerce.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PriceMismatch,
)
from commerce.events import ShopEvent, stock_events
from commerce.models import CouponRedemption, Order, OrderLine, OrderTransition, Payment, Sku
from commerce.money import yuan_str
from commerce.order_pg import DuplicateOrder, create_order_pg
from commerce.text import refuse_hidden

if TYPE_CHECKING:
    from commerce.store import Store

MAX_LINES = 20
MAX_QTY = 999
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int
    unit_price_fen: int | None = None  # the price the buyer saw; must match if given


@dataclass(frozen=True)
class OrderRequest:
    """A buyer's order: no account needed, contact details travel with the order."""

    buyer_id: str  # ignored on creation: the store keys the buyer on the phone (see create)
    buyer_name: str
    phone: str
    address: str
    items: tuple[LineRequest, ...]
    room_id: str | None = None
    persona: str | None = None
    segment: str | None = None
    coupon_code: str | None = None
    extra: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        body = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()

    def validate(self) -> None:
        if not self.items:
            raise InvalidInput("订单至少需要一件商品")
        if len(self.items) > MAX_LINES:
            raise InvalidInput(f"一个订单最多 {MAX_LINES} 种商品")
        seen = set()
        for it in self.items:
            if (
                not isinstance(it.quantity, int)
                or isinstance(it.quantity, bool)
                or it.quantity <= 0
            ):
                raise InvalidInput(f"购买数量必须是正整数：{it.sku}")
            if it.quantity > MAX_QTY:
                raise InvalidInput(f"单件商品最多购买 {MAX_QTY} 件：{it.sku}")
            if it.sku in seen:
                raise InvalidInput(f"商品重复：{it.sku}")
            seen.add(it.sku)
        if len(self.buyer_id) > 64:
            raise InvalidInput("买家编号不超过64个字符")
        if not self.buyer_name.strip() or len(self.buyer_name) > 32:
            raise InvalidInput("收货人姓名不能为空，且不超过32个字符")
        if not PHONE_RE.fullmatch(self.phone):
            raise InvalidInput("手机号格式不正确")
        if not self.address.strip() or len(self.address) > 200:
            raise InvalidInput("收货地址不能为空，且不超过200个字符")
        for text, what in ((self.buyer_name, "收货人姓名"), (self.address, "收货地址")):
            try:
                refuse_hidden(text, what)
            except ValueError as e:
                raise InvalidInput(str(e)) from None


class OrderService:
    """Creates orders and moves them through the state machine."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, req: OrderRequest, idempotency_key: str) -> tuple[dict, bool]:
        """Returns (order view, created). The same key and body return the same order."""
        if not idempotency_key or len(idempotency_key) > 128:
            raise InvalidInput("需要 Idempotency-Key 请求头（1-128个字符）")
        req.validate()
        # Purchase and coupon limits count per buyer: key the buyer on the phone number the
        # parcel needs anyway, never on an id the client makes up.
        req = replace(req, buyer_id=self.store.keys.buyer_key(req.phone))
        fp = req.fingerprint()
        fast = not self.store.db.sqlite and not req.coupon_code
        try:
            if fast:
                view, events = await create_order_pg(self.store, req, idempotency_key, fp)
            else:
                view, events = await self._create(req, idempotency_key, fp)
        except (IntegrityError, DuplicateOrder):
            # A concurrent request with the same key won the insert: return its order.
            existing = await self._by_key(idempotency_key, fp)
            if existing is None:
                raise
            return self._with_token(existing), False
        self.store.emit(events)
        return self._with_token(view), True

    def _with_token(self, view: dict) -> dict:
        """The creation answer carries the buyer's order token; no other view does."""
        return {**view, "order_token": self.store.keys.order_token(view["id"])}

    def token_matches(self, order_id: str, token: str | None) -> bool:
        """Does `token` (the X-Order-Token a buyer sends) open this order?"""
        return bool(token) and self.store.keys.order_token_matches(order_id, token)

    async def _by_key(self, key: str, fp: str) -> dict | None:
        async with self.store.db.read() as s:
            order = (
                await s.execute(select(Order).where(Order.idempotency_key == key))
            ).scalar_one_or_none()
            if order is None:
                return None
            if order.request_hash != fp:
                raise IdempotencyConflict("该 Idempotency-Key 已用于另一个不同的订单请求")
            return await self._view(s, order)

    async def _create(self, req: OrderRequest, key: str, fp: str) -> tuple[dict, list[ShopEvent]]:
        store = self.store
        now = store.clock()
        order_id = f"YL{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
        expires = now + timedelta(minutes=store.reservation_minutes)
        sealed = tuple(store.keys.encrypt(v) for v in (req.buyer_name, req.phone, req.address))
        order, lines, batches, events = await store.db.run_write(
            _place, req, key, fp, order_id, sealed, now, expires
        )
        view = render(
            order,
            (req.buyer_name, req.phone, req.address),
            [(sku.code, sku.unit, q, p, f) for sku, q, p, f in lines],
            [],
            sorted(batches),
        )
        return view, events

    async def get(self, order_id: str) -> dict:
        async with self.store.db.read() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise NotFound(f"订单不存在：{order_id}")
            return await self._view(s, order)

    async def _view(self, s: AsyncSession, order: Order, reveal: bool = False) -> dict:
        keys = self.store.keys
        pii = tuple(
            keys.decrypt(v) for v in (order.buyer_name_enc, order.phone_enc, order.address_enc)
        )
        rows = await s.execute(
            select(
                Sku.code,
                Sku.unit,
                OrderLine.quantity,
                OrderLine.unit_price_fen,
                OrderLine.flash_sale_id,
            )
            .join(Sku, Sku.id == OrderLine.sku_id)
            .where(OrderLine.order_id == order.id)
            .order_by(OrderLine.id)
        )
        pays = await s.execute(
            select(Payment).where(Payment.order_id == order.id).order_by(Payment.created_at)
        )
        return render(
            order,
            pii,
            [tuple(r) for r in rows],
            list(pays.scalars()),
            await inventory.order_batches(s, order.id),
            reveal,
        )

    async def reveal(self, order_id: str) -> dict:
        """Unmasked view for the merchant who ships the parcel."""
        async with self.store.db.read() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise NotFound(f"订单不存在：{order_id}")
            return await self._view(s, order, reveal=True)

    async def transition(self, order_id: str, name: str) -> dict:
        """Apply a named transition (ship, deliver, ...). Raises InvalidTransition (409)."""
        if name not in order_state.TRANSITIONS:
            raise InvalidInput(f"未知的订单操作：{name}")
        events: list[ShopEvent] = []
        async with self.store.db.write() as s:
            order = await lock_order(s, order_id)
            if not order_state.allowed(name, order.status):
                raise InvalidTransition(order.id, name, order.status)
            if name == "approve_refund":
                await self.store.payments.refund_in(s, order)
            events = await apply(s, order, name, self.store.clock())
        self.store.emit(events)
        return await self.get(order_id)

    async def expire_unpaid(self) -> int:
        """Cancel unpaid orders past their deadline and give their stock back."""
        now = self.store.clock()
        async with self.store.db.read() as s:
            ids = list(
                (
                    await s.execute(
                        select(Order.id)
                        .where(Order.status == order_state.UNPAID, Order.expires_at <= now)
                        .limit(500)
                    )
                ).scalars()
            )
        done = 0
        for oid in ids:
            async with self.store.db.write() as s:
                order = await lock_order(s, oid)
                if order.status != order_state.UNPAID or order.expires_at > now:
                    continue
                events = await apply(s, order, "expire", now)
            self.store.emit(events)
            done += 1
        return done


def _place(
    s: Session,
    req: OrderRequest,
    key: str,
    fp: str,
    order_id: str,
    sealed: tuple[str, str, str],
    now: datetime,
    expires: datetime,
) -> tuple[Order, list[tuple[Sku, int, int, int | None]], set[str], list[ShopEvent]]:
    """Place an order inside one write transaction (sync: see Database.run_write)."""
    events: list[ShopEvent] = []
    priced = promotions.price_lines(s, [it.sku for it in req.items], req.room_id, now)
    lines: list[tuple[Sku, int, int, int | None]] = []
    for it in req.items:
        if it.sku not in priced:
            raise InvalidInput(f"商品不存在：{it.sku}")
        sku, price, fs = priced[it.sku]
        if it.unit_price_fen is not None and it.unit_price_fen != price:
            raise PriceMismatch(f"{sku.code} 价格已变为 {yuan_str(price)} 元，请刷新后重试")
        promotions.check_purchase_limit(s, req.buyer_id, sku, it.quantity, fs)
        lines.append((sku, it.quantity, price, fs.id if fs else None))
    subtotal = sum(q * p for _, q, p, _ in lines)
    order = unpaid_order(order_id, req, subtotal, now, expires)
    order.idempotency_key, order.request_hash = key, fp
    order.buyer_name_enc, order.phone_enc, order.address_enc = sealed
    s.add(order)
    s.flush()  # a duplicate Idempotency-Key fails here, before any stock is touched
    batches: set[str] = set()
    # Lock stock rows in SKU id order so concurrent multi-line orders cannot deadlock.
    for sku, qty, price, fs_id in sorted(lines, key=lambda x: x[0].id):
        left, used = inventory.reserve(s, sku, qty, order_id, expires, now)
        batches.update(used)
        if fs_id is not None:
            promotions.claim_flash_units(s, fs_id, qty)
        s.add(
            OrderLine(
                order_id=order_id,
                sku_id=sku.id,
                quantity=qty,
                unit_price_fen=price,
                flash_sale_id=fs_id,
            )
        )
        events += stock_events(req.room_id, sku.code, left)
    if req.coupon_code:
        coupon, discount = promotions.apply_coupon(
            s,
            req.coupon_code,
            req.buyer_id,
            req.room_id,
            [(a, b, c) for a, b, c, _ in lines],
            now,
        )
        order.coupon_id, order.discount_fen = coupon.id, discount
        order.total_fen = subtotal - discount
        s.add(CouponRedemption(coupon_id=coupon.id, buyer_id=req.buyer_id, order_id=order_id))
    s.flush()
    return order, lines, batches, events


def unpaid_order(
    order_id: str, req: OrderRequest, subtotal: int, now: datetime, expires: datetime
) -> Order:
    """A new order row (not yet added to any session) as every creation path starts it."""
    return Order(
        id=order_id,
        buyer_id=req.buyer_id,
        status=order_state.UNPAID,
        subtotal_fen=subtotal,
        discount_fen=0,
        total_fen=subtotal,
        room_id=req.room_id,
        persona=req.persona,
        segment=req.segment,
        created_at=now,
        expires_at=expires,
        updated_at=now,
        cancel_reason=None,
    )


def render(
    order: Order,
    pii: tuple[str, str, str],
    lines: list[tuple],
    payments: list[Payment],
    batches: list[str],
    reveal: bool = False,
) -> dict:
    """The JSON view of an order; contact details are masked unless `reveal`."""
    name, phone, address = pii
    return {
        "id": order.id,
        "status": order.status,
        "buyer": {
            "id": order.buyer_id,
            "name": name if reveal else mask_name(name),
            "phone": phone if reveal else mask_phone(phone),
            "address": address if reveal else mask_address(address),
        },
        "items": [
            {
                "sku": code,
                "unit": unit,
                "quantity": qty,
                "unit_price": yuan_str(price),
                "amount": yuan_str(price * qty),
                "flash_sale_id": fs_id,
            }
            for code, unit, qty, price, fs_id in lines
        ],
        "subtotal": yuan_str(order.subtotal_fen),
        "discount": yuan_str(order.discount_fen),
        "total": yuan_str(order.total_fen),
        "total_fen": order.total_fen,
        "attribution": {
            "room_id": order.room_id,
            "persona": order.persona,
            "segment": order.segment,
        },
        "created_at": order.created_at.isoformat(),
        "pay_deadline": order.expires_at.isoformat(),
        "cancel_reason": order.cancel_reason,
        "payments": [
            {"id": p.id, "status": p.status, "amount": yuan_str(p.amount_fen)} for p in payments
        ],
        "batches": batches,
    }


async def lock_order(s: AsyncSession, order_id: str) -> Order:
    order = (
        await s.execute(select(Order).where(Order.id == order_id).with_for_update())
    ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"订单不存在：{order_id}")
    return order


async def apply(s: AsyncSession, order: Order, name: str, now: datetime) -> list[ShopEvent]:
    """Check and apply one transition with its stock side effects, inside the caller's transaction."""
    if not order_state.allowed(name, order.status):
        raise InvalidTransition(order.id, name, order.status)
    before = order.status
    after = order_state.target(name, before, order.pre_refund_status)
    events: list[ShopEvent] = []
    if name in ("cancel", "expire"):
        await inventory.release(s, order.id)
        lines = (
            await s.execute(
                select(OrderLine, Sku.code)
                .join(Sku, Sku.id == OrderLine.sku_id)
                .where(OrderLine.order_id == order.id)
            )
        ).all()
        for line, _code in lines:
            if line.flash_sale_id is not None:
                await promotions.release_flash_units(s, line.flash_sale_id, line.quantity)
        if order.coupon_id is not None:
            await promotions.release_coupon(s, order.id, order.coupon_id)
        order.cancel_reason = "expired" if name == "expire" else "cancelled"
        for line, code in lines:
            avail = await inventory.sku_available(s, line.sku_id, now)
            events += stock_events(order.room_id, code, avail)
    elif name == "ship":
        await inventory.ship(s, order.id)
    elif name == "request_refund":
        order.pre_refund_status = before
    elif name == "approve_refund" and order.pre_refund_status == order_state.PAID:
        await inventory.deallocate(s, order.id)
    order.status = after
    order.updated_at = now
    s.add(
        OrderTransition(order_id=order.id, name=name, from_status=before, to_status=after, at=now)
    )
    return events
