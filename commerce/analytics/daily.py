"""The daily report (日报): one China day's sales against the day before and the same weekday a
week earlier, its best products, its live sessions (场次), refunds, and the warnings to act
on; as JSON for the dashboard and as email-ready HTML (inline styles, tables, no scripts).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func, select

from commerce.analytics.reports import DateRange
from commerce.errors import InvalidInput
from commerce.models import RoomSession, RoomSessionMinute

if TYPE_CHECKING:
    from commerce.analytics.service import Analytics

CHINA = timedelta(hours=8)
OLDEST_DAYS = 3660
_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,  # every value is escaped: product names and titles are shop input
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def parse_report_day(text: str | None, today: date) -> date:
    """`YYYY-MM-DD`, default yesterday (China time); not in the future, not past ten years."""
    if not text:
        return today - timedelta(days=1)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InvalidInput(f"日期格式不正确（应为 YYYY-MM-DD）：{text[:20]!r}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"日期格式不正确（应为 YYYY-MM-DD）：{text!r}") from None
    if day > today:
        raise InvalidInput("日报的日期不能晚于今天")
    if (today - day).days > OLDEST_DAYS:
        raise InvalidInput("只能查看十年以内的日报")
    return day


def _change(now: float, before: float) -> float | None:
    return None if not before else round((now - before) / before, 4)


async def _sessions(svc: Analytics, day: date, shop_id: str) -> list[dict]:
    start = datetime.combine(day, time()) - CHINA  # the China day in naive UTC
    end = start + timedelta(days=1)
    async with svc.store.db.read() as s:
        rows = await s.execute(
            select(
                RoomSession.id,
                RoomSession.room_id,
                RoomSession.title,
                RoomSession.persona,
                RoomSession.started_at,
                RoomSession.ended_at,
                func.count(RoomSessionMinute.minute),
                func.coalesce(func.max(RoomSessionMinute.peak), 0),
                func.coalesce(func.sum(RoomSessionMinute.entries), 0),
                func.coalesce(func.sum(RoomSessionMinute.orders), 0),
                func.coalesce(func.sum(RoomSessionMinute.gmv_fen), 0),
            )
            .outerjoin(RoomSessionMinute, RoomSessionMinute.session_id == RoomSession.id)
            .where(
                RoomSession.shop_id == shop_id,
                RoomSession.started_at >= start,
                RoomSession.started_at < end,
            )
            .group_by(RoomSession.id)
            .order_by(RoomSession.started_at)
            .limit(50)
        )
        return [
            {
                "id": sid,
                "room_id": rid,
                "title": title,
                "persona": persona,
                "started": (st + CHINA).strftime("%H:%M"),
                "ended": (en + CHINA).strftime("%H:%M") if en else "直播中",
                "minutes": int(n),
                "peak_viewers": int(peak),
                "entries": int(entries),
                "orders": int(orders),
                "gmv": round(int(gmv) / 100, 2),
            }
            for sid, rid, title, persona, st, en, n, peak, entries, orders, gmv in rows
        ]


async def daily_report(
    svc: Analytics, day: date, shop_id: str = "default", wait: bool = True
) -> dict:
    """The report of one China day (figures from the rollups, brought up to date first).
    With `wait=False` (the dashboard's card) a customer report still being computed is not
    waited for: the churn line says so instead."""
    one = DateRange(day, day)
    k = await svc.report("kpis", one)
    k_prev = await svc.report("kpis", DateRange(day - timedelta(days=1), day - timedelta(days=1)))
    k_week = await svc.report("kpis", DateRange(day - timedelta(days=7), day - timedelta(days=7)))
    products = (await svc.report("products", one))["rows"]
    warnings = await svc.warnings(wait=wait)
    sessions = await _sessions(svc, day, shop_id)

    def fig(key: str) -> dict:
        now = float(k.get(key) or 0)
        return {
            "value": k.get(key) or 0,
            "vs_prev_day": _change(now, float(k_prev.get(key) or 0)),
            "vs_last_week": _change(now, float(k_week.get(key) or 0)),
        }

    top = sorted(products, key=lambda p: -p["paid_gmv"])[:5]
    refunds = sorted((p for p in products if p["refund"]), key=lambda p: -p["refund"])[:5]
    actions: list[str] = []
    for item in warnings["stock"][:5]:
        actions.append(f"补货：{item['name']}（{item['sku']}）{item['message']}")
    for b in warnings["near_expiry"][:3]:
        actions.append(f"临期：{b['sku']} 批次 {b['batch_id']}，{b['suggestion']['reason']}")
    if warnings["churn_pending"]:
        actions.append("回访：客户分层正在计算，稍后刷新可见流失风险客户")
    elif warnings["churn_total"]:
        actions.append(
            f"回访：{warnings['churn_total']} 位老客户有流失风险，可在数据分析中心给他们发券"
        )
    if warnings["abnormal_orders"]:
        actions.append(f"核查：近7天有 {len(warnings['abnormal_orders'])} 条异常订单提示")
    return {
        "day": day.isoformat(),
        "weekday": "一二三四五六日"[day.weekday()],
        "empty": not k.get("orders"),
        "figures": {
            key: fig(key)
            for key in ("gmv", "paid_gmv", "orders", "paid_orders", "aov", "refund", "uv")
        },
        "top_products": [
            {
                "sku": p["sku"],
                "name": p["name"],
                "paid_units": p["paid_units"],
                "paid_gmv": p["paid_gmv"],
            }
            for p in top
        ],
        "refunds": [{"sku": p["sku"], "name": p["name"], "refund": p["refund"]} for p in refunds],
        "sessions": sessions,
        "actions": actions,
    }


def render_html(report: dict) -> str:
    """The report as a self-contained HTML email body (escaped, inline styles, no scripts)."""
    return _env.get_template("daily_report.html").render(r=report)
