"""KB text handling: colloquial normalisation, product detection, quiet logging."""

import logging

import pytest

from scripts_gen.kb import Entry, KnowledgeBase, default_kb


@pytest.fixture(scope="module")
def kb():
    return default_kb()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("枣甜不甜", "枣甜"),
        ("苹果打没打蜡", "苹果打蜡"),
        ("包邮不", "包邮"),
        ("包油吗", "包邮吗"),
        ("坏了咋办", "坏了怎么办"),
        ("阜平在哪儿", "阜平在哪"),
        ("这是嘛品种", "这是什么品种"),
        ("ＡＢＣ蜂蜜", "abc蜂蜜"),
    ],
)
def test_colloquial_text_is_normalised(kb, text, expected):
    assert kb.tokenize.normalise(text) == expected


def test_products_are_found_inside_glued_words(kb):
    assert kb.tokenize.products_in("枣皮皱皱巴巴的") == {"大枣"}
    assert kb.tokenize.products_in("栗子和蘑菇") == {"板栗", "香菇"}
    assert kb.tokenize.products_in("啥时候发货") == set()


def test_a_named_product_keeps_answers_on_that_product(kb):
    hits = kb.search("枣皮皱皱巴巴的正常吗", k=3)
    assert hits and all(h.entry.sku in (None, "fp-jujube-500g") for h in hits)
    assert hits[0].entry.id == "kb-jujube-wrinkle"


def test_a_question_naming_no_product_prefers_shop_wide_entries(kb):
    for question in ("啥时候发货", "能开票不", "退款多长时间到"):
        hits = kb.search(question, k=1)
        assert hits and hits[0].entry.sku is None, question


def test_building_and_searching_a_kb_logs_nothing_below_warning(caplog):
    entries = [Entry("kb-x-1", "faq", "多久发货？", "下单后四十八小时内发货。")]
    with caplog.at_level(logging.DEBUG):
        kb = KnowledgeBase(entries)
        assert kb.search("啥时候发货")[0].entry.id == "kb-x-1"
    noisy = [r for r in caplog.records if r.name.split(".")[0] in ("bm25s", "jieba")]
    assert [r for r in noisy if r.levelno < logging.WARNING] == []
    assert logging.getLogger("bm25s").getEffectiveLevel() >= logging.WARNING
