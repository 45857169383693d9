"""Shop questions with one answer on file reach that entry by their form, not by shared words;
questions the shop holds no answer for go to a person, with the reason said."""

import pytest

from scripts_gen.faq_routes import ROUTES, route, route_en
from scripts_gen.safety import classify
from scripts_gen.understand import normalise
from tests.scripts_gen.test_answer_understanding import ask, desk  # noqa: F401 (a fixture)


@pytest.mark.parametrize(
    "question,entry",
    [
        ("拍错了 能取消不 手滑了", "kb-aftersales-q11"),
        ("俺要的小米给俺发成大枣了这咋弄啊", "kb-aftersales-q6"),
        ("买了两斤收到一斤 介咋回事", "kb-aftersales-q7"),
        ("钱啥时候退回来 都等了三天了", "kb-aftersales-q2"),
        ("退款退到哪里 微信还是银行卡", "kb-aftersales-q2"),
        ("半夜找客服有人没", "kb-aftersales-q15"),
        ("咋找真人啊 不想跟机器人说", "kb-aftersales-q9"),
        ("开封了能退吗", "kb-aftersales-q4"),
        ("能开发票吗 单位报销", "kb-orders-q4"),
        ("可以货到付款吗", "kb-shipping-q7"),
        ("拍了能改地址吗 填错了", "kb-shipping-q4"),
        ("发京东快递行不", "kb-shipping-q3"),
        ("买了好几样能一块发吗", "kb-shipping-q8"),
        ("能寄到国外吗 俺闺女在日本", "kb-shipping-q6"),
        ("主播是真人吗", "kb-fuping-q15"),
    ],
)
def test_shop_questions_reach_their_entry(question, entry):
    routed = route(normalise(question))
    assert routed is not None and routed.entry == entry, (question, routed)


def test_a_products_own_entry_needs_the_product():
    assert route(normalise("苹果咋包装的"), "apple").entry == "kb-apple-pack"
    assert route(normalise("能批发吗"), None).entry == "kb-orders-q15"
    assert route(normalise("有礼盒吗"), None) is None  # no shop-wide gift box entry


def test_questions_without_an_answer_on_file_go_to_a_person(desk):  # noqa: F811
    for question in ("能加个微信吗", "售后电话多少 给个号码", "运费险有吗", "能用花呗分期不"):
        a = ask(desk, question)
        assert a.handed_off, (question, a.text)
    contact = ask(desk, "能加个微信吗", viewer="c1")
    assert "联系方式" in contact.text and "支付宝" not in contact.text


def test_a_sold_out_products_restock_date_is_a_hand_off_that_says_it_is_sold_out(desk):  # noqa: F811
    a = ask(desk, "香菇啥时候补货啊")
    assert a.handed_off and "卖完" in a.text
    b = ask(desk, "核桃什么时候补货", viewer="r2")  # in stock: the catalog answers
    assert not b.handed_off and "现货" in b.text


def test_routed_answers_keep_the_catalogs_part(desk):  # noqa: F811
    a = ask(desk, "能开发票吗 包邮吗")
    assert "发票" in a.text and "包邮" in a.text and not a.handed_off
    fee = ask(desk, "退货的话邮费我自己出吗 是质量问题", viewer="f2")
    assert "承担" in fee.text  # the policy's return-fee clause, not the damaged-goods entry


def test_english_shop_questions_get_english_answers():
    assert "mainland" in route_en("do you ship to singapore?")
    assert "digital host" in route_en("are you a real person or ai?")
    assert "alipay" in route_en("can i pay with alipay").lower()
    assert route_en("how much are the walnuts?") is None


def test_a_viewer_called_baby_is_not_an_infant_question():
    assert classify("包油吗宝宝") is None
    assert classify("宝宝们，大枣多少钱") is None
    assert classify("宝宝能吃蜂蜜吗").kind == "infant"
    assert classify("大枣核大不大") is None  # the stone's size, not choking
    assert classify("枣核卡喉咙了").kind == "choking"
    assert classify("包装结实不 上回买的别家都压烂了") is None  # crushed, not spoiled
    assert classify("收到的苹果烂了").kind == "spoilage"


def test_hostile_and_oversized_input_is_routed_in_bounded_time():
    import time

    text = normalise("取消" * 5000 + "发票" + "😀" * 3000 + "\x00\u202e")
    start = time.perf_counter()
    for _ in range(20):
        route(text, "jujube")
    assert time.perf_counter() - start < 2.0
    assert all(r.pattern.pattern for r in ROUTES)


