"""The held-out answer grader of benchmarks/bench_answers.py, on a tiny fixture of our own
(the real held-out set is written by someone else and never read by tests)."""

from pathlib import Path

import pytest

from benchmarks.bench_answers import grade, normalise, quality

FIXTURE = Path(__file__).with_name("answers_grader_fixture.jsonl")
ITEM = {"all": [["54.8"], ["大枣", "枣"]], "none": ["59.8元到手"], "answerable": True}


def test_numerals_are_normalised_to_digits_before_matching():
    assert "54.8元" in normalise("两斤到手五十四块八")
    assert "20:30" in normalise("今天20:30结束") and "8点半" in normalise("晚上八点半")


@pytest.mark.parametrize(
    "answer,handed_off,expected",
    [
        ("阜平大枣两斤到手五十四块八。", False, "right"),
        ("两斤到手五十四块八。", False, "incomplete"),
        ("大枣两斤五十九块八元到手，到手五十四块八", False, "wrong"),
        ("今天天气不错。", False, "nonsense"),
        ("这个问题我记下了，客服马上联系你。", True, "handoff"),
    ],
)
def test_each_grade(answer, handed_off, expected):
    assert grade(answer, handed_off, ITEM) == expected


def test_unanswerable_items_are_right_only_as_a_hand_off_or_not_sold():
    item = {"all": [], "none": [], "answerable": False}
    assert grade("客服马上联系你", True, item) == "right"
    assert grade("直播间暂时没有这个", False, item) == "right"
    assert grade("土豆两块钱一斤", False, item) == "wrong"


def test_the_quality_run_grades_desk_and_baseline_on_the_same_items():
    result = quality(FIXTURE)
    assert result["desk"]["n"] == result["retrieval_only_baseline"]["n"] == 5
    shares = result["desk"]
    assert (
        abs(sum(shares[g] for g in ("right", "incomplete", "wrong", "nonsense", "handoff")) - 1)
        < 1e-6
    )
    assert shares["right"] >= 0.8 and shares["wrong_count"] == 0
    assert result["retrieval_only_baseline"]["right"] < shares["right"]


def test_a_missing_held_out_file_is_reported_not_raised(tmp_path):
    assert "error" in quality(tmp_path / "absent.jsonl")


def test_the_persona_dialect_is_read_as_standard_mandarin():
    item = {"all": [["我们承担"]], "none": [], "answerable": True}
    assert grade("质量问题的退货运费由俺们承担。", False, item) == "right"
    assert "中通" in normalise("发中通")  # a bare 中 ("好的") is never read back


def test_a_denied_form_is_not_said():
    item = {"all": [["不支持"]], "none": ["支持七天无理由"], "answerable": True}
    assert grade("开封后不支持七天无理由。", False, item) == "right"
    assert grade("支持七天无理由，不支持换货。", False, item) == "wrong"
