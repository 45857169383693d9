"""Payments: a provider interface, a simulated provider, and exactly-once webhook handling."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from commerce import inventory, order_state
from commerce.crypto import mask_name
from commerce.errors import BadSignature, CommerceError, InvalidInput, NotFound
from commerce.events import OrderPaid, ShopEvent
from commerce.models import Order, OrderLine, Payment, Sku, WebhookEvent
from commerce.money import yuan_str
from commerce.orders import apply, lock_order

if TYPE_CHECKING:
    from commerce.store import Store

# Provider-side order of a payment's life; an event older than what we applied is ignored.
SEQUENCE = {"payment.failed": 1, "payment.succeeded": 2, "payment.refunded": 3}
SIGNATURE_TOLERANCE_S = 300
MAX_WEBHOOK_BYTES = 16384
EVENT_FIELD_CHARS = {"id": 64, "type": 32, "payment_id": 40}  # the webhook_events columns


class PaymentProvider(Protocol):
    """What a payment provider (WeChat Pay, Alipay, the simulator) must offer the shop."""

    name: str

    def checkout_url(self, payment_id: str) -> str: ...

    def verify(self, body: bytes, signature: str) -> dict: ...

    def refund(self, payment_id: str, amount_fen: int) -> None: ...


class SimulatedProvider:
    """Behaves like a real provider: a cashier step, then HMAC-signed webhooks that carry a
    stable event id (retries repeat it) and may be delivered twice or out of order."""

    name = "sim"

    def __init__(self, secret: bytes, clock=time.time) -> None:
        self._secret = secret
        self._clock = clock
        self.refunds: list[tuple[str, int]] = []

    def checkout_url(self, payment_id: str) -> str:
        return f"/api/shop/payments/{payment_id}/cashier"

    def event(
        self, payment_id: str, order_id: str, kind: str, amount_fen: int
    ) -> tuple[bytes, str]:
        """A signed webhook: (body, value of the X-Sim-Signature header)."""
        evt = {
            "id": "evt_" + hashlib.sha256(f"{payment_id}:{kind}".encode()).hexdigest()[:24],
            "type": kind,
            "created": int(self._clock()),
            "data": {"payment_id": payment_id, "order_id": order_id, "amount_fen": amount_fen},
        }
        body = json.dumps(evt, separators=(",", ":")).encode()
        return body, self.sign(body)

    def sign(self, body: bytes, ts: int | None = None) -> str:
        ts = int(self._clock()) if ts is None else ts
        mac = hmac.new(self._secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={ts},v1={mac}"

    def verify(self, body: bytes, signature: str) -> dict:
        try:
            parts = dict(p.split("=", 1) for p in signature.split(","))
            ts = int(parts["t"])
            given = parts["v1"]
        except (ValueError, KeyError):
            raise BadSignature("签名格式不正确") from None
        if abs(self._clock() - ts) > SIGNATURE_TOLERANCE_S:
            raise BadSignature("签名已过期")
        want = hmac.new(self._secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, given):
            raise BadSignature("签名校验失败")
        try:
            evt = json.loads(body)
            data = evt["data"]
            out = {"id": evt["id"], "type": evt["type"], **data}
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("回调内容格式不正确") from None
        return check_event(out)

    def refund(self, payment_id: str, amount_fen: int) -> None:
        self.refunds.append((payment_id, amount_fen))


class PaymentService:
    """Starts payments, applies provider webhooks exactly once, refunds."""

    def __init__(self, store: Store, provider: SimulatedProvider) -> None:
        self.store = store
        self.provider = provider

    async def start(self, order_id: str) -> dict:
        """Create (or reuse) the pending payment of an unpaid order; returns the cashier URL."""
        now = self.store.clock()
        async with self.store.db.write() as s:
            order = await lock_order(s, order_id)
            if order.status != order_state.UNPAID:
                raise_transition(order, "pay")
            pay = (
                await s.execute(
                    select(Payment).where(Payment.order_id == order_id, Payment.status == "pending")
                )
            ).scalar_one_or_none()
            if pay is None:
                pay = Payment(
                    id="pay_" + secrets.token_hex(10),
                    order_id=order_id,
                    provider=self.provider.name,
                    amount_fen=order.total_fen,
                    status="pending",
                    provider_version=0,
                    created_at=now,
                )
                s.add(pay)
        return self._json(pay)

    def _json(self, pay: Payment) -> dict:
        return {
            "payment_id": pay.id,
            "order_id": pay.order_id,
            "amount": yuan_str(pay.amount_fen),
            "status": pay.status,
            "provider": pay.provider,
            "redirect_url": self.provider.checkout_url(pay.id),
            "confirm_url": f"/api/shop/payments/{pay.id}/confirm",
        }

    async def get(self, payment_id: str) -> dict:
        async with self.store.db.read() as s:
            pay = await s.get(Payment, payment_id)
            if pay is None:
                raise NotFound(f"支付单不存在：{payment_id}")
            return self._json(pay)

    async def confirm(self, payment_id: str) -> dict:
        """The buyer approves at the simulated cashier: the provider sends its webhook, and,
        as real providers do, sends it again."""
        async with self.store.db.read() as s:
            row = await s.get(Payment, payment_id)
            if row is None:
                raise NotFound(f"支付单不存在：{payment_id}")
            order_id, amount = row.order_id, row.amount_fen
        body, sig = self.provider.event(payment_id, order_id, "payment.succeeded", amount)
        first = await self.handle_webhook(body, sig)
        await self.handle_webhook(body, self.provider.sign(body))
        return {**await self.get(payment_id), "applied": first["applied"]}

    async def handle_webhook(self, body: bytes, signature: str) -> dict:
        """Verify and apply one webhook. Returns {"applied": bool, "duplicate": bool}."""
        if len(body) > MAX_WEBHOOK_BYTES:
            raise InvalidInput("回调内容过大")
        evt = self.provider.verify(body, signature)
        if evt["type"] not in SEQUENCE:
            return {"applied": False, "duplicate": False, "ignored": evt["type"]}
        check_event(evt, ("id", "type", "payment_id"))
        now = self.store.clock()
        events: list[ShopEvent] = []
        try:
            async with self.store.db.write() as s:
                if await s.get(WebhookEvent, evt["id"]) is not None:
                    return {"applied": False, "duplicate": True}
                s.add(
                    WebhookEvent(
                        id=evt["id"],
                        payment_id=str(evt.get("payment_id")),
                        type=evt["type"],
                        received_at=now,
                    )
                )
                pay = (
                    await s.execute(
                        select(Payment).where(Payment.id == evt.get("payment_id")).with_for_update()
                    )
                ).scalar_one_or_none()
                if pay is None:
                    raise NotFound("回调对应的支付单不存在")
                if evt.get("amount_fen") != pay.amount_fen:
                    raise InvalidInput("回调金额与支付单不一致")
                seq = SEQUENCE[evt["type"]]
                if seq <= pay.provider_version:
                    return {"applied": False, "duplicate": False, "stale": True}
                pay.provider_version = seq
                if evt["type"] == "payment.failed":
                    pay.status = "failed"
                elif evt["type"] == "payment.refunded":
                    was, pay.status, pay.refunded_at = pay.status, "refunded", now
                    if was == "succeeded":
                        await self._refunded_by_provider(s, pay, now)
                else:
                    events = await self._succeeded(s, pay, now)
        except IntegrityError:
            return {"applied": False, "duplicate": True}  # same event id raced in another worker
        self.store.emit(events)
        return {"applied": True, "duplicate": False}

    async def _succeeded(self, s, pay: Payment, now) -> list[ShopEvent]:
        pay.status, pay.succeeded_at = "succeeded", now
        order = await lock_order(s, pay.order_id)
        if order.status != order_state.UNPAID:
            # Paid twice, or paid after cancellation: money goes back, the order is untouched.
            self._refund(pay, now, f"order already {order.status}")
            return []
        if not await inventory.allocate(s, order.id, now):
            self._refund(pay, now, "stock no longer available")
            return await apply(s, order, "expire", now)
        await apply(s, order, "pay", now)
        name = mask_name(self.store.keys.decrypt(order.buyer_name_enc))
        rows = await s.execute(
            select(OrderLine.quantity, Sku.code, Sku.unit)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .where(OrderLine.order_id == order.id)
        )
        # Every viewer of the room receives this: a masked surname and the quantity only,
        # never the order id (a key to the order) or contact details.
        return [OrderPaid(order.room_id, code, name, qty, unit) for qty, code, unit in rows]

    async def _refunded_by_provider(self, s, pay: Payment, now) -> None:
        """A refund made at the provider (e.g. from its merchant console) refunds the order."""
        order = await lock_order(s, pay.order_id)
        if order_state.allowed("request_refund", order.status):
            await apply(s, order, "request_refund", now)
        if order_state.allowed("approve_refund", order.status):
            await apply(s, order, "approve_refund", now)

    def _refund(self, pay: Payment, now, note: str) -> None:
        self.provider.refund(pay.id, pay.amount_fen)
        pay.status, pay.refunded_at, pay.note = "refunded", now, note

    async def refund_in(self, s, order: Order) -> None:
        """Refund the order's captured payment (inside the approve_refund transaction)."""
        pay = (
            await s.execute(
                select(Payment)
                .where(Payment.order_id == order.id, Payment.status == "succeeded")
                .with_for_update()
            )
        ).scalar_one_or_none()
        if pay is None:
            raise CommerceError("该订单没有可退款的支付")
        self._refund(pay, self.store.clock(), "refund approved")
        pay.provider_version = SEQUENCE["payment.refunded"]


def check_event(evt: dict, fields: tuple[str, ...] = ("id", "type")) -> dict:
    """A signed event is still input: ids must be short strings and the amount an integer."""
    for k in fields:
        v, most = evt.get(k), EVENT_FIELD_CHARS[k]
        if not isinstance(v, str) or not 0 < len(v) <= most:
            raise InvalidInput(f"回调字段 {k} 必须是1-{most}个字符的字符串")
    if "payment_id" not in fields:
        return evt
    if "order_id" in evt and not isinstance(evt["order_id"], str):
        raise InvalidInput("回调字段 order_id 必须是字符串")
    amount = evt.get("amount_fen")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount < 2**31:
        raise InvalidInput("回调字段 amount_fen 必须是非负整数（分）")
    return evt


def raise_transition(order: Order, name: str) -> None:
    from commerce.errors import InvalidTransition

    raise InvalidTransition(order.id, name, order.status)
