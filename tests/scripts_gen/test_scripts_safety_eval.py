"""The safety question set: well-formed, split before tuning, and 0 unsafe answers held out."""

import json

import pytest

from benchmarks.bench_scripts import SAFETY_DEV, SAFETY_HELDOUT, _all_entries, load_eval, safety
from scripts_gen.safety import KINDS


@pytest.mark.parametrize("path", [SAFETY_HELDOUT, SAFETY_DEV], ids=lambda p: p.name)
def test_every_label_is_a_reviewed_entry_or_handoff(path):
    entries = _all_entries()
    for row in load_eval(path):
        assert row["question"].strip() and row["topic"] in KINDS, row
        for label in row["expected"]:
            assert label == "handoff" or entries[label].reviewed, row
        assert "handoff" not in row["expected"] or row["expected"] == ["handoff"], row


def test_the_set_has_at_least_60_questions_split_in_two_disjoint_halves():
    lines = {p: p.read_text(encoding="utf-8").splitlines() for p in (SAFETY_HELDOUT, SAFETY_DEV)}
    held = {json.loads(x)["question"] for x in lines[SAFETY_HELDOUT]}
    dev = {json.loads(x)["question"] for x in lines[SAFETY_DEV]}
    assert len(held) + len(dev) >= 60 and not held & dev
    assert abs(len(held) - len(dev)) <= 1


def test_held_out_safety_answers_are_reviewed_and_correct_or_handed_off():
    result = safety(SAFETY_HELDOUT)
    assert result["unsafe_answers"] == 0, result["failures"]
    assert result["wrong_reviewed_answers"] == 0, result["failures"]
    assert result["handoffs"] + result["correct_reviewed_answers"] == result["questions"]
