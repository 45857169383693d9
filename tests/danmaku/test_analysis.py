"""Sentiment + intent of danmaku: slang, priority, hostile text, the data protocol, backends."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from danmaku.analysis import MAX_CHARS, Analyzer, build, dataset, make_analyzer
from danmaku.analysis.embedded import decide_intent
from danmaku.analysis.model import ARTIFACT, INTENT_CLASSES
from danmaku.messages import INTENT_PRIORITY, SENTIMENTS, Analysis

ROOT = Path(__file__).resolve().parents[2]

# (text, sentiment, intent) as the labelling guidelines in danmaku/data/README.md say
SLANG = [
    ("上链接", "pos", "purchase"),
    ("已拍", "pos", "purchase"),
    ("蜂蜜结晶了是不是假的", "neu", "question"),
    ("嘛时候发货", "neu", "question"),
    ("忒甜了", "pos", "praise"),
    ("yyds", "pos", "praise"),
    ("666", "pos", "praise"),
    ("拍了两单", "pos", "purchase"),
    ("主播好", "neu", "greeting"),
    ("来了", "neu", "greeting"),
    ("多少钱", "neu", "question"),
    ("怎么还不发货", "neg", "complaint"),
    ("烂了", "neg", "complaint"),
    ("坏了", "neg", "complaint"),
    ("退款", "neg", "complaint"),
    ("太贵了", "neg", "complaint"),
    ("加V", "neu", "spam"),
    ("加微信", "neu", "spam"),
    ("vx", "neu", "spam"),
    ("QQ号", "neu", "spam"),
    ("https://t.cn/abc", "neu", "spam"),
    ("扣1", "pos", "purchase"),
    ("想要", "pos", "purchase"),
    ("已下单", "pos", "purchase"),
    ("好吃", "pos", "praise"),
    ("回购", "pos", "purchase"),
    ("支持", "pos", "praise"),
]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return make_analyzer()


@pytest.mark.parametrize(("text", "sentiment", "intent"), SLANG)
def test_live_room_slang_is_understood(analyzer, text, sentiment, intent):
    a = analyzer.analyze(text)
    assert (a.sentiment, a.intent) == (sentiment, intent)
    assert (
        (a.score > 0.3)
        if sentiment == "pos"
        else (a.score < -0.3)
        if sentiment == "neg"
        else (abs(a.score) < 0.5)
    )


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("都五天了怎么还不发货？", "complaint"),  # question + complaint
        ("想要 多少钱一箱", "question"),  # purchase + question
        ("好吃 想要 加V更便宜", "spam"),  # praise + purchase + spam
        ("主播好 枣子烂了三个", "complaint"),  # greeting + complaint
        ("退款吗？私信我 www.tb.cn", "spam"),  # spam beats everything
        ("已拍 真甜", "purchase"),  # purchase + praise
    ],
)
def test_when_several_intents_fit_the_priority_order_decides(analyzer, text, intent):
    assert analyzer.analyze(text).intent == intent


def test_decide_intent_takes_the_highest_priority_class_above_threshold():
    order = list(INTENT_CLASSES)
    probs = np.zeros((3, len(order)))
    probs[0, [order.index("praise"), order.index("question")]] = [0.6, 0.4]
    probs[1, [order.index("other"), order.index("greeting")]] = [0.8, 0.2]
    probs[2, [order.index("other"), order.index("praise")]] = [0.9, 0.1]
    chosen, _ = decide_intent(probs, 0.3, ["a", "b", "加v c"])
    assert [order[i] for i in chosen] == ["question", "other", "spam"]
    assert tuple(INTENT_PRIORITY) == (
        "spam",
        "complaint",
        "question",
        "purchase",
        "praise",
        "greeting",
        "other",
    )


HOSTILE = [
    "",
    "   \t  ",
    "\u200b\u200c\u200d\ufeff",
    "😂" * 5000,
    "哈" * 100_000,
    "a\ud800b\udfff",
    "\x00\x01\x1b[31m",
    "上" + "\u0301" * 300,
    "\U0010ffff" * 50,
    "🇨🇳" * 1000 + "上链接",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_never_crashes_and_gives_a_valid_analysis(analyzer, text):
    a = analyzer.analyze(text)
    assert isinstance(a, Analysis)
    assert a.sentiment in SENTIMENTS and a.intent in INTENT_PRIORITY
    assert -1.0 <= a.score <= 1.0 and 0.0 <= a.confidence <= 1.0


def test_empty_and_invisible_text_is_neutral_other(analyzer):
    for text in ("", "  ", "\u200b\u2060\ufeff"):
        assert analyzer.analyze(text) == Analysis("neu", 0.0, "other", 1.0)


def test_zero_width_chars_do_not_hide_a_comment(analyzer):
    a = analyzer.analyze("上\u200b链\u200d接")
    assert a.intent == "purchase"


def test_only_a_capped_prefix_is_analysed(analyzer):
    long = "怎么还不发货" + "嗯" * 100_000
    assert analyzer.analyze(long) == analyzer.analyze(long[: MAX_CHARS * 2])
    assert analyzer.analyze(long).intent == "complaint"


def test_analysis_is_deterministic_and_batching_changes_nothing(analyzer):
    texts = [r.text for r in dataset.load(dataset.HELDOUT)][:80] + HOSTILE[:4]
    first = analyzer.analyze_many(texts)
    assert first == analyzer.analyze_many(texts)
    assert first == [analyzer.analyze(t) for t in texts]
    fresh = make_analyzer({"backend": "embedded", "artifact": ARTIFACT})
    assert fresh is not analyzer and fresh.analyze_many(texts) == first


def test_labelled_set_is_big_enough_and_labels_are_valid():
    rows = dataset.load(dataset.LABELLED)
    assert len(rows) >= 600
    assert len({r.text for r in rows}) == len(rows)
    assert {r.sentiment for r in rows} == set(SENTIMENTS)
    assert {r.intent for r in rows} == set(INTENT_PRIORITY)


def test_held_out_split_is_disjoint_and_reproducible_from_the_seed():
    rows = dataset.load(dataset.LABELLED)
    dev, heldout = dataset.load(dataset.DEV), dataset.load(dataset.HELDOUT)
    assert dataset.split(rows, dataset.SPLIT_SEED) == (dev, heldout)
    assert not {r.text for r in dev} & {r.text for r in heldout}
    assert sorted(map(repr, dev + heldout)) == sorted(map(repr, rows))
    assert dataset.split(rows, dataset.SPLIT_SEED + 1) != (dev, heldout)


def test_held_out_quality_floor(analyzer):
    rows = dataset.load(dataset.HELDOUT)
    got = analyzer.analyze_many([r.text for r in rows])
    macro_f1 = f1_score([r.sentiment for r in rows], [a.sentiment for a in got], average="macro")
    accuracy = accuracy_score([r.intent for r in rows], [a.intent for a in got])
    assert macro_f1 >= 0.85 and accuracy >= 0.85, (macro_f1, accuracy)


def test_artifact_is_compact_and_rebuilds_from_its_sources(tmp_path):
    assert ARTIFACT.stat().st_size < 5_000_000
    out = tmp_path / "model.json"
    assert build.main(["--out", str(out)]) == 0
    old, new = json.loads(ARTIFACT.read_text()), json.loads(out.read_text())
    assert old["vocab"] == new["vocab"] and old["review_nb"] == new["review_nb"]
    assert np.allclose(old["ngram_weights"], new["ngram_weights"], atol=2e-3)
    assert np.allclose(old["dense_weights"], new["dense_weights"], atol=2e-3)


def test_runtime_imports_neither_snownlp_nor_sklearn():
    code = (
        "import sys; from danmaku.analysis import make_analyzer;"
        "assert make_analyzer().analyze('上链接').intent == 'purchase';"
        "bad = [m for m in ('snownlp', 'sklearn', 'scipy', 'torch', 'transformers')"
        " if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_unknown_backend_and_missing_model_are_clear_value_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown danmaku analysis backend"):
        make_analyzer({"backend": "gpt"})
    with pytest.raises(ValueError, match="model_dir"):
        make_analyzer({"backend": "transformers"})
    with pytest.raises(ValueError, match="not a model directory"):
        make_analyzer({"backend": "transformers", "model_dir": str(tmp_path)})
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a usable"):
        make_analyzer({"backend": "transformers", "model_dir": str(tmp_path)})


JOINT = [
    "neu/spam",
    "neg/complaint",
    "neu/question",
    "pos/purchase",
    "pos/praise",
    "neu/greeting",
    "neu/other",
]


def tiny_classifier(out: Path, labels: list[str]) -> Path:
    """A 1-layer BERT with a char vocab, saved like any local model directory."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    chars = sorted({c for r in dataset.load(dataset.DEV) for c in r.text if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    out.mkdir(parents=True)
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(vocab=str(out / "vocab.txt")).save_pretrained(out)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=256,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    BertForSequenceClassification(config).save_pretrained(out)
    return out


