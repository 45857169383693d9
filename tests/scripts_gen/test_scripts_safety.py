"""Safety before fluency: the safety class, reviewed answers, and refusing unsafe lines."""

import random

import pytest

from commerce.demo import DEMO_PRODUCTS, demo_product
from scripts_gen import AnswerContext, SegmentContext, make_writer
from scripts_gen.desk import ServiceDesk
from scripts_gen.grounding import FactSheet, check_line
from scripts_gen.kb import Entry, KnowledgeBase, default_kb
from scripts_gen.loopback import LoopbackOpenAI
from scripts_gen.safety import KINDS, SafetyIndex, classify, rules, violations

UNSAFE = [  # (line, the question it answers)
    ("小孩可以吃蜂蜜，家长看着点。", "蜂蜜能给一岁宝宝吃吗"),
    ("可以吃，家长看着点。", "蜂蜜能给一岁宝宝吃吗"),
    ("一岁宝宝喝点蜂蜜水没问题。", ""),
    ("核桃是日常食品，没有特别禁忌，过敏体质的朋友先少量尝试。", "对坚果过敏能吃核桃吗"),
    ("过敏的朋友少吃一点试试。", "对核桃过敏能吃吗"),
    ("糖尿病人可以放心吃大枣。", ""),
    ("血糖高也能随便吃，不升糖。", "糖尿病能吃蜂蜜吗"),
    ("枣子发霉了洗洗还能吃。", ""),
    ("霉点挖掉剩下的照样吃。", "核桃发霉了"),
    ("三岁宝宝整颗核桃可以吃。", ""),
    ("小孩吃核桃不会噎。", ""),
    ("孕妇多吃大枣能安胎。", ""),
    ("香菇可以生吃。", ""),
    ("吃了核桃就不用吃药了。", ""),
    ("高血压吃这个能降。", ""),
]
SAFE = [
    ("一岁以内的宝宝不能吃蜂蜜，有婴儿肉毒杆菌中毒的风险。", "蜂蜜能给一岁宝宝吃吗"),
    ("对核桃过敏的朋友一定别吃，也不要少量尝试。", "对坚果过敏能吃核桃吗"),
    ("发了霉的洗过、晒过也不能吃，拍照联系客服。", "枣发霉了还能吃吗"),
    ("蜂蜜主要是糖，血糖高的朋友不能随便吃，听医生的。", "糖尿病能吃蜂蜜吗"),
    ("三岁以下的孩子不要吃整颗核桃，要磨碎了，大人看着吃。", "小孩能吃核桃吗"),
    ("阜平荆条蜜清甜带花香，冲水喝很方便。", ""),
    ("小孩吃核桃会不会噎着？三岁以下要磨碎。", ""),
]


@pytest.fixture(scope="module")
def desk():
    return ServiceDesk()


def ask(desk, question, **ctx):
    context = AnswerContext(products=DEMO_PRODUCTS, viewer_id=question, **ctx)
    return desk.answer(question, context, random.Random(1))


@pytest.mark.parametrize(
    "question,kind",
    [
        ("蜂蜜能给一岁宝宝吃吗", "infant"),
        ("俺家娃八个月了能喝蜂蜜水不", "infant"),
        ("对坚果过敏能吃核桃吗", "allergy"),
        ("怀孕了能吃栗子吗", "pregnancy"),
        ("小孩吃核桃会不会卡着", "choking"),
        ("孩子能吃苹果吗", "child"),
        ("糖友能吃小米不", "diabetes"),
        ("高血压能吃核桃吗", "chronic"),
        ("枣子长白毛了", "spoilage"),
        ("吃枣能补血吗", "medical"),
        ("孩子吞了枣核怎么办", "incident"),
    ],
)
def test_the_desk_recognises_the_safety_class(question, kind):
    topic = classify(question)
    assert topic is not None and topic.kind == kind and topic.label


@pytest.mark.parametrize(
    "question", ["大枣多少钱", "核桃打农药吗", "宝宝们这个多少钱", "蜂蜜结晶了是假的吗", "包邮吗"]
)
def test_ordinary_questions_are_not_in_the_safety_class(question):
    assert classify(question) is None


