"""Editing a product a merchant sells: price, crossed-out price, title, unit, features, promo.

Every edit is validated here (not only by the web layer), returns what it changed as
before/after for the audit log, and tells live rooms at once with a `product_changed` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from commerce import catalog
from commerce.errors import InvalidInput
from commerce.events import shop_event
from commerce.models import Product, Sku
from commerce.money import to_fen, yuan_str

if TYPE_CHECKING:
    from commerce.store import Store

EDITABLE = ("price", "list_price", "title", "unit", "features", "promo", "cost")
PRIVATE = ("cost",)  # never in a room's event: viewers and the host must not see it
MAX_TITLE = 128
MAX_UNIT = 16
MAX_FEATURES = 20
MAX_FEATURE = 64
MAX_PROMO = 256


def _text(value: Any, what: str, most: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what}必须是文字")
    value = value.strip()
    if not value and not allow_empty:
        raise InvalidInput(f"{what}不能为空")
    if len(value) > most:
        raise InvalidInput(f"{what}不能超过{most}个字符")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(f"{what}不能含控制字符")
    return value


def _money(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidInput(f"{what}格式不正确")
    fen = to_fen(value)  # InvalidInput beyond two decimals, below 0 or above the cap
    if fen <= 0:
        raise InvalidInput(f"{what}必须大于0")
    return fen


def normalize(changes: dict[str, Any]) -> dict[str, Any]:
    """Validated changes in storage form (money in fen). Unknown fields are refused."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(f"不能修改的字段：{', '.join(unknown)[:100]}")
    if not changes:
        raise InvalidInput("没有要修改的字段")
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "price":
            out[key] = _money(value, "价格")
        elif key == "list_price":
            out[key] = None if value is None else _money(value, "划线价")
        elif key == "cost":  # the unit cost: staff only, for the price advisor's margin
            out[key] = None if value is None else _money(value, "成本")
        elif key == "title":
            out[key] = _text(value, "标题", MAX_TITLE)
        elif key == "unit":
            out[key] = _text(value, "单位", MAX_UNIT)
        elif key == "features":
            if not isinstance(value, list) or len(value) > MAX_FEATURES:
                raise InvalidInput(f"卖点必须是不超过{MAX_FEATURES}条的列表")
            out[key] = [_text(v, "卖点", MAX_FEATURE) for v in value]
        else:  # promo: null or "" clears it
            text = None if value is None else _text(value, "促销文案", MAX_PROMO, allow_empty=True)
            out[key] = text or None
    return out


def _state(sku: Sku, product: Product) -> dict[str, Any]:
    """The editable fields as stored."""
    return {
        "price": sku.price_fen,
        "list_price": sku.list_price_fen,
        "title": product.title,
        "unit": sku.unit,
        "features": list(product.features),
        "promo": product.promo,
        "cost": sku.cost_fen,
    }


def _shown(key: str, value: Any) -> Any:
    """A field as the API and the audit log show it (money as yuan strings)."""
    if key in ("price", "list_price", "cost") and value is not None:
        return yuan_str(value)
    return value


async def apply_changes(session: AsyncSession, code: str, changes: dict[str, Any]) -> dict:
    """Apply validated changes to one SKU and its product; returns {"before", "after"} of the
    fields whose value actually changed."""
    sku = await catalog.sku_by_code(session, code)
    product = await session.get(Product, sku.product_id)
    now = _state(sku, product)
    new = now | changes
    if new["list_price"] is not None and new["list_price"] <= new["price"]:
        raise InvalidInput("划线价必须高于售价（或设为 null 去掉划线价）")
    changed = [k for k in EDITABLE if new[k] != now[k]]
    sku.price_fen, sku.list_price_fen, sku.unit = new["price"], new["list_price"], new["unit"]
    sku.cost_fen = new["cost"]
    product.title, product.promo = new["title"], new["promo"]
    product.features = list(new["features"])
    await session.flush()
    return {
        "before": {k: _shown(k, now[k]) for k in changed},
        "after": {k: _shown(k, new[k]) for k in changed},
    }


async def update_product(store: Store, code: str, changes: dict[str, Any]) -> dict:
    """Validate, apply and announce an edit: {"sku", "before", "after"} of what changed."""
    clean = normalize(changes)
    async with store.db.write() as s:
        diff = await apply_changes(s, code, clean)
    fields = sorted(k for k in diff["after"] if k not in PRIVATE)
    if fields:
        # the new values travel with the event: a viewer page updates its card from it alone
        data = {"fields": fields, **{k: diff["after"][k] for k in fields}}
        store.emit([shop_event("product_changed", None, code, data)])
    return {"sku": code, **diff}
