"""Yuan <-> fen conversions. Money is stored as integer fen (1 yuan = 100 fen)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from commerce.errors import InvalidInput

# Plain decimal text only: Decimal() would also take "1e5", "NaN", "Infinity", " 1" and "1_0".
PLAIN_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?")


def to_fen(value: Decimal | str | float) -> int:
    """Yuan as a plain decimal ("29.9", 29.9, Decimal("29.90")) -> fen; InvalidInput otherwise.
    Text and floats must read as plain decimals; an int or a Decimal is taken as it is."""
    if isinstance(value, bool):
        raise InvalidInput(f"金额格式不正确：{value!r}")
    if isinstance(value, str | float) and not PLAIN_DECIMAL.fullmatch(str(value)):
        raise InvalidInput(f"金额必须是普通的十进制数字，例如 29.90：{str(value)[:32]!r}")
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"金额格式不正确：{value!r}") from None
    if not d.is_finite() or d < 0 or d > Decimal(10000000):
        raise InvalidInput(f"金额超出范围：{value!r}")
    if d != d.quantize(Decimal("0.01")):
        raise InvalidInput(f"金额最多两位小数：{value!r}")
    return int((d * 100).to_integral_value(ROUND_HALF_UP))


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def yuan_str(fen: int) -> str:
    return str(to_yuan(fen))


def short_yuan(fen: int) -> str:
    """29.90 -> '29.9', 30.00 -> '30', for speech and fact sheets."""
    d = to_yuan(fen).normalize()
    return format(d, "f")
