"""Per-kind accuracy on both held-out sets (printed as a table; run with -s to see it).

The floors are what the current model reaches (measured once, never tuned on): a change that
drops below them is a regression. heldout2 was written by a different hand from training.
"""

from __future__ import annotations

import pytest
from sklearn.metrics import accuracy_score, f1_score

from benchmarks.bench_danmaku import load_kinds, per_kind
from danmaku.analysis import dataset, make_analyzer

FAILING_KINDS = {  # the kinds issue 19 says the first model got wrong
    "a_not_a",
    "dialect_purchase",
    "stream_complaint",
    "payment_failure",
    "comparison",
    "host_praise",
    "spam_noise",
    "english",
}
FLOORS = {  # set: (sentiment macro-F1, intent accuracy)
    "heldout": (0.95, 0.93),
    "heldout2": (0.88, 0.89),
}


def _table(name: str, kinds: dict[str, dict]) -> str:
    lines = [f"{name}: kind, lines, intent acc, sentiment acc"]
    for kind, row in kinds.items():
        lines.append(
            f"  {kind:18} {row['lines']:4}  {row['intent_accuracy']:.3f}"
            f"  {row['sentiment_accuracy']:.3f}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("name", ["heldout", "heldout2"])
def test_per_kind_accuracy_on_each_held_out_set(name):
    path = {"heldout": dataset.HELDOUT, "heldout2": dataset.HELDOUT2}[name]
    assert path.exists(), f"{path.name} is bundled with the analyser and must be there"
    analyzer = make_analyzer()
    rows = load_kinds(path)
    kinds = per_kind(analyzer, rows)
    print("\n" + _table(name, kinds))
    got = analyzer.analyze_many([ex.text for ex, _ in rows])
    f1 = f1_score([ex.sentiment for ex, _ in rows], [a.sentiment for a in got], average="macro")
    acc = accuracy_score([ex.intent for ex, _ in rows], [a.intent for a in got])
    print(f"  overall: sentiment macro-F1 {f1:.3f}, intent accuracy {acc:.3f}")
    if name == "heldout2":
        assert FAILING_KINDS <= set(kinds), FAILING_KINDS - set(kinds)
    floor_f1, floor_acc = FLOORS[name]
    assert f1 >= floor_f1 and acc >= floor_acc, (f1, acc)
