"""The `transformers` backend: a local sequence-classification model directory, on CPU.

Label mapping (from the model's `config.id2label`, case-insensitive, "/", "|" or ":" between
parts):
- joint labels such as "neg/complaint": sentiment = the sentiment whose labels' probabilities
  sum highest, score = P(pos) - P(neg), intent = the same priority rule as the embedded model
  over the intents' summed probabilities;
- intent-only labels ("complaint", "question", ...): intent from the model, sentiment and score
  from the embedded analyser;
- sentiment-only labels ("pos"/"positive", "neu"/"neutral", "neg"/"negative"): sentiment from
  the model, intent from the embedded analyser.
Any other label set (e.g. LABEL_0) is refused with a ValueError when the model is loaded.
Nothing is downloaded: `local_files_only=True`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from danmaku.analysis.embedded import _EMPTY, decide_intent
from danmaku.analysis.model import INTENT_CLASSES, SENTIMENT_CLASSES
from danmaku.analysis.text import MAX_CHARS, clean
from danmaku.messages import Analysis

# transformers shows progress bars while loading; the first starts tqdm's process-wide
# monitor thread, which never ends: no monitor (as in scripts_gen.kb)
tqdm.monitor_interval = 0

_SENTIMENT_ALIASES = {
    "pos": "pos",
    "positive": "pos",
    "neu": "neu",
    "neutral": "neu",
    "neg": "neg",
    "negative": "neg",
}
INTENT_THRESHOLD = 0.3
BATCH = 64


def parse_labels(id2label: dict) -> tuple[str, list[tuple[str | None, str | None]]]:
    """(kind, [(sentiment, intent)] by class id); kind is "joint", "intent" or "sentiment"."""
    parsed, bad = [], []
    for i in range(len(id2label)):
        raw = str(id2label.get(i, id2label.get(str(i), "")))
        sentiment = intent = None
        for part in re.split(r"[/|:]", raw.strip().lower()):
            part = part.strip()
            if part in _SENTIMENT_ALIASES and sentiment is None:
                sentiment = _SENTIMENT_ALIASES[part]
            elif part in INTENT_CLASSES and intent is None:
                intent = part
            else:
                sentiment = intent = None
                break
        if sentiment is None and intent is None:
            bad.append(raw)
        parsed.append((sentiment, intent))
    if bad or not parsed:
        raise ValueError(
            f"model labels {bad or '(none)'} are not sentiment/intent labels; use e.g. "
            f"'neg/complaint', 'question' or 'pos' (see danmaku/analysis/hf.py)"
        )
    if all(s and i for s, i in parsed):
        return "joint", parsed
    if all(i and not s for s, i in parsed):
        return "intent", parsed
    if all(s and not i for s, i in parsed):
        return "sentiment", parsed
    raise ValueError("model labels mix joint, intent-only and sentiment-only forms")


class TransformersAnalyzer:
    """AutoTokenizer + AutoModelForSequenceClassification from `model_dir`, CPU only."""

    name = "transformers"

    def __init__(self, model_dir: str | Path, fallback):
        self.model_dir = Path(model_dir)
        self.fallback = fallback  # the embedded analyser fills in what the labels do not say
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ValueError(
                f"transformers backend needs the 'transformers' and 'torch' packages ({exc.name} "
                "is missing): pip install -e '.[test]'"
            ) from exc
        if not (self.model_dir / "config.json").is_file():
            raise ValueError(f"{self.model_dir} is not a model directory (no config.json)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                self.model_dir, local_files_only=True
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{self.model_dir} is not a usable sequence-classification model: {exc}"
            ) from exc
        self.model.eval()
        self._torch = torch
        self.kind, self.labels = parse_labels(self.model.config.id2label)
        self._s_map = self._onehot(0, SENTIMENT_CLASSES)
        self._i_map = self._onehot(1, INTENT_CLASSES)

    def _onehot(self, part: int, classes: tuple[str, ...]) -> np.ndarray:
        m = np.zeros((len(self.labels), len(classes)))
        for row, label in enumerate(self.labels):
            if label[part] is not None:
                m[row, classes.index(label[part])] = 1.0
        return m

    def _probs(self, texts: list[str]) -> np.ndarray:
        out = []
        with self._torch.no_grad():
            for start in range(0, len(texts), BATCH):
                batch = self.tokenizer(
                    texts[start : start + BATCH],
                    padding=True,
                    truncation=True,
                    max_length=MAX_CHARS + 2,
                    return_tensors="pt",
                )
                logits = self.model(**batch).logits
                out.append(self._torch.softmax(logits.float(), dim=-1).numpy())
        return np.vstack(out)

    def analyze(self, text: str) -> Analysis:
        return self.analyze_many([text])[0]

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        cleaned = [clean(t) for t in texts]
        results: list[Analysis] = [_EMPTY] * len(cleaned)
        todo = [i for i, t in enumerate(cleaned) if t]
        if not todo:
            return results
        batch = [cleaned[i] for i in todo]
        probs = self._probs(batch)
        base = self.fallback.analyze_many(batch) if self.kind != "joint" else None
        sent, intent = probs @ self._s_map, probs @ self._i_map
        i_idx, i_conf = decide_intent(intent, INTENT_THRESHOLD, batch)
        for row, i in enumerate(todo):
            if self.kind == "intent":
                sentiment, score = base[row].sentiment, base[row].score
            else:
                sentiment = SENTIMENT_CLASSES[int(sent[row].argmax())]
                score = round(float(np.clip(sent[row, 0] - sent[row, 2], -1, 1)), 4)
            if self.kind == "sentiment":
                label, confidence = base[row].intent, base[row].confidence
            else:
                label, confidence = INTENT_CLASSES[i_idx[row]], round(float(i_conf[row]), 4)
            results[i] = Analysis(sentiment, score, label, confidence)
        return results
