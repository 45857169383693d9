"""ORM tables of the shop. Money is integer fen; timestamps are naive UTC."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base for every commerce table."""


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Product(Base):
    """A product (SPU): what the farmer grows; sold as one or more SKUs."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    origin: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    features: Mapped[list] = mapped_column(JSON, default=list)
    taste: Mapped[str] = mapped_column(String(256), default="")
    nutrition: Mapped[str] = mapped_column(String(256), default="")
    storage: Mapped[str] = mapped_column(String(256), default="")
    shipping: Mapped[str] = mapped_column(String(256), default="")
    promo: Mapped[str | None] = mapped_column(String(256))
    certifications: Mapped[list] = mapped_column(JSON, default=list)
    tags: Mapped[list] = mapped_column(JSON, default=list)  # e.g. ["有机", "地理标志"]


class Media(Base):
    __tablename__ = "media"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | video
    url: Mapped[str] = mapped_column(String(512))
    caption: Mapped[str] = mapped_column(String(256), default="")


class Sku(Base):
    __tablename__ = "skus"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    spec: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(16))
    price_fen: Mapped[int] = mapped_column(Integer)
    list_price_fen: Mapped[int | None] = mapped_column(Integer)
    # what a unit costs the shop (goods, packing): staff only, read by the price advisor
    cost_fen: Mapped[int | None] = mapped_column(Integer)
    per_user_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Warehouse(Base):
    __tablename__ = "warehouses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))


class Batch(Base):
    """A harvest lot: where and when a set of boxes came from."""

    __tablename__ = "batches"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    harvest_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date] = mapped_column(Date)
    origin_plot: Mapped[str] = mapped_column(String(128))
    certifications: Mapped[list] = mapped_column(JSON, default=list)
    inspection_reports: Mapped[list] = mapped_column(JSON, default=list)


class Stock(Base):
    """Units of one SKU from one batch in one warehouse."""

    __tablename__ = "stocks"
    __table_args__ = (UniqueConstraint("sku_id", "warehouse_id", "batch_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    # Sum of this stock's reservation rows, lapsed or not; kept with every insert and delete.
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Reservation(Base):
    """Stock held for an unpaid order until expires_at."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_stock_expires", "stock_id", "expires_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("stocks.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class Allocation(Base):
    """Stock committed to a paid order."""

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("stocks.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_expires", "status", "expires_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    buyer_id: Mapped[str] = mapped_column(String(64), index=True)
    buyer_name_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str] = mapped_column(Text)
    address_enc: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))
    pre_refund_status: Mapped[str | None] = mapped_column(String(24))
    subtotal_fen: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(Integer)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    room_id: Mapped[str | None] = mapped_column(String(64), index=True)
    persona: Mapped[str | None] = mapped_column(String(64))
    segment: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(64))


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    flash_sale_id: Mapped[int | None] = mapped_column(ForeignKey("flash_sales.id"))


class OrderTransition(Base):
    """Audit trail of every state change."""

    __tablename__ = "order_transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    name: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime)


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending|succeeded|failed|refunded
    provider_version: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebhookEvent(Base):
    """Provider event ids already processed: the duplicate filter."""

    __tablename__ = "webhook_events"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(40), index=True)
    type: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime)


class RoomPin(Base):
    __tablename__ = "room_pins"
    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    pinned_at: Mapped[datetime] = mapped_column(DateTime)


class FlashSale(Base):
    __tablename__ = "flash_sales"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    price_fen: Mapped[int] = mapped_column(Integer)
    cap: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    per_user_limit: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    announced: Mapped[int] = mapped_column(Integer, default=0)  # 0 none, 1 started, 2 ended


class Coupon(Base):
    __tablename__ = "coupons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    room_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # fixed | percent
    value: Mapped[int] = mapped_column(Integer)  # fen off, or percent off
    min_spend_fen: Mapped[int] = mapped_column(Integer, default=0)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    total_limit: Mapped[int | None] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)


class CouponAudience(Base):
    """The buyers a targeted coupon is for (a CRM segment); a coupon without rows is for all."""

    __tablename__ = "coupon_audience"
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class CouponRedemption(Base):
    __tablename__ = "coupon_redemptions"
    __table_args__ = (Index("ix_coupon_redemptions_coupon_buyer", "coupon_id", "buyer_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    buyer_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)


class TraceEvent(Base):
    """One leaf of the append-only trace log; idx is the RFC 6962 leaf index."""

    __tablename__ = "trace_events"
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON of the whole record
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    mac: Mapped[bytes] = mapped_column(LargeBinary(32))


class TraceCheckpoint(Base):
    """A signed tree head."""

    __tablename__ = "trace_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime] = mapped_column(DateTime)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class TraceHead(Base):
    """Single row: current log size and the compact range of perfect subtree roots."""

    __tablename__ = "trace_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[list] = mapped_column(JSON, default=list)  # hex subtree roots, largest first


class Ticket(Base):
    """A customer-service ticket opened from a live room (complaint, question, refund)."""

    __tablename__ = "cs_tickets"
    __table_args__ = (
        Index("ix_cs_tickets_status_created", "status", "created_at"),
        Index("ix_cs_tickets_room_user_status", "room_id", "user_id", "status"),
    )
    # Insertion order: breaks ties between tickets opened in the same clock tick.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(16), unique=True)  # public: "cs-" + 12 hex
    room_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    nickname: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16))  # complaint | question | refund | other
    text: Mapped[str] = mapped_column(String(500))
    product_sku: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(8))  # open | closed
    created_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    # the ticket desk (0016): who handles it, and when it was first answered (its SLA)
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime)


