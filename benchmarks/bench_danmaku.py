"""Benchmarks for danmaku analysis: held-out accuracy against snownlp, and throughput.

`run()` returns a JSON-able dict; `python -m benchmarks.bench_danmaku` prints it.
Both held-out sets (danmaku/data/README.md) are measured here and never tuned on, for the
current model, the previous one (model_v1.json, trained on the 500 dev lines) and snownlp,
whose 0..1 probability is mapped to pos/neu/neg with two thresholds picked on the DEV split.
Also: throughput on one core, per-kind accuracy, and the mood's timing on the issue's
scenario (30 complaints, 30 praises, silence).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sklearn.metrics import accuracy_score, f1_score

from danmaku.analysis import build, dataset, make_analyzer
from danmaku.analysis.dataset import DEV, load
from danmaku.analysis.embedded import EmbeddedAnalyzer
from danmaku.analysis.model import ARTIFACT
from danmaku.messages import INTENT_PRIORITY, SENTIMENTS

TARGETS = {"sentiment_macro_f1": 0.88, "intent_accuracy": 0.88, "comments_per_s": 20_000}
PREVIOUS = ARTIFACT.with_name("model_v1.json")  # trained on the 500 dev lines (before issue 19)


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


def ours(rows, analyzer=None) -> dict:
    analyses = (analyzer or make_analyzer()).analyze_many([r.text for r in rows])
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


def load_kinds(path) -> list[tuple[dataset.Example, str]]:
    """Held-out rows with their `kind` tag (the intent label when a set has no kinds)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            ex = dataset.Example(row["text"], row["sentiment"], row["intent"])
            out.append((ex, row.get("kind") or row["intent"]))
    return out


def per_kind(analyzer, rows: list[tuple[dataset.Example, str]]) -> dict[str, dict]:
    """Per kind: lines, intent accuracy and sentiment accuracy."""
    got = analyzer.analyze_many([ex.text for ex, _ in rows])
    table: dict[str, list[int]] = {}
    for (ex, kind), a in zip(rows, got, strict=True):
        t = table.setdefault(kind, [0, 0, 0])
        t[0] += 1
        t[1] += a.intent == ex.intent
        t[2] += a.sentiment == ex.sentiment
    return {
        k: {"lines": n, "intent_accuracy": round(i / n, 3), "sentiment_accuracy": round(s / n, 3)}
        for k, (n, i, s) in sorted(table.items())
    }


def heldout_sets() -> dict[str, list[dataset.Example]]:
    sets = {"heldout": dataset.load(dataset.HELDOUT)}
    if dataset.HELDOUT2.exists():
        sets["heldout2"] = dataset.load(dataset.HELDOUT2)
    return sets


def mood_timing() -> dict:
    """The issue's scenario on the room's mood, on a simulated clock: 30 complaints then 30
    praises 0.25 s apart (analysed by the model), then silence."""
    from danmaku.mood import RoomMood

    analyzer = make_analyzer()
    neg = analyzer.analyze_many(
        ["太贵了", "发货太慢了", "大枣烂了好几个", "质量太差了", "客服不回消息"]
    )
    pos = analyzer.analyze_many(["好吃", "yyds", "大枣真甜", "主播真实在", "太香了"])
    now = [0.0]
    mood = RoomMood(clock=lambda: now[0])
    for i in range(30):
        now[0] += 0.25
        mood.update(neg[i % len(neg)])
    upset = mood.snapshot().label
    start, follow = now[0], None
    for i in range(30):
        now[0] += 0.25
        mood.update(pos[i % len(pos)])
        if follow is None and mood.snapshot().label in ("happy", "excited"):
            follow = now[0] - start
    after, quiet = mood.snapshot().label, now[0]
    while mood.snapshot().label != "calm" and now[0] - quiet < 600:
        now[0] += 0.1
    return {
        "label_after_complaints": upset,
        "label_after_praise": after,
        "seconds_to_follow_praise": round(follow, 2) if follow is not None else None,
        "seconds_of_silence_to_calm": round(now[0] - quiet, 1),
        "half_life_s": mood._fast.half_life,
    }


def run(seconds: float = 2.0) -> dict:
    from snownlp import SnowNLP

    dev = load(DEV)
    analyzer = make_analyzer()
    previous = EmbeddedAnalyzer(PREVIOUS)
    sets = heldout_sets()
    texts = [r.text for r in sets["heldout"]]
    with one_core():
        ours_rate = throughput(analyzer.analyze_many, texts * 20, seconds)
        single_rate = throughput(lambda ts: [analyzer.analyze(t) for t in ts], texts, seconds)
        snow_rate = throughput(lambda ts: [SnowNLP(t).sentiments for t in ts], texts, seconds)
    quality = {name: ours(rows) for name, rows in sets.items()}
    out: dict = {
        "training_lines": len(build.training_set()),
        **{f"{name}_lines": len(rows) for name, rows in sets.items()},
        **{f"embedded_{name}": q for name, q in quality.items()},
        **{f"previous_model_{name}": ours(rows, previous) for name, rows in sets.items()},
        **{f"snownlp_{name}": snownlp_baseline(dev, rows) for name, rows in sets.items()},
        "per_kind": {
            name: per_kind(analyzer, load_kinds(path))
            for name, path in (("heldout", dataset.HELDOUT), ("heldout2", dataset.HELDOUT2))
            if path.exists()
        },
        "throughput_one_core": {
            "embedded_analyze_many_per_s": round(ours_rate),
            "embedded_analyze_one_by_one_per_s": round(single_rate),
            "snownlp_per_s": round(snow_rate),
            "embedded_vs_snownlp": round(ours_rate / snow_rate, 1),
        },
        "mood": mood_timing(),
        "targets": TARGETS,
    }
    out["meets_targets"] = ours_rate >= TARGETS["comments_per_s"] and all(
        q["sentiment_macro_f1"] >= TARGETS["sentiment_macro_f1"]
        and q["intent_accuracy"] >= TARGETS["intent_accuracy"]
        for q in quality.values()
    )
    return out


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
