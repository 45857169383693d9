"""The one protocol every sentiment + intent backend implements, and the factory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from danmaku.messages import Analysis

BACKENDS = ("embedded", "transformers")


@runtime_checkable
class Analyzer(Protocol):
    """Sentiment and intent of danmaku lines; never raises on any text."""

    name: str

    def analyze(self, text: str) -> Analysis: ...

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]: ...


_default = None


def make_analyzer(config: dict | None = None) -> Analyzer:
    """None or {"backend": "embedded"}: the in-repo model (loaded once, shared).
    {"backend": "transformers", "model_dir": path}: a local sequence-classification model.
    Raises ValueError with the reason for an unknown backend or an unusable model."""
    global _default
    config = dict(config or {})
    backend = config.pop("backend", "embedded")
    if backend == "embedded":
        from danmaku.analysis.embedded import EmbeddedAnalyzer

        if config.get("artifact"):
            return EmbeddedAnalyzer(config["artifact"])
        if _default is None:
            _default = EmbeddedAnalyzer()
        return _default
    if backend == "transformers":
        from danmaku.analysis.hf import TransformersAnalyzer

        if not config.get("model_dir"):
            raise ValueError("transformers backend needs model_dir (a local model directory)")
        return TransformersAnalyzer(config["model_dir"], fallback=make_analyzer())
    raise ValueError(f"unknown danmaku analysis backend {backend!r}; choose one of {BACKENDS}")
