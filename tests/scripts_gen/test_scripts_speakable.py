"""Lines go to TTS: live events are made speakable and template joins read naturally."""

import re
import string

import pytest

from commerce.demo import DEMO_PRODUCTS, demo_product
from scripts_gen import SegmentContext, make_writer
from scripts_gen.grammar import grammar
from scripts_gen.grounding import FactSheet, number_problems
from scripts_gen.style import STYLES
from scripts_gen.template import fill, slots_for, speakable_event


@pytest.mark.parametrize(
    ("event", "spoken"),
    [
        ("刚刚 @李** 拍了两箱", "刚刚姓李的朋友拍了两箱"),
        ("@欧阳** 下单了三斤", "姓欧阳的朋友下单了三斤"),
        ("王*刚刚下单了", "姓王的朋友刚刚下单了"),
        ("@用户9527 拍了一箱", "一位朋友拍了一箱"),
        ("@abc_12 买了两袋", "一位朋友买了两袋"),
        ("@张三 拍了一单", "张三拍了一单"),
        ("只剩 20 箱了", "只剩20箱了"),
    ],
)
def test_live_events_are_made_speakable(event, spoken):
    assert speakable_event(event) == spoken


async def test_segment_speaks_the_buyer_naturally_and_stays_grounded():
    apple = demo_product("苹果")
    events = ["刚刚 @李** 拍了两箱"]
    for seed in range(5):
        writer = make_writer({"seed": seed})
        ctx = SegmentContext(persona="xiaowang", live_events=events)
        lines = [line async for line in writer.segment(apple, ctx)]
        said = [line for line in lines if "live" in line.sources]
        assert said and all("姓李的朋友" in line.text for line in said)
        assert not any("@" in line.text or "*" in line.text for line in lines)
        sheet = FactSheet.build([apple], [speakable_event(e) for e in events])
        assert all(number_problems(line.text, sheet) == [] for line in lines)


def test_fill_keeps_one_character_where_a_slot_repeats_the_text():
    assert fill("讲究一个{feature}。", {"feature": "个大肉厚"}) == "讲究一个大肉厚。"
    assert fill("大家看，{feature}。", {"feature": "看得见"}) == "大家看，看得见。"


def _seams(template: str, values: dict[str, str]) -> list[tuple[str, str]]:
    """(text before, text after) at every place a slot meets literal text."""
    pieces = []
    for literal, field, _, _ in string.Formatter().parse(template):
        pieces.append(literal)
        if field is not None:
            pieces.append(values[field])
    pieces = [p for p in pieces if p]
    return list(zip(pieces, pieces[1:], strict=False))


@pytest.mark.parametrize("persona", list(STYLES))
def test_feature_templates_read_naturally_for_every_product(persona):
    templates = grammar()["personas"][persona]
    for product in DEMO_PRODUCTS:
        slots = slots_for(product)
        for section, variants in templates.items():
            fills = [{"feature": f} for f in product.features] if section == "feature" else [{}]
            for template in variants:
                for extra in fills:
                    values = {**slots, **extra, "event": "有人下单了"}
                    text = fill(template, values)
                    assert "一个个" not in text, text
                    # no character doubled across a join ("看" + "看...", "个" + "个...")
                    for left, right in _seams(template, values):
                        if re.match(r"[\u4e00-\u9fff]", right[0]) and left[-1] == right[0]:
                            assert left + right not in text, text


@pytest.mark.parametrize("persona", list(STYLES))
async def test_segments_never_say_yi_ge_ge(persona):
    writer = make_writer({"seed": 5})
    for product in DEMO_PRODUCTS:
        for _ in range(3):
            lines = [line async for line in writer.segment(product, SegmentContext(persona))]
            assert not any("一个个" in line.text for line in lines)
