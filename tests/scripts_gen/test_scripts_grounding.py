"""The grounding checker: wrong facts, banned words and fake certificates never get through."""

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from commerce.demo import DEMO_PRODUCTS, demo_product
from scripts_gen import SegmentContext, make_writer
from scripts_gen.grounding import FactSheet, check_line, number_problems
from scripts_gen.numerals import parse_numbers, speak_price

JUJUBE = demo_product("大枣")
SHEET = FactSheet.build([JUJUBE])


def test_wrong_price_is_caught_in_digits_and_in_chinese_numerals():
    assert not check_line("阜平大枣今天只要19.9元一斤。", SHEET).ok
    assert not check_line("大枣十九块九一斤！", SHEET).ok
    assert check_line("大枣二十九块九一斤！", SHEET).ok
    assert check_line("大枣29.9元一斤。", SHEET).ok


def test_fake_organic_claim_is_cut_out_but_listed_certificate_stays():
    verdict = check_line("个大肉厚，我们是有机认证的大枣。", SHEET)
    assert "有机" not in verdict.text and "个大肉厚" in verdict.text
    assert any("certification" in p for p in verdict.problems)
    assert "地理标志" in check_line("大枣有地理标志认证。", SHEET).text
    walnut = FactSheet.build([demo_product("核桃")])
    assert "地理标志" not in check_line("核桃皮薄，有地理标志认证。", walnut).text


def test_superlatives_and_medical_claims_are_removed():
    verdict = check_line("甜而不腻，是最好吃的大枣，吃了能补血。", SHEET)
    assert verdict.text == "甜而不腻。"
    assert check_line("这是第一好的国家级大枣。", SHEET).ok is False  # nothing speakable left
    assert "最近" in check_line("最近天冷，大枣阴凉干燥处密封保存。", SHEET).text  # exemption


def test_stock_and_dates_must_match_the_sheet_or_live_events():
    assert not check_line("大枣只剩20斤了。", SHEET).ok
    assert check_line("大枣还有五百斤。", SHEET).ok
    live = FactSheet.build([JUJUBE], ["只剩 20 斤了"])
    assert check_line("大枣只剩二十斤了。", live).ok
    assert check_line("这批大枣是十月八号采的。", SHEET).ok
    assert not check_line("这批大枣是十月九号采的。", SHEET).ok


def test_numbers_are_read_from_digits_chinese_numerals_and_prices():
    values = [(n.value, n.unit) for n in parse_numbers("两斤立减5元，二十九块九，一起来")]
    assert values == [(Decimal(2), "斤"), (Decimal(5), "元"), (Decimal("29.9"), "元")]
    assert speak_price(Decimal("48.0")) == "四十八块钱"
    assert speak_price(Decimal("25.8")) == "二十五块八"


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    index=st.integers(0, len(DEMO_PRODUCTS) - 1),
    persona=st.sampled_from(["xiaowang", "xiaoli", "xiaozhang"]),
    mood=st.sampled_from(["calm", "happy", "excited", "upset"]),
    minutes=st.integers(0, 600),
)
async def test_every_number_spoken_in_any_segment_is_on_the_fact_sheet(
    seed, index, persona, mood, minutes
):
    product = DEMO_PRODUCTS[index]
    writer = make_writer({"seed": seed})
    now = datetime(2026, 11, 1) + timedelta(minutes=minutes)
    context = SegmentContext(persona=persona, mood=mood, now=now)
    sheet = FactSheet.build([product])
    async for line in writer.segment(product, context):
        assert number_problems(line.text, sheet) == [], line.text
        for n in parse_numbers(line.text):
            assert n.value in sheet.numbers or n.value == 1, line.text
