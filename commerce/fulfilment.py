"""Fulfilment: shipping an order with a courier and tracking number (one at a time or from a
CSV of 订单号,快递公司,运单号), and deciding a refund request with a reason.

Each change moves the order through the state machine (`orders.apply`), keeps its record
(shipment, refund decision) and appends an audit row, all in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from commerce import order_state
from commerce.audit import make_row
from commerce.errors import CommerceError, InvalidInput, NotFound
from commerce.events import ShopEvent
from commerce.models import Base
from commerce.orders import apply, lock_order
from commerce.text import hidden_chars

if TYPE_CHECKING:
    from commerce.store import Store

MAX_COURIER = 32
TRACKING = re.compile(r"[A-Za-z0-9-]{6,40}")
ORDER_ID = re.compile(r"[A-Za-z0-9]{1,32}")
MAX_REASON = 200
MAX_CSV_BYTES = 512 * 1024
MAX_CSV_ROWS = 5000
CSV_HEADER = ("订单号", "快递公司", "运单号")


class Shipment(Base):
    """How a shipped order travels: the courier and its tracking number."""

    __tablename__ = "shipments"
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    courier: Mapped[str] = mapped_column(String(MAX_COURIER))
    tracking_no: Mapped[str] = mapped_column(String(40))
    shipped_at: Mapped[datetime] = mapped_column(DateTime)
    shipped_by: Mapped[str] = mapped_column(String(64))


class RefundDecision(Base):
    """A refund request approved or refused, and the reason the buyer is shown."""

    __tablename__ = "refund_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    approved: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(MAX_REASON))
    at: Mapped[datetime] = mapped_column(DateTime)
    by: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class ShipLine:
    """One line of a shipping CSV that was not shipped, with its 1-based line number."""

    line: int
    order_id: str
    reason: str


@dataclass(frozen=True)
class BulkShipResult:
    shipped: list[str]
    errors: list[ShipLine]


def clean_courier(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput("请填写快递公司")
    if len(text) > MAX_COURIER:
        raise InvalidInput(f"快递公司不能超过{MAX_COURIER}个字符")
    if hidden_chars(text):
        raise InvalidInput("快递公司不能含控制字符或不可见字符")
    return text


def clean_tracking(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not TRACKING.fullmatch(text):
        raise InvalidInput("运单号应为 6 到 40 位字母、数字或连字符")
    return text


def clean_reason(value: object, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput("请填写原因")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"原因不能超过{MAX_REASON}个字符")
    if hidden_chars(text):
        raise InvalidInput("原因不能含控制字符或不可见字符")
    return text


def _order_id(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not ORDER_ID.fullmatch(text):
        raise NotFound(f"订单不存在：{text[:40]}")
    return text


class Fulfilment:
    """Shipping and refund decisions over the store's orders."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def ship(self, order_id: str, courier: str, tracking_no: str, by: str) -> dict:
        """Ship a paid order: state `shipped`, its shipment kept, one audit row."""
        oid = _order_id(order_id)
        courier, tracking_no = clean_courier(courier), clean_tracking(tracking_no)
        now = self.store.clock()
        async with self.store.db.write() as s:
            order = await lock_order(s, oid)
            events = await apply(s, order, "ship", now)
            s.add(
                Shipment(
                    order_id=oid,
                    courier=courier,
                    tracking_no=tracking_no,
                    shipped_at=now,
                    shipped_by=by[:64],
                )
            )
            s.add(
                make_row(
                    now,
                    by,
                    "order.ship",
                    oid,
                    before={"status": order_state.PAID},
                    after={
                        "status": order_state.SHIPPED,
                        "courier": courier,
                        "tracking_no": tracking_no,
                    },
                )
            )
        self.store.emit(events)
        return {"order_id": oid, "courier": courier, "tracking_no": tracking_no}

    async def ship_csv(self, data: bytes, by: str) -> BulkShipResult:
        """Ship every line of a CSV (订单号,快递公司,运单号; a header line is optional). Each
        line ships on its own: a bad line is reported with its line number and the rest ship."""
        if len(data) > MAX_CSV_BYTES:
            raise InvalidInput(f"CSV 文件不能超过 {MAX_CSV_BYTES // 1024} KB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # Excel on a Chinese Windows saves GBK
            except UnicodeDecodeError:
                raise InvalidInput("CSV 文件编码无法识别（请用 UTF-8 或 GBK）") from None
        rows = list(_numbered_rows(text))
        if len(rows) > MAX_CSV_ROWS:
            raise InvalidInput(f"一次最多导入 {MAX_CSV_ROWS} 行")
        shipped: list[str] = []
        errors: list[ShipLine] = []
        seen: set[str] = set()
        for line, cells in rows:
            if line == 1 and tuple(c.strip() for c in cells[:3]) == CSV_HEADER:
                continue
            oid = cells[0].strip()[:40] if cells else ""
            if len(cells) != 3:
                errors.append(ShipLine(line, oid, "每行应有 3 列：订单号,快递公司,运单号"))
                continue
            if oid in seen:
                errors.append(ShipLine(line, oid, "订单号在文件中重复"))
                continue
            seen.add(oid)
            try:
                await self.ship(oid, cells[1], cells[2], by)
            except CommerceError as e:
                errors.append(ShipLine(line, oid, e.reason))
            else:
                shipped.append(oid)
        return BulkShipResult(shipped, errors)

    async def decide_refund(self, order_id: str, approve: bool, reason: str, by: str) -> dict:
        """Approve (money back through the payment provider) or refuse a refund request. A
        refusal needs a reason; the buyer's order page shows it."""
        oid = _order_id(order_id)
        reason = clean_reason(reason, required=not approve)
        name = "approve_refund" if approve else "reject_refund"
        now = self.store.clock()
        events: list[ShopEvent] = []
        async with self.store.db.write() as s:
            order = await lock_order(s, oid)
            before = order.status
            if approve and order_state.allowed(name, order.status):
                await self.store.payments.refund_in(s, order)
            events = await apply(s, order, name, now)
            s.add(RefundDecision(order_id=oid, approved=approve, reason=reason, at=now, by=by[:64]))
            s.add(
                make_row(
                    now,
                    by,
                    f"order.{name}",
                    oid,
                    before={"status": before},
                    after={"status": order.status, "reason": reason},
                )
            )
            after = order.status
        self.store.emit(events)
        return {"order_id": oid, "status": after, "reason": reason}

    async def tracking(self, order_id: str) -> dict:
        """What the buyer's order page shows beyond the order: shipment and refund decision."""
        oid = _order_id(order_id)
        async with self.store.db.read() as s:
            ship = await s.get(Shipment, oid)
            decision = (
                await s.execute(
                    select(RefundDecision)
                    .where(RefundDecision.order_id == oid)
                    .order_by(RefundDecision.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return {
            "shipment": None
            if ship is None
            else {
                "courier": ship.courier,
                "tracking_no": ship.tracking_no,
                "shipped_at": ship.shipped_at.isoformat(),
            },
            "refund_decision": None
            if decision is None
            else {
                "approved": decision.approved,
                "reason": decision.reason,
                "at": decision.at.isoformat(),
            },
        }


def _numbered_rows(text: str):
    """(line number, cells) of each non-empty CSV row; the number is the row's first line."""
    reader = csv.reader(io.StringIO(text))
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as e:
        raise InvalidInput(f"CSV 第 {reader.line_num} 行格式不正确：{e}") from None