@pytest.mark.parametrize("line,question", UNSAFE)
def test_lines_that_contradict_a_reviewed_rule_are_refused(line, question):
    assert violations(line, question), line
    verdict = check_line(line, FactSheet.build(DEMO_PRODUCTS), context=question)
    assert not verdict.ok and any(p.startswith("unsafe") for p in verdict.problems)


@pytest.mark.parametrize("line,question", SAFE)
def test_lines_that_follow_the_rules_pass(line, question):
    assert violations(line, question) == []


def test_every_rule_cites_the_guidance_it_follows():
    assert len(rules()) >= 8
    for rule in rules():
        assert rule.says and len(rule.citation) > 10, rule.id


def test_no_kb_entry_contradicts_a_rule_and_reviewed_entries_cite_their_source():
    kb = default_kb()
    index = SafetyIndex(kb).kb
    for e in [*kb.entries, *index.entries]:
        assert violations(e.answer, e.question) == [], e.id
        assert set(e.safety) <= set(KINDS), e.id
        if e.safety:
            assert e.reviewed, e.id
        if e.reviewed:
            assert e.citation, e.id
    reviewed = [e for e in kb.entries if e.reviewed]
    assert 50 <= len(reviewed) < len(kb.entries)  # only what was actually checked


def test_the_generic_entries_that_harmed_buyers_are_rewritten():
    kb = default_kb()
    honey_kids = kb.by_id["kb-honey-kids"]
    assert "不能吃蜂蜜" in honey_kids.answer and honey_kids.reviewed
    assert "WHO" in honey_kids.citation or "世界卫生组织" in honey_kids.citation
    for e in kb.entries:
        assert "少量尝试" not in e.answer.replace("不要少量尝试", ""), e.id
        assert "小孩可以吃" not in e.answer, e.id


def test_the_two_harmful_answers_from_the_issue_are_now_safe(desk):
    honey = ask(desk, "蜂蜜能给一岁宝宝吃吗")
    assert not honey.handed_off and honey.safety == "infant"
    assert "不能吃蜂蜜" in honey.text and honey.sources == ("kb-honey-kids",)
    nuts = ask(desk, "对坚果过敏能吃核桃吗")
    assert nuts.safety == "allergy" and violations(nuts.text, "对坚果过敏能吃核桃吗") == []
    assert nuts.handed_off or "别吃" in nuts.text


def test_a_safety_question_without_a_reviewed_answer_goes_to_a_human(desk):
    answer = ask(desk, "孩子吞了枣核怎么办")
    assert answer.handed_off and answer.ticket_id and answer.safety == "incident"
    assert "医院" in answer.text


def test_only_reviewed_entries_answer_safety_questions():
    unsafe = Entry(
        "kb-x-kids", "nutrition", "小孩能吃蜂蜜吗？", "小孩能吃，家长看着点。", "fp-honey-500g"
    )
    plain = Entry("kb-x-ship", "shipping", "多久发货？", "下单后四十八小时内发货。")
    desk = ServiceDesk(KnowledgeBase([unsafe, plain]))
    answer = ask(desk, "宝宝能吃蜂蜜吗")
    # the unreviewed entry matches best, yet only the shop-wide reviewed entry may answer
    assert answer.sources == ("kb-safety-infant",) and "不能吃蜂蜜" in answer.text
    no_generic = ServiceDesk(KnowledgeBase([unsafe, plain]))
    no_generic.safety_index = SafetyIndex(no_generic.kb, extra_paths=())
    answer = ask(no_generic, "宝宝能吃蜂蜜吗")
    assert answer.handed_off and answer.sources == () and answer.safety == "infant"


def test_an_ordinary_question_hitting_an_unsafe_entry_is_refused_not_spoken():
    entry = Entry(
        "kb-x-water", "nutrition", "蜂蜜怎么冲水喝？", "温水冲，宝宝也能喝。", "fp-honey-500g"
    )
    desk = ServiceDesk(KnowledgeBase([entry]))
    answer = ask(desk, "蜂蜜怎么冲水喝")
    assert answer.handed_off and "宝宝也能喝" not in answer.text


