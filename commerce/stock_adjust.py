"""Setting a SKU's sellable stock to a count the farmer counted (盘点): more units are added to
the batch that expires last, fewer are taken from the batches that expire last first, never
below what is sold or held for unpaid orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from commerce import catalog, inventory
from commerce.audit import make_row
from commerce.errors import InvalidInput
from commerce.events import stock_events
from commerce.models import Batch, Stock

if TYPE_CHECKING:
    from commerce.store import Store

MAX_STOCK = 10_000_000


def check_target(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        raise InvalidInput(f"库存必须是 0 到 {MAX_STOCK} 的整数")
    return value


async def set_stock(store: Store, code: str, target: int, by: str) -> dict:
    """Make `code`'s available units equal `target`; returns {"sku", "before", "after"}."""
    target = check_target(target)
    now = store.clock()
    async with store.db.write() as s:
        sku = await catalog.sku_by_code(s, code)
        before = await inventory.sku_available(s, sku.id, now)
        delta = target - before
        rows = (
            (
                await s.execute(
                    select(Stock)
                    .join(Batch, Batch.id == Stock.batch_id)
                    .where(Stock.sku_id == sku.id, Batch.expiry_date >= now.date())
                    .order_by(Batch.expiry_date.desc(), Batch.id.desc())
                    .with_for_update(of=Stock)
                )
            )
            .scalars()
            .all()
        )
        if delta and not rows:
            raise InvalidInput(f"{code} 没有在保质期内的批次，请先添加批次")
        if delta > 0:
            rows[0].quantity += delta
        elif delta < 0:
            need = -delta
            for st in rows:
                free = max(0, st.quantity - st.allocated - st.reserved)
                take = min(free, need)
                st.quantity -= take
                need -= take
                if not need:
                    break
            if need:
                raise InvalidInput(f"{code} 的库存不能低于已售出和待支付锁定的数量")
        await s.flush()
        after = await inventory.sku_available(s, sku.id, now)
        if delta:
            s.add(
                make_row(
                    now, by, "product.stock", code, before={"stock": before}, after={"stock": after}
                )
            )
    if delta:
        store.emit(stock_events(None, code, after))
    return {"sku": code, "before": before, "after": after}
