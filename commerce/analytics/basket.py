"""What sells together and when: association rules over paid baskets, seasonal lineup order.

For SKUs A and B over N paid baskets (orders kept, not refunded):
support(A→B) = n(A∧B)/N, confidence(A→B) = n(A∧B)/n(A), lift(A→B) = confidence / (n(B)/N).
Lift above 1 means buying A makes B more likely than it is on its own. Every count is over the
same kept baskets: N from the customers' kept orders, n(A) from the rollup's (A, A) row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commerce.analytics.calendar import china_day
from commerce.models import AnCustomer, AnDaySku, AnPair, Product, Sku

if TYPE_CHECKING:
    from commerce.store import Store


@dataclass(frozen=True)
class Rule:
    antecedent: str
    consequent: str
    antecedent_name: str
    consequent_name: str
    baskets: int
    support: float
    confidence: float
    lift: float

    def to_json(self) -> dict:
        return asdict(self)


def rules_from_counts(
    n: int, single: dict[str, int], pairs: dict[tuple[str, str], int], names: dict[str, str]
) -> list[Rule]:
    """Both directions of every pair, strongest lift first."""
    out = []
    if n <= 0:
        return out
    for (a, b), ab in pairs.items():
        for x, y in ((a, b), (b, a)):
            nx, ny = single.get(x, 0), single.get(y, 0)
            if not nx or not ny or not ab:
                continue
            conf = ab / nx
            out.append(
                Rule(
                    x,
                    y,
                    names.get(x, x),
                    names.get(y, y),
                    ab,
                    round(ab / n, 4),
                    round(conf, 4),
                    round(conf / (ny / n), 3),
                )
            )
    out.sort(key=lambda r: (-r.lift, -r.confidence))
    return out


async def _counts(s: AsyncSession):
    names = {
        c: nm
        for c, nm in await s.execute(
            select(Sku.code, Product.name).join(Product, Product.id == Sku.product_id)
        )
    }
    n = int((await s.execute(select(func.coalesce(func.sum(AnCustomer.orders), 0)))).scalar_one())
    ids = {i: c for i, c in await s.execute(select(Sku.id, Sku.code))}
    single: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    for a, b, k in await s.execute(select(AnPair.sku_a, AnPair.sku_b, AnPair.baskets)):
        if a not in ids or b not in ids or k <= 0:
            continue
        if a == b:
            single[ids[a]] = int(k)
        else:
            pairs[(ids[a], ids[b])] = int(k)
    return n, single, pairs, names


async def rules(s: AsyncSession, min_lift: float = 1.0, top: int = 30) -> list[Rule]:
    n, single, pairs, names = await _counts(s)
    return [r for r in rules_from_counts(n, single, pairs, names) if r.lift >= min_lift][:top]


async def also_bought(store: Store, sku: str, k: int = 4) -> list[dict]:
    """What buyers of `sku` also bought, by confidence then lift; [] for an unknown SKU."""
    async with store.db.read() as s:
        n, single, pairs, names = await _counts(s)
    rel = [r for r in rules_from_counts(n, single, pairs, names) if r.antecedent == sku]
    rel.sort(key=lambda r: (-r.confidence, -r.lift))
    return [
        {"sku": r.consequent, "name": r.consequent_name, "confidence": r.confidence, "lift": r.lift}
        for r in rel[: max(0, k)]
    ]


async def seasonal_index(s: AsyncSession, month: int) -> dict[str, float]:
    """Per SKU: its average daily units in `month` over its average daily units overall."""
    rows = await s.execute(
        select(Sku.code, AnDaySku.day, AnDaySku.paid_units).join(Sku, Sku.id == AnDaySku.sku_id)
    )
    tot: dict[str, list[float]] = {}
    days_all: dict[str, set] = {}
    for code, d, u in rows:
        t = tot.setdefault(code, [0.0, 0.0])
        days_all.setdefault(code, set()).add(d)
        t[0] += u
        if d.month == month:
            t[1] += u
    out = {}
    for code, (all_u, m_u) in tot.items():
        days = days_all[code]
        n_all, n_m = len(days), sum(1 for d in days if d.month == month)
        out[code] = round((m_u / n_m) / (all_u / n_all), 3) if n_m and all_u else 0.0
    return out


async def recommended_lineup(store: Store, skus: list[str], now: datetime) -> list[str]:
    """Order `skus` for a room's lineup: in-season sellers first, each followed by the SKU its
    buyers most often add (lift > 1) when that SKU is in the list. Unknown SKUs keep their
    relative order at the end; every given SKU appears exactly once."""
    if not skus:
        return []
    today = china_day(now)
    async with store.db.read() as s:
        season = await seasonal_index(s, today.month)
        recent = {
            c: int(u)
            for c, u in await s.execute(
                select(Sku.code, func.sum(AnDaySku.paid_units))
                .join(Sku, Sku.id == AnDaySku.sku_id)
                .where(AnDaySku.day >= today - timedelta(days=28))
                .group_by(Sku.code)
            )
        }
        n, single, pairs, names = await _counts(s)
    links = {}
    for r in rules_from_counts(n, single, pairs, names):
        if r.lift > 1 and r.antecedent not in links:
            links[r.antecedent] = r.consequent
    unique = list(dict.fromkeys(skus))
    known = [x for x in unique if x in season or x in recent]
    rest = [x for x in unique if x not in known]
    known.sort(key=lambda x: -(season.get(x, 0.0) * (1 + recent.get(x, 0))))
    out: list[str] = []
    for x in known:
        if x in out:
            continue
        out.append(x)
        nxt = links.get(x)
        if nxt in known and nxt not in out:
            out.append(nxt)
    return out + rest