def test_counts_prices_and_the_whole_room(desk):  # noqa: F811
    assert "一百二十瓶左右" in ask(desk, "峰蜜还剩多少瓶啊").text
    flash = ask(desk, "15块5的核桃还有没", viewer="s2").text
    assert "三十八份" in flash, flash
    deals = ask(desk, "今天直播间有啥福利 说说", viewer="s3").text
    assert "秒杀" in deals and "立减" in deals and "买二送一" in deals, deals
    room = ask(desk, "这几样都有货吗", viewer="s4").text
    assert "香菇" in room and "卖完" in room, room
    apple = ask(desk, "红富士咋卖 一斤合多少", viewer="s5").text
    assert "五块九毛九" in apple or "5.99" in apple or "五块九" in apple, apple
    real = ask(desk, "核桃15.5一斤是真的假的", viewer="s6").text
    assert "十五块五" in real, real
    avg = ask(desk, "大枣买两斤平均一斤多少钱", viewer="s7").text
    assert "二十七块四" in avg, avg


def test_a_bare_quantity_follow_up_is_priced_in_the_products_unit(desk):  # noqa: F811
    ask(desk, "蜂蜜多钱一瓶", viewer="q1")
    a = ask(desk, "买俩呢", viewer="q1")
    assert "九十六" in a.text and "送" in a.text, a.text


def test_not_sold_and_sold_out_in_one_question(desk):  # noqa: F811
    a = ask(desk, "香菇跟木耳有没有")
    assert "木耳" in a.text and "没有卖" in a.text and "卖完" in a.text, a.text


def test_quantities_go_with_the_product_sold_in_their_unit(desk):  # noqa: F811
    a = ask(desk, "一斤大枣一瓶蜂蜜一共多少", viewer="t1")
    assert "七十七块九" in a.text, a.text
    b = ask(desk, "两斤大枣再加一斤秒杀的核桃 一共多少钱", viewer="t2")
    assert "七十块三" in b.text, b.text
    c = ask(desk, "苹果两箱多少", viewer="t3")
    assert "一百一十九块八" in c.text, c.text


def test_flash_sale_questions_read_the_way_viewers_ask(desk):  # noqa: F811
    other = ask(desk, "大枣有秒杀吗", viewer="f1").text
    assert "没有秒杀" in other and "核桃" in other, other
    both = ask(desk, "核桃15.5是秒杀价吗 平时多少", viewer="f2").text
    assert "二十五块八" in both, both
    start = ask(desk, "秒杀啥时候开始的 我刚进来", viewer="f3")
    assert start.handed_off  # the shop does not record when it began


def test_mixed_english_and_follow_ups_in_english(desk):  # noqa: F811
    a = ask(desk, "Are the 香菇 mushrooms sold out?", viewer="e1")
    assert "sold out" in a.text, a.text
    ask(desk, "大枣多少钱", viewer="e2")
    b = ask(desk, "And if I buy two jin?", viewer="e2")
    assert "54.8" in b.text, b.text
    c = ask(desk, "What's the walnut price after the flash sale ends?", viewer="e3")
    assert "25.8" in c.text, c.text
    d = ask(desk, "What are your customer service hours?", viewer="e4")
    assert "8:00" in d.text and "22:00" in d.text, d.text


def test_pinyin_words_and_a_whole_room_recommendation(desk):  # noqa: F811
    assert "二十九块九" in ask(desk, "dz多少qian一斤", viewer="p1").text
    assert "甜" in ask(desk, "zhe枣tian ma", viewer="p2").text
    rec = ask(desk, "我想给我妈买点补身子的 有啥推荐", viewer="p3")
    assert not rec.handed_off and "礼盒" in rec.text and "补血" not in rec.text, rec.text


def test_unreviewed_claims_about_growing_go_to_a_person_with_the_reason(desk):  # noqa: F811
    for q in ("大枣打没打农药", "苹果打蜡了吗", "核桃有检测报告吗 农残"):
        a = ask(desk, q, viewer="claims")
        assert a.handed_off and a.handoff_reason == "no_fact", (q, a.text)
    sulphur = ask(desk, "大枣熏硫磺了吗", viewer="claims2")  # the sheet's own 自然晾晒 answers
    assert not sulphur.handed_off and "晾晒" in sulphur.text
    restock = ask(desk, "香菇啥时候补货啊", viewer="claims3")
    assert restock.handed_off and restock.handoff_reason == "no_fact"
    unsure = ask(desk, "主播你穿的衣服哪买的", viewer="claims4")
    assert unsure.handed_off and unsure.handoff_reason is None  # low confidence
