"""Benchmarks for danmaku analysis: held-out accuracy against snownlp, and throughput.

`run()` returns a JSON-able dict; `python -m benchmarks.bench_danmaku` prints it.
The held-out split (danmaku/data/README.md) is measured here and never tuned on. snownlp's
0..1 probability is mapped to pos/neu/neg with two thresholds picked on the DEV split.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sklearn.metrics import accuracy_score, f1_score

from danmaku.analysis import make_analyzer
from danmaku.analysis.dataset import DEV, HELDOUT, load
from danmaku.messages import INTENT_PRIORITY, SENTIMENTS

TARGETS = {"sentiment_macro_f1": 0.85, "intent_accuracy": 0.85, "comments_per_s": 20_000}


@contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to one CPU while measuring, so "per core" means one core."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def throughput(fn: Callable[[list[str]], object], texts: list[str], min_seconds: float) -> float:
    fn(texts[:50])  # warm-up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < min_seconds or done == 0:
        fn(texts)
        done += len(texts)
    return done / elapsed


def _per_class_f1(true: list[str], pred: list[str], labels) -> dict[str, float]:
    scores = f1_score(true, pred, labels=list(labels), average=None, zero_division=0)
    return {k: round(float(v), 4) for k, v in zip(labels, scores, strict=True)}


def ours(rows) -> dict:
    analyses = make_analyzer().analyze_many([r.text for r in rows])
    s_true, s_pred = [r.sentiment for r in rows], [a.sentiment for a in analyses]
    i_true, i_pred = [r.intent for r in rows], [a.intent for a in analyses]
    return {
        "sentiment_macro_f1": round(f1_score(s_true, s_pred, average="macro"), 4),
        "sentiment_f1": _per_class_f1(s_true, s_pred, SENTIMENTS),
        "intent_accuracy": round(accuracy_score(i_true, i_pred), 4),
        "intent_macro_f1": round(f1_score(i_true, i_pred, average="macro"), 4),
        "intent_f1": _per_class_f1(i_true, i_pred, INTENT_PRIORITY),
    }


def _three_way(p: float, low: float, high: float) -> str:
    return "pos" if p >= high else "neg" if p <= low else "neu"


def snownlp_baseline(dev, heldout) -> dict:
    from snownlp import SnowNLP

    def probs(rows) -> list[float]:
        return [SnowNLP(r.text).sentiments if r.text.strip() else 0.5 for r in rows]

    dev_p, dev_true = probs(dev), [r.sentiment for r in dev]
    grid = [i / 20 for i in range(1, 20)]
    best = max(
        ((lo, hi) for lo in grid for hi in grid if lo < hi),
        key=lambda t: f1_score(
            dev_true, [_three_way(p, *t) for p in dev_p], average="macro", zero_division=0
        ),
    )
    true = [r.sentiment for r in heldout]
    pred = [_three_way(p, *best) for p in probs(heldout)]
    return {
        "thresholds_picked_on_dev": {"neg_at_or_below": best[0], "pos_at_or_above": best[1]},
        "sentiment_macro_f1": round(f1_score(true, pred, average="macro", zero_division=0), 4),
        "sentiment_f1": _per_class_f1(true, pred, SENTIMENTS),
    }


def run(seconds: float = 2.0) -> dict:
    from snownlp import SnowNLP

    dev, heldout = load(DEV), load(HELDOUT)
    analyzer = make_analyzer()
    texts = [r.text for r in heldout]
    with one_core():
        ours_rate = throughput(analyzer.analyze_many, texts * 20, seconds)
        single_rate = throughput(lambda ts: [analyzer.analyze(t) for t in ts], texts, seconds)
        snow_rate = throughput(lambda ts: [SnowNLP(t).sentiments for t in ts], texts, seconds)
    quality = ours(heldout)
    return {
        "heldout_lines": len(heldout),
        "dev_lines": len(dev),
        "embedded_heldout": quality,
        "embedded_dev_trained_on": {
            k: v for k, v in ours(dev).items() if k in ("sentiment_macro_f1", "intent_accuracy")
        },
        "snownlp_heldout": snownlp_baseline(dev, heldout),
        "throughput_one_core": {
            "embedded_analyze_many_per_s": round(ours_rate),
            "embedded_analyze_one_by_one_per_s": round(single_rate),
            "snownlp_per_s": round(snow_rate),
            "embedded_vs_snownlp": round(ours_rate / snow_rate, 1),
        },
        "targets": TARGETS,
        "meets_targets": quality["sentiment_macro_f1"] >= TARGETS["sentiment_macro_f1"]
        and quality["intent_accuracy"] >= TARGETS["intent_accuracy"]
        and ours_rate >= TARGETS["comments_per_s"],
    }


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
