"""The default analyser: in-repo model + rules, no network, no optional dependencies."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from danmaku.analysis.model import ARTIFACT, INTENT_CLASSES, SENTIMENT_CLASSES, Model
from danmaku.analysis.rules import INTENT_CUES, STRONG_SPAM
from danmaku.analysis.text import clean
from danmaku.messages import INTENT_PRIORITY, Analysis

_RANK = np.array([INTENT_PRIORITY.index(c) for c in INTENT_CLASSES])
_SPAM = INTENT_CLASSES.index("spam")
_SPAM_CUE = re.compile(INTENT_CUES["spam"])
# a comment about the shop's own goods or orders ("订单号12345678没收到", "第14次来买枣") is
# blocked as spam only on a spam cue, never on the model's word alone: a block drops a buyer
_SHOP_WORDS = re.compile(
    r"枣|核桃|板栗|栗子|小米|香菇|蜂蜜|苹果|买|拍|订单|单号|下单|发货|快递|物流|收到|退|换|顾客|回购|链接"
)
_SHORT_DIGITS = re.compile(r"\d{1,5}")
_EMPTY = Analysis(sentiment="neu", score=0.0, intent="other", confidence=1.0)


def decide_intent(
    probs: np.ndarray, threshold: float, texts: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: spam when a contact handle or link is there; else the highest-priority intent
    whose probability reaches `threshold` ("several fit"), else the most probable one.
    Returns (class indices, confidences)."""
    probs = probs.copy()
    # only rows where spam could win are read again (a regex per comment costs throughput)
    maybe = np.flatnonzero((probs[:, _SPAM] >= threshold) | (probs.argmax(axis=1) == _SPAM))
    for row in maybe:
        t = texts[row]
        if _SHOP_WORDS.search(t) is not None and _SPAM_CUE.search(t) is None:
            probs[row, _SPAM] = 0.0
    fits = probs >= threshold
    fits[:, _SPAM] |= np.array([STRONG_SPAM.search(t) is not None for t in texts], dtype=bool)
    # among fitting classes take the lowest priority rank; rows with none fall back to argmax
    ranked = np.where(fits, _RANK[None, :], len(_RANK) + 1)
    chosen = np.where(fits.any(axis=1), ranked.argmin(axis=1), probs.argmax(axis=1))
    confidence = probs[np.arange(len(probs)), chosen]
    forced = fits[:, _SPAM] & (chosen == _SPAM)
    return chosen, np.where(forced, np.maximum(confidence, 0.9), confidence)


class EmbeddedAnalyzer:
    """Char n-gram logistic model over live-room cues (see danmaku/data/README.md)."""

    name = "embedded"

    def __init__(self, artifact: Path | None = None):
        self.model = Model.load(artifact or ARTIFACT)

    @classmethod
    def from_artifact(cls, artifact: dict) -> EmbeddedAnalyzer:
        self = cls.__new__(cls)
        self.model = Model(artifact)
        return self

    def analyze(self, text: str) -> Analysis:
        return self.analyze_many([text])[0]

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        cleaned = [clean(t) for t in texts]
        results: list[Analysis | None] = [None if t else _EMPTY for t in cleaned]
        todo = [i for i, t in enumerate(cleaned) if t]
        if todo:
            sent, intent = self.model.predict([cleaned[i] for i in todo])
            s_idx = sent.argmax(axis=1)
            scores = np.clip(sent[:, 0] - sent[:, 2], -1.0, 1.0)
            texts = [cleaned[i] for i in todo]
            i_idx, i_conf = decide_intent(intent, self.model.intent_threshold, texts)
            # spam read from a short number alone ("测试1234"): judged again without it; long
            # digit runs, handles and links are spam cues and stay spam
            again = [
                row
                for row, t in enumerate(texts)
                if i_idx[row] == _SPAM and _SHORT_DIGITS.search(t) and not _SPAM_CUE.search(t)
            ]
            bare = [_SHORT_DIGITS.sub("", texts[row]).strip() for row in again]
            keep = [(row, b) for row, b in zip(again, bare, strict=True) if b]
            if keep:
                _, intent2 = self.model.predict([b for _, b in keep])
                rows = [row for row, _ in keep]
                intent[rows] = intent2
                i_idx, i_conf = decide_intent(intent, self.model.intent_threshold, texts)
            for row, i in enumerate(todo):
                results[i] = Analysis(
                    sentiment=SENTIMENT_CLASSES[s_idx[row]],
                    score=round(float(scores[row]), 4),
                    intent=INTENT_CLASSES[i_idx[row]],
                    confidence=round(float(i_conf[row]), 4),
                )
        return results  # type: ignore[return-value]