@pytest.mark.parametrize(
    "question,ids,words",
    [
        ("蜂蜜结晶了是不是假的", ("kb-honey-wrinkle", "kb-honey-color"), "不是假蜜|不代表是假蜜"),
        ("枣能放多久", ("kb-jujube-shelf",), "一年"),
        ("香菇是野生的吗", ("kb-mushroom-variety", "kb-mushroom-plant"), "人工种"),
    ],
)
def test_common_gaps_are_answered_from_reviewed_entries(desk, question, ids, words):
    answer = ask(desk, question)
    assert not answer.handed_off and answer.sources[0] in ids, answer
    assert default_kb().by_id[answer.sources[0]].reviewed
    assert any(w in answer.text for w in words.split("|")), answer.text


async def test_template_lines_never_contradict_a_rule():
    writer = make_writer({"seed": 7})
    for i in range(21):
        product = DEMO_PRODUCTS[i % len(DEMO_PRODUCTS)]
        persona = ("xiaowang", "xiaoli", "xiaozhang")[i % 3]
        async for line in writer.segment(product, SegmentContext(persona=persona)):
            assert violations(line.text) == [], line.text


UNSAFE_SCRIPT = (
    "阜平荆条蜜清甜带花香。",
    "一岁宝宝也可以喝蜂蜜水。",
    "糖尿病人放心吃，不升糖。",
    "过敏体质的朋友先少量尝试。",
    "发霉了洗洗照样吃。",
    "喜欢的点下面的购物车。",
)


async def test_openai_segment_lines_that_contradict_a_rule_are_rewritten():
    honey = demo_product("蜂蜜")
    with LoopbackOpenAI(script=UNSAFE_SCRIPT) as server:
        config = {"backend": "openai", "base_url": server.base_url, "timeout": 2.0}
        writer = make_writer(config)
        lines = [line async for line in writer.segment(honey, SegmentContext())]
        await writer.aclose()
    assert server.requests and writer.stats()["fallbacks"] == 0
    assert writer.stats()["rewrites"] >= 4
    assert any("清甜带花香" in line.text for line in lines)  # the safe phrase was kept
    for line in lines:
        assert violations(line.text) == [], line.text
        for bad in ("少量尝试", "照样吃", "宝宝也可以喝", "放心吃"):
            assert bad not in line.text


async def test_openai_split_claim_over_two_phrases_is_refused():
    honey = demo_product("蜂蜜")
    script = ("这款蜂蜜特别适合宝宝。", "冲水可以喝，家长放心。", "喜欢的点下面的购物车。")
    with LoopbackOpenAI(script=script) as server:
        writer = make_writer({"backend": "openai", "base_url": server.base_url})
        lines = [line async for line in writer.segment(honey, SegmentContext())]
        await writer.aclose()
    assert all("冲水可以喝" not in line.text for line in lines)


async def test_openai_answer_rephrase_that_contradicts_a_rule_is_refused():
    with LoopbackOpenAI(script=("温水冲着喝就行，宝宝也能喝。",)) as server:
        writer = make_writer({"backend": "openai", "base_url": server.base_url})
        ctx = AnswerContext(products=DEMO_PRODUCTS)
        answer = await writer.answer("蜂蜜怎么吃", ctx)
        await writer.aclose()
    assert server.requests  # the model was asked to rephrase an ordinary answer
    assert "宝宝也能喝" not in answer.text and writer.stats()["rewrites"] == 1
    assert violations(answer.text, "蜂蜜怎么吃") == []


async def test_openai_never_rephrases_a_safety_answer():
    with LoopbackOpenAI(script=("可以吃，家长看着点。",)) as server:
        writer = make_writer({"backend": "openai", "base_url": server.base_url})
        ctx = AnswerContext(products=DEMO_PRODUCTS)
        answer = await writer.answer("蜂蜜能给一岁宝宝吃吗", ctx)
        await writer.aclose()
    assert server.requests == []  # the reviewed answer is said as written
    assert answer.sources == ("kb-honey-kids",) and "不能吃蜂蜜" in answer.text


def test_hostile_input_never_crashes_the_classifier_or_the_checker(desk):
    for text in ("", "   ", "霉" * 5000, "\x00\ud7ff过敏", "(((" * 100, "宝宝" * 300):
        classify(text)
        violations(text, text)
        assert ask(desk, text).line is not None
