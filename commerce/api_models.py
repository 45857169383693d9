"""Request bodies of the shop's REST API, and the JSON shape of a fact sheet."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from commerce.catalog import BatchSpec
from commerce.facts import ProductFacts
from commerce.money import PLAIN_DECIMAL
from commerce.orders import MAX_QTY
from commerce.text import refuse_hidden

# Every integer a request carries has a range that fits a 32-bit database column, so an
# absurd number is a 422 with a reason, never an overflow deep in the database driver.
MAX_UNITS = 10_000_000  # units of one SKU: a batch, a flash sale's cap, a coupon's uses

# A name, an address, a title: printed on labels and shown on screens, so no control or
# invisible characters (NUL, ESC, U+202E …).
Text = Annotated[str, AfterValidator(refuse_hidden)]


def _plain_amount(value: Any) -> Any:
    """Money as sent, before the model strips whitespace: text must be a plain decimal."""
    if isinstance(value, bool):
        raise ValueError("金额不能是 true/false")
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value):
        raise ValueError("金额必须是普通的十进制数字，例如 29.90")
    return value


def _quantity(n: int) -> int:
    if not 1 <= n <= MAX_QTY:
        raise ValueError(f"购买数量必须是 1 到 {MAX_QTY} 的整数")
    return n


# Yuan: "29.90" or 29.9. Not "1e5", "NaN", "Infinity", " 1" or "1_0" (Decimal takes them all).
Amount = Annotated[str | float | int, BeforeValidator(_plain_amount)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BuyerIn(_In):
    # Accepted for old clients and ignored: the shop keys a buyer on the phone number.
    id: str | None = Field(default=None, max_length=64)
    name: Text = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=5, max_length=20)
    address: Text = Field(min_length=1, max_length=200)


class ItemIn(_In):
    sku: str = Field(min_length=1, max_length=64)
    quantity: Annotated[StrictInt, AfterValidator(_quantity)] = Field(
        json_schema_extra={"minimum": 1, "maximum": MAX_QTY}
    )
    unit_price: Amount | None = None  # yuan, as the buyer saw it


class OrderIn(_In):
    buyer: BuyerIn
    items: list[ItemIn] = Field(min_length=1, max_length=20)
    room_id: str | None = Field(default=None, max_length=64)
    persona: str | None = Field(default=None, max_length=64)
    segment: str | None = Field(default=None, max_length=64)
    coupon: str | None = Field(default=None, max_length=32)


class PinIn(_In):
    sku: str = Field(min_length=1, max_length=64)


class FlashSaleIn(_In):
    sku: str = Field(min_length=1, max_length=64)
    price: Amount
    quantity: StrictInt = Field(ge=1, le=MAX_UNITS)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration_s: float | None = Field(default=None, gt=0, le=7 * 86400)
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=MAX_UNITS)


class CouponIn(_In):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    kind: str
    value: Amount  # yuan off for fixed, percent off for percent
    min_spend: Amount = 0
    per_user_limit: StrictInt = Field(default=1, ge=1, le=MAX_UNITS)
    total_limit: StrictInt | None = Field(default=None, ge=1, le=MAX_UNITS)
    sku: str | None = Field(default=None, max_length=64)
    duration_s: float | None = Field(default=None, gt=0, le=90 * 86400)


class TraceEventIn(_In):
    kind: str
    occurred_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def facts_json(f: ProductFacts) -> dict:
    return {
        "sku": f.sku,
        "name": f.name,
        "title": f.title,
        "price": str(f.price),
        "list_price": str(f.list_price) if f.list_price is not None else None,
        "unit": f.unit,
        "stock": f.stock,
        "sold_out": f.sold_out,
        "origin": f.origin,
        "harvest_date": f.harvest_date.isoformat(),
        "category": f.category,
        "certifications": list(f.certifications),
        "tags": list(f.tags),
        "features": list(f.features),
        "taste": f.taste,
        "nutrition": f.nutrition,
        "storage": f.storage,
        "shipping": f.shipping,
        "promo": f.promo,
        "batch_id": f.batch_id,
        "near_expiry": f.near_expiry,
        "trace_url": f"/trace/{f.batch_id}" if f.batch_id else None,
    }


class BatchIn(_In):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    harvest_date: date
    quantity: StrictInt = Field(ge=1, le=MAX_UNITS)
    origin_plot: Text = Field(min_length=1, max_length=128)
    expiry_date: date | None = None
    certifications: list[str] = Field(default_factory=list, max_length=10)
    inspection_reports: list[dict[str, Any]] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _expiry_after_harvest(self) -> BatchIn:
        if self.expiry_date is not None and self.expiry_date <= self.harvest_date:
            raise ValueError(f"批次 {self.id} 的保质期必须晚于采收日期")
        return self

    def spec(self) -> BatchSpec:
        return BatchSpec(
            id=self.id,
            harvest_date=self.harvest_date,
            quantity=self.quantity,
            origin_plot=self.origin_plot,
            expiry_date=self.expiry_date,
            certifications=tuple(self.certifications),
            inspection_reports=tuple(self.inspection_reports),
        )


class ProductIn(_In):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: Text = Field(min_length=1, max_length=64)
    title: Text = Field(min_length=1, max_length=128)
    price: Annotated[str | float, BeforeValidator(_plain_amount)]
    list_price: Annotated[str | float, BeforeValidator(_plain_amount)] | None = None
    unit: Text = Field(min_length=1, max_length=16)
    origin: Text = Field(min_length=1, max_length=128)
    category: Text = Field(default="", max_length=64)
    certifications: list[Annotated[str, Field(max_length=64), AfterValidator(refuse_hidden)]] = (
        Field(default_factory=list, max_length=10)
    )
    tags: list[Annotated[str, Field(max_length=32), AfterValidator(refuse_hidden)]] = Field(
        default_factory=list, max_length=20
    )
    features: list[Annotated[str, Field(max_length=64), AfterValidator(refuse_hidden)]] = Field(
        default_factory=list, max_length=20
    )
    taste: Text = Field(default="", max_length=256)
    nutrition: Text = Field(default="", max_length=256)
    storage: Text = Field(default="", max_length=256)
    promo: Text | None = Field(default=None, max_length=256)
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=MAX_UNITS)
    batches: list[BatchIn] = Field(min_length=1, max_length=20)


class ProductPatchIn(_In):
    """PATCH /api/shop/products/{sku}: only the fields sent change; null clears list_price
    and promo. Lengths are checked here and again, with the money rules, in the domain."""

    price: Annotated[StrictStr | StrictFloat | StrictInt, BeforeValidator(_plain_amount)] | None = (
        None  # true is not a price
    )
    list_price: (
        Annotated[StrictStr | StrictFloat | StrictInt, BeforeValidator(_plain_amount)] | None
    ) = None
    title: Text | None = Field(default=None, min_length=1, max_length=128)
    unit: Text | None = Field(default=None, min_length=1, max_length=16)
    features: list[Text] | None = Field(default=None, max_length=20)  # 卖点: 64 chars each
    promo: Text | None = Field(default=None, max_length=256)

    def changes(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.model_fields_set}


class MediaIn(_In):
    kind: str = Field(pattern=r"^(image|video)$")
    url: str = Field(min_length=1, max_length=512)
    caption: str = Field(default="", max_length=256)
