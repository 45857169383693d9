"""Business calendar: China-time days and the sales holidays that move farm-produce demand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

CHINA_OFFSET = timedelta(hours=8)

# Spring Festival (正月初一): gifting peaks in the three weeks before, couriers stop after.
SPRING_FESTIVAL = {
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}
# Holiday kinds a forecast models as multiplicative factors.
HOLIDAY_KINDS = ("spring_gifting", "spring_break", "double11", "golden_week")


def china_day(ts: datetime) -> date:
    """The China (UTC+8) calendar day of a naive-UTC timestamp: the day a merchant reports."""
    return (ts + CHINA_OFFSET).date()


def china_today(now_utc: datetime) -> date:
    return china_day(now_utc)


def holiday_kind(d: date) -> str | None:
    """The sales holiday `d` falls in, if any."""
    for year in (d.year, d.year + 1):
        sf = SPRING_FESTIVAL.get(year)
        if sf is None:
            continue
        if sf - timedelta(days=21) <= d < sf - timedelta(days=3):
            return "spring_gifting"
        if sf - timedelta(days=3) <= d <= sf + timedelta(days=6):
            return "spring_break"
    if d.month == 11 and 1 <= d.day <= 11:
        return "double11"
    if d.month == 10 and 1 <= d.day <= 7:
        return "golden_week"
    return None
