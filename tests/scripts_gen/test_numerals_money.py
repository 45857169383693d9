"""Money in spoken Chinese never mixes Decimal and float: 三十块零 used to raise
`TypeError: Decimal + float` in a live room, and the host fell back to a filler line."""

from decimal import Decimal

import pytest

from scripts_gen.numerals import as_decimal, parse_numbers, speak_price


@pytest.mark.parametrize(
    "text, value",
    [
        ("三十块零", Decimal(30)),
        ("29块0", Decimal(29)),
        ("二十九块九", Decimal("29.9")),
        ("原价五十九块零，直播间三十七块六", Decimal("59")),
    ],
)
def test_a_price_with_zero_jiao_parses_as_a_decimal(text, value):
    found = parse_numbers(text)
    assert found[0].value == value and found[0].unit == "元"
    assert all(isinstance(n.value, Decimal) for n in found)


@pytest.mark.parametrize(
    "price, said",
    [
        (Decimal("29.9"), "二十九块九"),
        (29.9, "二十九块九"),
        (48, "四十八块钱"),
        (0.5, "五毛"),
        ("37.6", "三十七块六"),
        (Decimal("2"), "两块钱"),
        (19.99, "十九块九毛九"),
    ],
)
def test_speak_price_takes_decimal_float_int_or_text(price, said):
    assert speak_price(price) == said


def test_as_decimal_keeps_a_floats_shortest_form_and_refuses_bools():
    assert as_decimal(0.1) == Decimal("0.1")
    with pytest.raises(TypeError):
        as_decimal(True)