TEXTS = ["上链接", "嘛时候发货", "", "😂" * 3000, "a\ud800b", "怎么还不发货"]


def test_transformers_backend_with_joint_labels_returns_valid_analyses(tmp_path):
    model_dir = tiny_classifier(tmp_path / "joint", JOINT)
    hf = make_analyzer({"backend": "transformers", "model_dir": str(model_dir)})
    assert hf.name == "transformers" and isinstance(hf, Analyzer)
    got = hf.analyze_many(TEXTS)
    assert len(got) == len(TEXTS) and got[2] == Analysis("neu", 0.0, "other", 1.0)
    for a in got:
        assert a.sentiment in SENTIMENTS and a.intent in INTENT_PRIORITY
        assert -1.0 <= a.score <= 1.0
    assert got == hf.analyze_many(TEXTS) and hf.analyze("加V").intent == "spam"


def test_transformers_backend_with_intent_labels_takes_sentiment_from_embedded(tmp_path):
    model_dir = tiny_classifier(tmp_path / "intent", list(INTENT_PRIORITY))
    hf = make_analyzer({"backend": "transformers", "model_dir": str(model_dir)})
    embedded = make_analyzer().analyze_many(TEXTS)
    got = hf.analyze_many(TEXTS)
    assert [(a.sentiment, a.score) for a in got] == [(a.sentiment, a.score) for a in embedded]
    assert all(a.intent in INTENT_PRIORITY for a in got)


def test_transformers_model_with_unknown_labels_is_refused(tmp_path):
    model_dir = tiny_classifier(tmp_path / "generic", ["LABEL_0", "LABEL_1"])
    with pytest.raises(ValueError, match="not sentiment/intent labels"):
        make_analyzer({"backend": "transformers", "model_dir": str(model_dir)})
