"""The Baoding dialect layer: rules from the data file, verified on their own examples."""

import pytest

from scripts_gen.dialect import apply_dialect, get_dialect

BAODING = get_dialect("baoding")


@pytest.mark.parametrize("rule", BAODING.rules, ids=lambda r: r.source)
def test_every_rule_example_in_the_data_file_holds(rule):
    assert rule.example_in and rule.example_out
    assert BAODING.apply(rule.example_in) == rule.example_out


def test_core_mappings_from_the_issue():
    out = apply_dialect("我觉得这个很好吃，你想吃什么？好的，没问题。", "baoding")
    assert "俺" in out and "忒" in out and "啥" in out and "我" not in out


def test_numbers_prices_and_product_names_are_never_touched():
    text = "我们的阜平大枣二十九块九一斤，很甜，还有500斤，两斤立减5元。"
    out = apply_dialect(text, "baoding", protected=("阜平大枣", "大枣"))
    for fact in ("阜平大枣", "二十九块九", "500斤", "两斤立减5元"):
        assert fact in out
    assert out.startswith("俺们")


def test_variants_take_turns_when_asked():
    dialect = get_dialect("baoding")
    seen = {dialect.apply("核桃很香。", vary=True) for _ in range(4)}
    assert seen == {"核桃忒香。", "核桃倍儿香。"}


def test_mandarin_personas_are_left_alone():
    assert apply_dialect("我很喜欢。", "mandarin") == "我很喜欢。"
