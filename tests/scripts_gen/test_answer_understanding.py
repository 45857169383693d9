"""Questions typed the way live-room viewers type them, answered from catalog, promotions and
policy: price, deals for a quantity, flash sale, stock, shipping, returns, origin, taste;
A-not-A and dialect forms, follow-ups, English, and 原价 only when it was really charged."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from commerce.demo import DEMO_PRODUCTS
from scripts_gen import AnswerContext
from scripts_gen.desk import ServiceDesk
from scripts_gen.numerals import parse_numbers
from scripts_gen.understand import looks_like_question, normalise, understand

# the store keeps naive UTC; the shop speaks Beijing time (UTC+8): 15:00 and 20:30 there
NOW = datetime(2026, 12, 5, 7, 0)
SALE_END = datetime(2026, 12, 5, 12, 30)


def shop(**changes) -> list:
    """The demo catalog as a room sees it with a flash sale on 核桃 (15.5, 50 units, 38 left,
    ends 20:30) and 香菇 sold out."""
    out = []
    for p in DEMO_PRODUCTS:
        if p.name == "核桃":
            p = replace(
                p,
                price=Decimal("15.5"),
                list_price=Decimal("25.8"),
                regular_price=Decimal("25.8"),
                promo="秒杀价15.5元，限量50份，还剩38份",
                sale_ends=SALE_END,
                sale_left=38,
                sale_cap=50,
            )
        if p.name == "香菇":
            p = replace(p, stock=0)
        out.append(changes.get(p.name, p))
    return out


@pytest.fixture(scope="module")
def desk():
    return ServiceDesk()


def ask(desk, question, viewer="v1", products=None, now=NOW, current=None):
    ctx = AnswerContext(
        viewer_id=viewer,
        products=products or shop(),
        now=now,
        current_sku=current,
        persona="xiaoli",
    )
    return desk.answer(question, ctx)


def values(text: str) -> set[Decimal]:
    return {n.value for n in parse_numbers(text)}


@pytest.mark.parametrize(
    "question,plain",
    [
        ("甜不甜", "甜吗"),
        ("包不包邮", "包邮吗"),
        ("板栗有没有现货", "板栗有现货吗"),
        ("嘛时候发货", "什么时候发货"),
        ("介蜂蜜恁贵", "这蜂蜜这么贵"),
        ("核桃jg多少", "核桃价格多少"),
        ("🍯包油吗", "蜂蜜包邮吗"),
        ("介绍一下大枣", "介绍一下大枣"),  # 介绍 is not 这绍
    ],
)
def test_dialect_a_not_a_initials_and_typos_fold_to_plain_mandarin(question, plain):
    assert normalise(question) == plain


def test_price_questions_in_every_form_get_the_price(desk):
    for q in ("大枣咋卖", "大枣多少钱", "大枣几块一斤", "大枣嘛价"):
        a = ask(desk, q, viewer=q)
        assert not a.handed_off and Decimal("29.9") in values(a.text), (q, a.text)


def test_a_deal_is_worked_out_for_the_quantity_asked(desk):
    a = ask(desk, "大枣两斤多少钱")
    assert Decimal("54.8") in values(a.text) and "两斤立减5元" in a.text, a.text
    honey = ask(desk, "蜂蜜买两瓶多少钱", viewer="v2")
    assert Decimal("96") in values(honey.text) and "送一小瓶" in honey.text


def test_flash_sale_price_remaining_units_and_end_time(desk):
    price = ask(desk, "核桃咋卖")
    assert Decimal("15.5") in values(price.text) and "秒杀" in price.text
    left = ask(desk, "秒杀还剩多少份", viewer="v2")
    assert Decimal("38") in values(left.text) and Decimal("300") not in values(left.text)
    end = ask(desk, "秒杀什么时候结束", viewer="v3")
    assert "20:30" in end.text and "八点半" in end.text, end.text


def test_the_remaining_units_are_the_sale_s_not_the_product_s_stock(desk):
    sold = shop(核桃=replace(shop()[1], sale_left=3))
    a = ask(desk, "秒杀还剩几份", products=sold)
    assert Decimal("3") in values(a.text) and "300" not in a.text


def test_stock_is_said_safely_and_a_sold_out_product_says_so(desk):
    a = ask(desk, "板栗有没有现货")
    assert "现货" in a.text and Decimal("400") not in values(a.text)
    gone = ask(desk, "香菇还有货吗", viewer="v2")
    assert "卖完" in gone.text and not gone.handed_off
    taste = ask(desk, "香菇什么味道", viewer="v3")
    assert "卖完" in taste.text  # an answer about a sold-out product says so


@pytest.mark.parametrize(
    "question,must",
    [
        ("嘛时候发货", ("48小时",)),
        ("发什么快递", ("顺丰",)),
        ("包不包邮", ("包邮",)),
        ("退货运费谁出", ("运费",)),
        ("大枣哪里产的", ("阜平",)),
        ("核桃什么时候采的", ("九月十五",)),
        ("蜂蜜是什么蜜", ("荆条",)),
    ],
)
def test_shipping_returns_origin_and_harvest_come_from_policy_and_catalog(desk, question, must):
    a = ask(desk, question, viewer=question)
    assert not a.handed_off, a.text
    for word in must:
        assert word in a.text, a.text
    assert "云南" not in a.text and "夏天" not in a.text and "蜂蜜蜜" not in a.text


def test_a_not_a_taste_question_answers_yes_from_the_sheet(desk):
    a = ask(desk, "大枣甜不甜")
    assert "甜" in a.text and not a.handed_off


def test_list_price_is_called_original_only_when_it_was_charged(desk):
    never = ask(desk, "大枣原价多少")
    assert "原价" not in never.text and Decimal("39.9") not in values(never.text)
    assert Decimal("29.9") in values(never.text) and not never.handed_off
    charged = shop(大枣=replace(DEMO_PRODUCTS[0], list_price_charged=True))
    said = ask(desk, "大枣原价多少", viewer="v2", products=charged)
    assert "原价" in said.text and Decimal("39.9") in values(said.text)


def test_a_follow_up_takes_its_intent_from_the_asker_s_previous_question(desk):
    ask(desk, "大枣多少钱", viewer="fu")
    follow = ask(desk, "那核桃呢", viewer="fu")
    assert Decimal("15.5") in values(follow.text) and "核桃" in follow.text
    # another viewer's history is not mine: "那核桃呢" alone asks nothing of a price
    other = ask(desk, "那核桃呢", viewer="fresh")
    assert Decimal("15.5") not in values(other.text)
    # and it expires with the conversation
    late = ask(desk, "那板栗呢", viewer="fu", now=NOW + timedelta(minutes=6))
    assert Decimal("19.9") not in values(late.text)


def test_english_questions_get_english_answers(desk):
    a = ask(desk, "How much is the honey?")
    assert (
        "48" in a.text and "yuan" in a.text and not any("\u4e00" <= c <= "\u9fff" for c in a.text)
    )
    ship = ask(desk, "Is shipping free?", viewer="v2")
    assert "free" in ship.text.lower() and not ship.handed_off
    unknown = ask(desk, "Do you have a discount for teachers on Mondays?", viewer="v3")
    assert all(not ("\u4e00" <= c <= "\u9fff") for c in unknown.text)


def test_two_products_compared_get_both_prices(desk):
    a = ask(desk, "大枣和板栗哪个便宜")
    assert {Decimal("29.9"), Decimal("19.9")} <= values(a.text)


@pytest.mark.parametrize(
    "text,question",
    [
        ("甜不甜", True),
        ("退货运费谁出", True),
        ("包不包邮", True),
        ("How much is the honey?", True),
        ("好甜啊", False),
        ("主播好", False),
        ("Hello everyone", False),
    ],
)
def test_questions_are_recognised_by_form(text, question):
    assert looks_like_question(text) is question


@pytest.mark.parametrize(
    "hostile",
    ["", "？？？", "a" * 500, "嘛" * 80, "😀" * 30, "\x00\x01", "秒杀" * 50, "99999999斤多少钱"],
)
def test_hostile_questions_never_crash(desk, hostile):
    a = ask(desk, hostile)
    assert isinstance(a.text, str) and a.text
    understand(hostile, shop())


async def test_script_lines_say_original_price_only_when_it_was_charged():
    from scripts_gen.base import SegmentContext
    from scripts_gen.template import TemplateWriter

    jujube = DEMO_PRODUCTS[0]
    for charged in (False, True):
        said = []
        for seed in range(8):
            writer = TemplateWriter(seed=seed)
            p = replace(jujube, list_price_charged=charged)
            said += [line.text async for line in writer.segment(p, SegmentContext())]
        text = "".join(said)
        assert ("原价" in text or "平时" in text or "原来" in text) is charged, text
        assert "划线价" in text or charged


# --- the kinds of typing a second writer's dev set showed (not the held-out sets) ------------
@pytest.mark.parametrize(
    "question, number",
    [
        ("xm jg", Decimal("39.9")),  # pinyin initials alone are Chinese, not English
        ("dz jg多少", Decimal("29.9")),
        ("核涛多少钱", Decimal("15.5")),
        ("蜂秘多少钱一瓶", Decimal("48")),
        ("fm多钱", Decimal("48")),
        ("蜂蜜多少钱", Decimal("48")),  # 四十八块钱一瓶, never heard as 48.1
    ],
)
def test_typed_price_questions_get_the_price(desk, question, number):
    a = ask(desk, question)
    assert not a.handed_off and number in values(a.text), a.text
    assert Decimal("48.1") not in values(a.text)


def test_a_peanut_emoji_is_not_walnuts_and_unsold_goods_are_said_so(desk):
    for q in ("🥜有吗", "有土鸡蛋吗", "有没有核桃油"):
        a = ask(desk, q)
        assert "没有卖" in a.text and "做法" not in a.text, (q, a.text)
    assert "没有卖" not in ask(desk, "核桃仁饱满吗").text


def test_stock_is_said_in_safe_words_and_a_quantity_is_checked_against_it(desk):
    a = ask(desk, "小米还有多少袋")  # 250: to the ten, as "about", so a few sold keep it true
    assert "二百五十袋左右" in a.text, a.text
    assert "还有多少" not in ask(desk, "蜂蜜还有多少瓶").text  # 120 bottles: said, not echoed
    assert "一百二十瓶左右" in ask(desk, "蜂蜜还剩几瓶", viewer="v3").text
    assert "够" in ask(desk, "小米够不够我买20袋").text
    short = ask(desk, "苹果我要300箱 有吗").text
    assert "不够" in short and "三百箱" in short, short


def test_flash_sale_limit_is_handed_off_and_saving_and_after_price_are_worked_out(desk):
    limit = ask(desk, "秒杀一个人能买几份")
    assert limit.handed_off and "38" not in limit.text and "三十八" not in limit.text
    saving = ask(desk, "核桃秒杀价比平时便宜多少")
    assert Decimal("10.3") in values(saving.text), saving.text
    after = ask(desk, "秒杀结束以后核桃卖多少")
    assert Decimal("25.8") in values(after.text) and "原价" not in after.text, after.text
    usual = ask(desk, "核桃平时卖多少钱？不算秒杀")
    assert Decimal("25.8") in values(usual.text) and "原价" not in usual.text, usual.text


def test_features_and_sizes_come_from_the_sheet(desk):
    assert "手捏就开" in ask(desk, "核桃要用锤子砸吗").text
    assert "80" in normalise_digits(ask(desk, "苹果多大个").text)
    assert "半斤" in ask(desk, "香菇一盒多重").text  # sold out, and still answered


def normalise_digits(text: str) -> str:
    return " ".join(f"{n.value:f}" for n in parse_numbers(text))


def test_english_answers_say_the_facts(desk):
    assert "room temperature" in ask(desk, "Does the honey need the fridge?").text
    assert "sweet" in ask(desk, "are the dates sweet?").text
    assert "small jar" in ask(desk, "If I buy two bottles of honey what do I get?").text
    assert "5 jin" in ask(desk, "How heavy is a bag of millet?").text
    assert "1 to 3" in ask(desk, "how long for a refund").text
    assert "2 to 4" in ask(desk, "How long does delivery take").text


def test_bad_goods_get_the_remedy_after_the_safety_advice(desk):
    a = ask(desk, "收到的苹果烂了好几个 咋整")
    assert "拍照" in a.text and ("四十八小时" in a.text or "48小时" in a.text), a.text
    assert "补发" in ask(desk, "少发了一袋小米").text


def test_a_follow_up_keeps_the_question_not_the_words(desk):
    ask(desk, "蜂蜜怎么保存", viewer="f1")
    assert "冷藏" in ask(desk, "苹果呢", viewer="f1").text
    ask(desk, "大枣多少钱一斤", viewer="f2")
    assert Decimal("54.8") in values(ask(desk, "两斤呢", viewer="f2").text)
    ask(desk, "退货怎么退", viewer="f3")
    assert "退货运费" in ask(desk, "那运费谁出", viewer="f3").text


def test_sums_over_several_products_and_quantities_in_other_units(desk):
    a = ask(desk, "两斤大枣再来一瓶蜂蜜总共多少")
    assert Decimal("102.8") in values(a.text), a.text  # 54.8 with the deal, plus 48
    assert Decimal("79.8") in values(ask(desk, "俺想要10斤小米 多少钱").text)  # two 5-jin bags
    assert Decimal("119.8") in values(ask(desk, "20斤苹果多少钱啊").text)  # two 10-jin cases


def test_speech_recognition_typos_and_have_questions(desk):
    assert Decimal("29.9") in values(ask(desk, "大造多少钱一斤").text)
    assert Decimal("19.9") in values(ask(desk, "板里多少钱一斤").text)
    assert "卖完" in ask(desk, "xdm香菇是不是没了").text
    assert "现货" in ask(desk, "有无板栗").text
    assert "没有卖" in ask(desk, "有小米辣吗").text  # not 小米


def test_a_certificate_asked_for_is_never_claimed(desk):
    text = ask(desk, "大枣有有机认证吗").text
    assert "地理标志" in text and "有机认证" not in text.replace("有有机", ""), text
    assert ask(desk, "小米是有机的吗").handed_off


def test_english_origin_names_the_town(desk):
    assert "Tianshengqiao" in ask(desk, "where are the chestnuts from").text
