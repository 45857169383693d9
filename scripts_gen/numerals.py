"""Numbers in spoken Chinese: say prices and dates like a host, and read numbers back out.

The grounding checker must understand both "29.9元" and "二十九块九", so every number in a
line is parsed here into a `Number` with the unit word that follows it.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import cn2an

_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_RUN = f"[{_CN_DIGITS}十百千万]+(?:点[{_CN_DIGITS}]+)?"
# A number, optional "块" + one trailing digit (二十九块九 / 29块9), then up to 2 unit chars.
_NUMBER_RE = re.compile(
    rf"(?P<num>\d+(?:\.\d+)?|{_CN_RUN})"
    rf"(?:(?P<kuai>块)(?P<jiao>[{_CN_DIGITS}]|\d)(?![\d十百千万]|[{_CN_DIGITS}][{_CN_DIGITS}十百千万]))?"
)
# 一 in these words is not a quantity ("一起", "一下"); ordinals (第二) are not claims either.
_NOT_A_NUMBER_AFTER_YI = set("起下定点样直些边般切向旦共再同心致流会")
_PERCENT_WORDS = re.compile(r"百分之(?P<num>[零一二两三四五六七八九十百]+|\d+)")

MONEY_UNITS = ("元", "块")
DATE_UNITS = ("年", "月", "日", "号")


@dataclass(frozen=True)
class Number:
    """A number found in text, with the first unit character after it ("" when none)."""

    value: Decimal
    unit: str
    start: int
    end: int
    text: str


def _plain(value: Decimal) -> Decimal:
    """Normalize without exponent notation: 20.0 -> 20, 29.90 -> 29.9."""
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


def _to_decimal(token: str) -> Decimal | None:
    if token in ("百", "一百"):
        return Decimal(100)
    if token[0].isdigit():
        try:
            return Decimal(token)
        except InvalidOperation:
            return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return Decimal(str(cn2an.cn2an(token.replace("〇", "零"), "smart")))
        except (ValueError, KeyError, InvalidOperation, TypeError):
            return None


def parse_numbers(text: str) -> list[Number]:
    """Every quantity in `text`, in order. Unparseable runs ("三四") come back as -1."""
    found: list[Number] = []
    for m in _PERCENT_WORDS.finditer(text):
        value = _to_decimal(m.group("num"))
        value = _plain(value) if value is not None else Decimal(-1)
        found.append(Number(value, "%", *m.span(), m[0]))
    taken = [(n.start, n.end) for n in found]
    for m in _NUMBER_RE.finditer(text):
        start, end = m.span()
        if any(s <= start < e for s, e in taken):
            continue
        token = m.group("num")
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if before == "第":
            continue
        if token == "一" and (after in _NOT_A_NUMBER_AFTER_YI or (before and before in "万统唯专")):
            continue
        if token == "两" and not m.group("kuai") and after in "边头":
            continue
        value = _to_decimal(token)
        if value is None:
            value = Decimal(-1)
        unit = after
        if m.group("kuai"):
            # 三十块零: jiao is Decimal(0), and `(jiao or 0) / 10` used to make a float
            jiao = _to_decimal(m.group("jiao")) or Decimal(0)
            value = value + jiao / 10
            unit = "元"
        elif after == "块":
            unit = "元"
        elif text[end : end + 1] == "%":
            unit = "%"
        found.append(Number(_plain(value), unit, start, end, m[0]))
    found.sort(key=lambda n: n.start)
    return found


def _int_words(n: int) -> str:
    return cn2an.an2cn(str(n), "low")


def speak_int(n: int) -> str:
    """500 -> 五百; 2 before a measure word reads 两."""
    return "两" if n == 2 else _int_words(n)


def as_decimal(value: Decimal | float | int | str) -> Decimal:
    """Any price a caller holds as an exact Decimal: floats go through their shortest repr
    (29.9, not 29.899999...), so Decimal and float never meet in arithmetic."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a price is not a bool")
    return Decimal(str(value))


def speak_price(price: Decimal | float | int | str) -> str:
    """Decimal('29.9') -> 二十九块九; Decimal('48.0') -> 四十八块钱; 0.5 -> 五毛. A whole price
    ends in 钱: "四十八块一瓶" would be heard (and parsed) as 48.1 a jar."""
    price = as_decimal(price).quantize(Decimal("0.01"))
    yuan = int(price)
    jiao = int((price - yuan) * 10)
    fen = int((price - yuan) * 100) % 10
    if fen:
        return f"{_int_words(yuan)}块{_int_words(jiao)}毛{_int_words(fen)}"
    if yuan == 0:
        return f"{_int_words(jiao)}毛"
    words = "两" if yuan == 2 else _int_words(yuan)
    return f"{words}块{_int_words(jiao)}" if jiao else f"{words}块钱"


def speak_date(d: date, with_year: bool = False) -> str:
    """date(2026, 10, 8) -> 十月八号."""
    md = f"{_int_words(d.month)}月{_int_words(d.day)}号"
    return f"{cn2an.an2cn(str(d.year), 'direct')}年{md}" if with_year else md


def numbers_in(text: str) -> set[Decimal]:
    """The set of values mentioned in a fact text."""
    return {n.value for n in parse_numbers(text) if n.value >= 0}
