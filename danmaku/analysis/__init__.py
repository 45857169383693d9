"""Sentiment (pos/neu/neg, score -1..1) and intent of danmaku lines, offline by default."""

from danmaku.analysis.base import BACKENDS, Analyzer, make_analyzer
from danmaku.analysis.text import MAX_CHARS

__all__ = ["BACKENDS", "MAX_CHARS", "Analyzer", "make_analyzer"]