# -- analytics rollups (commerce/analytics): additive measures kept as orders change ----------


class AnOrder(Base):
    """What one order has contributed to the rollups so far (the rollup's change log)."""

    __tablename__ = "an_orders"
    __table_args__ = (
        Index("ix_an_orders_day", "day"),
        Index("ix_an_orders_room_day", "room_id", "day"),
        Index("ix_an_orders_buyer", "buyer_id"),
        Index("ix_an_orders_day_amount", "day", "placed_fen"),  # the order cloud's bins
    )
    order_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)  # China (UTC+8) calendar day of creation
    room_id: Mapped[str] = mapped_column(String(64), default="")
    persona: Mapped[str] = mapped_column(String(64), default="")
    segment: Mapped[str] = mapped_column(String(64), default="")
    province: Mapped[str] = mapped_column(String(16), default="")
    city: Mapped[str] = mapped_column(String(32), default="")
    placed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AnDaySku(Base):
    __tablename__ = "an_day_sku"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sku_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[int] = mapped_column(Integer, default=0)
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_orders: Mapped[int] = mapped_column(Integer, default=0)
    paid_units: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AnDayRegion(Base):
    __tablename__ = "an_day_region"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    province: Mapped[str] = mapped_column(String(16), primary_key=True)
    city: Mapped[str] = mapped_column(String(32), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_orders: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AnDayRoom(Base):
    """Per day, room and persona: the funnel (views, visitors, clicks) and the sales."""

    __tablename__ = "an_day_room"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    persona: Mapped[str] = mapped_column(String(64), primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    uv: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_orders: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AnCustomer(Base):
    """One buyer's paid history in RFM terms."""

    __tablename__ = "an_customers"
    __table_args__ = (
        Index("ix_an_customers_last_day", "last_day"),
        Index("ix_an_customers_orders", "orders"),
        Index("ix_an_customers_paid", "paid_fen"),
    )
    buyer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    province: Mapped[str] = mapped_column(String(16), default="")
    city: Mapped[str] = mapped_column(String(32), default="")
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AnPair(Base):
    """Paid baskets holding both SKUs (sku_a < sku_b): the counts behind association rules."""

    __tablename__ = "an_pairs"
    sku_a: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_b: Mapped[int] = mapped_column(Integer, primary_key=True)
    baskets: Mapped[int] = mapped_column(Integer, default=0)


class AnState(Base):
    """Key/value bookkeeping: the rollups' orders.updated_at watermark, and the schedule's
    runs stopped by hand (`schedule_skip:<slot id>` → the run's start)."""

    __tablename__ = "an_state"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))


class ShopRoom(Base):
    """A room a shop has run or scheduled. Its owner decides who may act on the room and its
    promotions, whether or not it is live; an id, once a shop's, stays that shop's."""

    __tablename__ = "shop_rooms"
    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(60), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_live_at: Mapped[datetime | None] = mapped_column(DateTime)


class User(Base):
    """A staff account: admin, operator (one shop), customer service or ops. Only the argon2
    hash of the password is kept."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    shop_id: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class UserSession(Base):
    """A browser login. The key is the SHA-256 of the session id; the id itself is not kept."""

    __tablename__ = "user_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")


class ApiToken(Base):
    """A script's credential with a scope (a role); kept as the SHA-256 of the token."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Failed logins of one key ("user:NAME" or "ip:ADDR") in the current window."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)


