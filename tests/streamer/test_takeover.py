"""Take-over lines checked like every host line: the shop's price passes, another price, a
stock figure or date not on file, a superlative, a medical claim, an unsafe claim or a room's
banned word is refused with its reason in Chinese; text that is not a line is invalid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from commerce.facts import ProductFacts
from streamer.takeover import (
    MAX_TAKEOVER_CHARS,
    TakeoverInvalid,
    check_mode,
    check_takeover,
    named_product,
)

JUJUBE = ProductFacts(
    sku="fp-jujube-500g",
    name="大枣",
    title="阜平大枣",
    price=Decimal("29.9"),
    list_price=Decimal("39.9"),
    unit="袋",
    stock=500,
    origin="河北省保定市阜平县",
    harvest_date=date(2026, 10, 8),
    category="干果",
)
HONEY = ProductFacts(
    sku="fp-honey-500g",
    name="蜂蜜",
    title="阜平荆花蜂蜜",
    price=Decimal("58"),
    unit="瓶",
    stock=80,
    origin="河北省保定市阜平县",
    harvest_date=date(2026, 7, 1),
    category="蜂产品",
)
SHOP = [JUJUBE, HONEY]


@pytest.mark.parametrize(
    "text, sku",
    [
        ("家人们，阜平大枣今天29.9元！", "fp-jujube-500g"),
        ("大枣原价39.9元，现在29.9元", "fp-jujube-500g"),
        ("荆花蜂蜜58元一瓶", "fp-honey-500g"),
        ("欢迎新来的朋友，点点关注", None),
        ("大枣是10月8日采摘的", "fp-jujube-500g"),
    ],
)
def test_lines_the_shop_stands_behind_pass(text, sku):
    r = check_takeover(text, SHOP)
    assert r.accepted, r.reasons
    assert r.sku == sku and r.reasons == () and r.text.endswith(("。", "！", "？", "!", "?"))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("大枣今天只要9.9元", "价格 9.9 元不是本店商品的价格"),
        ("蜂蜜只要19.9元", "价格 19.9 元不是本店商品的价格"),
        ("大枣还剩3袋", "库存 3 与实际库存不符"),
        ("大枣是9月1日采摘的", "日期 9月1日与商品信息不符"),
        ("全网最好的大枣", "不能说绝对化用语「最」（广告法）"),
        ("吃大枣能治高血压", "违反安全规则"),
    ],
)
def test_lines_the_shop_cannot_stand_behind_are_refused_with_reasons(text, reason):
    r = check_takeover(text, SHOP)
    assert not r.accepted and not r.busy
    assert any(reason in x for x in r.reasons), r.reasons


def test_a_rooms_banned_word_is_refused():
    r = check_takeover("大枣真不错，加微信买更便宜", SHOP, banned_words=("微信",))
    assert not r.accepted and "含有本直播间的屏蔽词「微信」" in r.reasons


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "枣" * (MAX_TAKEOVER_CHARS + 1),
        "枣" * 100_000,
        "大家\x00好",
        "大家\u202e好",
        5,
        None,
    ],
)
def test_text_that_is_not_a_line_is_invalid(text):
    with pytest.raises(TakeoverInvalid):
        check_takeover(text, SHOP)


def test_markup_is_never_spoken():
    r = check_takeover("<b>大枣</b>欢迎大家", SHOP)
    assert "<" not in r.text and ">" not in r.text


def test_the_longest_product_name_wins():
    assert named_product("阜平大枣真甜", SHOP) is JUJUBE
    assert named_product("荆花蜂蜜", SHOP) is HONEY
    assert named_product("小米", SHOP) is None


@pytest.mark.parametrize(
    "mode, minutes, want",
    [
        ("spoken", None, ("spoken", None)),
        ("text", 5, ("text", 5.0)),
        ("muted", None, ("muted", None)),
    ],
)
def test_answer_modes(mode, minutes, want):
    assert check_mode(mode, minutes) == want


@pytest.mark.parametrize(
    "mode, minutes",
    [("loud", None), ("muted", 0), ("muted", -1), ("muted", 10**6), ("text", "5"), ("text", True)],
)
def test_bad_answer_modes(mode, minutes):
    with pytest.raises(TakeoverInvalid):
        check_mode(mode, minutes)
