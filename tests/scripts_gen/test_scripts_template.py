"""The template writer: segments for every product and persona, variety, live facts."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from commerce.demo import DEMO_PRODUCTS, demo_product
from scripts_gen import Line, ScriptWriter, SegmentContext, make_writer
from scripts_gen.grounding import FactSheet, number_problems
from scripts_gen.style import STYLES


async def collect(writer, product, context):
    return [line async for line in writer.segment(product, context)]


@pytest.mark.parametrize("persona", list(STYLES))
async def test_every_demo_product_gets_a_6_to_12_line_segment(persona):
    writer = make_writer()
    assert isinstance(writer, ScriptWriter)
    for product in DEMO_PRODUCTS:
        lines = await collect(writer, product, SegmentContext(persona=persona))
        assert 6 <= len(lines) <= 12
        assert all(isinstance(line, Line) and line.kind == "script" for line in lines)
        assert all(line.product_sku == product.sku for line in lines)
        assert all(f"catalog:{product.sku}" in line.sources for line in lines)
        assert any(product.name in line.text for line in lines)


async def test_segment_lines_speak_only_numbers_from_the_fact_sheet():
    writer = make_writer({"seed": 7})
    for product in DEMO_PRODUCTS:
        sheet = FactSheet.build([product])
        for line in await collect(writer, product, SegmentContext(persona="xiaozhang")):
            assert number_problems(line.text, sheet) == [], line.text


async def test_price_is_spoken_the_way_a_host_says_it():
    writer = make_writer({"seed": 1})
    jujube = demo_product("大枣")
    texts = [line.text for line in await collect(writer, jujube, SegmentContext())]
    assert any("二十九块九" in t for t in texts)


async def test_sold_out_product_is_skipped():
    writer = make_writer()
    gone = replace(demo_product("核桃"), stock=0)
    assert await collect(writer, gone, SegmentContext()) == []


async def test_live_events_are_woven_in_and_replace_the_catalog_stock_line():
    writer = make_writer({"seed": 3})
    apple = demo_product("苹果")
    events = ["只剩 20 箱了", "刚刚 @李** 拍了两箱"]
    texts = [line.text for line in await collect(writer, apple, SegmentContext(live_events=events))]
    assert any("只剩20箱了" in t for t in texts)
    assert any("姓李的朋友拍了两箱" in t for t in texts)
    assert not any("@" in t or "*" in t for t in texts)
    assert not any("二百箱" in t for t in texts)


async def test_no_sentence_repeats_within_ten_minutes_of_one_room():
    writer = make_writer({"seed": 11})
    start = datetime(2026, 11, 1, 20, 0)
    said: dict[str, datetime] = {}
    for i in range(60):  # one segment a minute, cycling the 7 products
        now = start + timedelta(minutes=i)
        product = DEMO_PRODUCTS[i % len(DEMO_PRODUCTS)]
        for line in await collect(writer, product, SegmentContext(now=now)):
            last = said.get(line.text)
            assert last is None or now - last >= timedelta(minutes=10), line.text
            said[line.text] = now


async def test_personas_speak_differently():
    jujube = demo_product("大枣")
    texts = {}
    for persona in STYLES:
        lines = await collect(make_writer({"seed": 5}), jujube, SegmentContext(persona=persona))
        texts[persona] = "".join(line.text for line in lines)
    assert "俺" in texts["xiaowang"] or "咱" in texts["xiaowang"]
    assert "俺" not in texts["xiaoli"] and "俺" not in texts["xiaozhang"]
    rates = {
        p: (await collect(make_writer(), jujube, SegmentContext(persona=p)))[0].rate for p in STYLES
    }
    assert rates["xiaoli"] > rates["xiaowang"] > rates["xiaozhang"]


async def test_room_mood_changes_expression():
    jujube = demo_product("大枣")
    upset = await collect(make_writer(), jujube, SegmentContext(mood="upset"))
    excited = await collect(make_writer(), jujube, SegmentContext(mood="excited"))
    assert {line.expression for line in upset} == {"sorry"}
    assert "excited" in {line.expression for line in excited}


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown script backend"):
        make_writer({"backend": "gpt-magic"})