class AuditLog(Base):
    """操作日志: one change, who made it, from where, before and after. Append-only: database
    triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor", "actor", "id"),
        Index("ix_audit_log_action", "action", "id"),
        Index("ix_audit_log_target", "target", "id"),
        Index("ix_audit_log_at", "at"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    before: Mapped[dict | list | None] = mapped_column(JSON)
    after: Mapped[dict | list | None] = mapped_column(JSON)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")


class PushSeen(Base):
    """A platform push message id already heard. Kept for the push freshness window (and
    pruned past it) so an exact replay is refused even after a restart."""

    __tablename__ = "push_seen"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    seen_ms: Mapped[int] = mapped_column(BigInteger, index=True)  # unix ms, first seen


class DanmakuLabel(Base):
    """An operator's correction of how a stored comment (a ticket's text) was understood."""

    __tablename__ = "danmaku_labels"
    __table_args__ = (Index("ix_danmaku_labels_ticket", "ticket_id"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(500))
    sentiment: Mapped[str] = mapped_column(String(8))  # pos | neu | neg
    intent: Mapped[str] = mapped_column(String(16))  # one of the analyser's 7 intents
    by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class OpsAlert(Base):
    """An ops alert (web/alerts.py): when it fired and resolved, and how its webhook went.
    Names rooms and workers only, never buyers."""

    __tablename__ = "ops_alerts"
    __table_args__ = (Index("ix_ops_alerts_fired", "fired_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(96))  # "room demo", "worker 1", "machine"
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(500))
    fired_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # webhook attempts, both messages
    delivered: Mapped[int] = mapped_column(Integer, default=0)  # webhook messages delivered
    last_error: Mapped[str | None] = mapped_column(String(200))


class RoomSlot(Base):
    """A daily slot of a room's 7×24 schedule: from `start_min` to `end_min` (minutes of the
    local day; an end at or before the start runs past midnight) the room is live with this
    persona, product lineup and RTMP outputs (stream keys encrypted)."""

    __tablename__ = "room_schedule"
    __table_args__ = (Index("ix_room_schedule_shop_room", "shop_id", "room_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(64))
    room_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(60), default="")
    persona: Mapped[str] = mapped_column(String(32))
    start_min: Mapped[int] = mapped_column(Integer)  # 0..1439
    end_min: Mapped[int] = mapped_column(Integer)  # 1..1440
    lineup: Mapped[list] = mapped_column(JSON, default=list)  # SKUs in order
    outputs: Mapped[list] = mapped_column(JSON, default=list)  # [{name, url, key (sealed)}]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # the room's frame when this slot starts it: "720p" (1280×720) or "480p" (854×480, 省流)
    resolution: Mapped[str] = mapped_column(String(8), default="720p", server_default="720p")


class TicketReply(Base):
    """A customer-service reply to a ticket; `delivered`: it reached the viewer's chat."""

    __tablename__ = "cs_ticket_replies"
    __table_args__ = (Index("ix_cs_ticket_replies_ticket", "ticket_id", "seq"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)


class RoomSession(Base):
    """One live session of a room (场次): from the room going live to it stopping. A session
    whose server died has `ended_at` set when the recorder next starts."""

    __tablename__ = "room_sessions"
    __table_args__ = (Index("ix_room_sessions_shop_started", "shop_id", "started_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64), index=True)
    shop_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(60), default="")
    persona: Mapped[str] = mapped_column(String(64), default="")
    bucket_s: Mapped[int] = mapped_column(Integer, default=60)  # seconds a row covers
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class RoomSessionMinute(Base):
    """One minute of a session: audience, chat, mood and sales, with what was on air."""

    __tablename__ = "room_session_minutes"
    session_id: Mapped[str] = mapped_column(ForeignKey("room_sessions.id"), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)  # the minute's start, naive UTC
    viewers: Mapped[int] = mapped_column(Integer, default=0)  # online at the minute's end
    peak: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    leaves: Mapped[int] = mapped_column(Integer, default=0)
    watch_s: Mapped[int] = mapped_column(Integer, default=0)  # viewer-seconds watched
    danmaku: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    mood: Mapped[float] = mapped_column(Float, default=0.0)
    mood_label: Mapped[str] = mapped_column(String(16), default="calm")
    orders: Mapped[int] = mapped_column(Integer, default=0)
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    persona: Mapped[str] = mapped_column(String(64), default="")  # the host on air
    sku: Mapped[str | None] = mapped_column(String(64))  # the script segment's product
    product: Mapped[str] = mapped_column(String(60), default="")


class RoomLease(Base):
    """Which node runs a room (`streamer.leases`): renewed by its holder, taken over by
    another node once `expires_at` (the database's clock) has passed. `epoch` grows on
    every takeover, so a node that lost a room can tell."""

    __tablename__ = "room_leases"
    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    config: Mapped[dict] = mapped_column(JSON)  # the room's RoomConfig as plain data
    resume: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # Director.position
    renewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoomOutput(Base):
    """An RTMP output a room's staff added through the API or panel (a platform, a CDN):
    pushed again whenever the room goes live, until it is removed. The stream key is sealed
    (AES-GCM, commerce/crypto.py), never stored in clear."""

    __tablename__ = "room_outputs"
    __table_args__ = (Index("ix_room_outputs_room", "room_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the output's id
    room_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64), default="")
    url: Mapped[str] = mapped_column(String(512))
    key: Mapped[str] = mapped_column(String(1024))  # sealed stream key
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
