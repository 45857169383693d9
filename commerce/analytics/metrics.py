"""Livestream-commerce figures as Chinese back offices (抖店罗盘, 快手生意通) define them.

Every figure is a pure function of counts, so the definitions live in one place and tests
check them against hand-computed cases. Money is integer fen in, yuan (float) out.

- GMV 成交总额: the value of every order placed, paid or not (incl. later cancelled).
- 支付GMV (paid GMV): the value of orders actually paid (refunds are reported apart).
- UV 观看人数: distinct viewers; PV/views 观看人次: entries into the room.
- UV价值 (UV value) = GMV / UV.
- GPM 千次观看成交额 = GMV / views × 1000.
- 转化率 (conversion) = paying buyers / UV.
- 客单价 (AOV per buyer) = paid GMV / paying buyers; 笔单价 = paid GMV / paid orders.
- 互动率 (interaction rate) = viewers who interacted (comment, question, like) / UV.
- 平均观看时长 (average watch time) = total viewer-seconds online / views.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


def yuan(fen: int | float) -> float:
    return round(fen / 100.0, 2)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def gmv_fen(orders: list[tuple[int, bool]]) -> int:
    """GMV of (amount_fen, paid) orders: every order counts, paid or not."""
    return sum(amount for amount, _paid in orders)


def paid_gmv_fen(orders: list[tuple[int, bool]]) -> int:
    return sum(amount for amount, paid in orders if paid)


def uv_value(gmv: int, uv: int) -> float:
    """UV价值 in yuan per visitor."""
    return round(_ratio(gmv, uv) / 100.0, 4)


def gpm(gmv: int, views: int) -> float:
    """GPM: yuan of GMV per 1,000 views."""
    return round(_ratio(gmv, views) * 1000 / 100.0, 2)


def conversion(buyers: int, uv: int) -> float:
    """转化率 as a fraction (0.05 = 5%)."""
    return round(_ratio(buyers, uv), 4)


def aov(paid: int, buyers: int) -> float:
    """客单价 in yuan (pass paid orders instead of buyers for 笔单价)."""
    return round(_ratio(paid, buyers) / 100.0, 2)


def interaction_rate(interacting: int, uv: int) -> float:
    return round(_ratio(interacting, uv), 4)


def avg_watch_seconds(viewer_seconds: float, views: int) -> float:
    return round(_ratio(viewer_seconds, views), 1)


@dataclass
class LiveFigures:
    """One room's (or all rooms') figures for today, as the live dashboard shows them."""

    room_id: str
    online: int = 0
    peak_online: int = 0
    views: int = 0
    uv: int = 0
    avg_watch_s: float = 0.0
    interaction_rate: float = 0.0
    gmv: float = 0.0
    paid_gmv: float = 0.0
    orders: int = 0
    paid_orders: int = 0
    buyers: int = 0
    conversion: float = 0.0
    uv_value: float = 0.0
    gpm: float = 0.0
    aov: float = 0.0
    by_segment: dict[str, dict] | None = None

    def to_json(self) -> dict:
        return asdict(self)


def figures(
    room_id: str,
    *,
    online: int,
    peak_online: int,
    views: int,
    uv: int,
    viewer_seconds: float,
    interacting: int,
    gmv: int,
    paid: int,
    orders: int,
    paid_orders: int,
    buyers: int,
    by_segment: dict[str, dict] | None = None,
) -> LiveFigures:
    """Assemble a LiveFigures from raw counts with the definitions above."""
    return LiveFigures(
        room_id=room_id,
        online=online,
        peak_online=peak_online,
        views=views,
        uv=uv,
        avg_watch_s=avg_watch_seconds(viewer_seconds, views),
        interaction_rate=interaction_rate(interacting, uv),
        gmv=yuan(gmv),
        paid_gmv=yuan(paid),
        orders=orders,
        paid_orders=paid_orders,
        buyers=buyers,
        conversion=conversion(buyers, uv),
        uv_value=uv_value(gmv, uv),
        gpm=gpm(gmv, views),
        aov=aov(paid, buyers),
        by_segment=by_segment or {},
    )
