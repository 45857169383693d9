"""Dialect layer: map Mandarin words and phrasing to a regional flavour (rules in a data file).

Numbers (digits and Chinese numerals), prices and protected names (product names/titles)
are masked before the rules run, so the layer can never change a fact.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RULES_DIR = Path(__file__).parent
_NUMERIC_RE = re.compile(
    r"[\d.%]+|[零〇一二两三四五六七八九十百千万]+(?:点[零一二三四五六七八九]+)?块?"
)
_MASK_BASE = 0xE000  # private-use characters never appear in real text
_SENTENCE_END = "。！？!?"


@dataclass(frozen=True)
class Rule:
    """One mapping from Mandarin to dialect, with an example a native speaker can verify."""

    source: str
    targets: tuple[str, ...]
    example_in: str = ""
    example_out: str = ""


class Dialect:
    """An ordered rule set loaded from `<name>.tsv`; `apply` rewrites a line."""

    def __init__(self, name: str, rules: list[Rule]):
        self.name = name
        self.rules = sorted(rules, key=lambda r: len(r.source), reverse=True)
        self._turns = {r.source: itertools.cycle(range(len(r.targets))) for r in self.rules}

    @classmethod
    def load(cls, name: str) -> Dialect:
        rules = []
        path = RULES_DIR / f"{name}.tsv"
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            cols = raw.split("\t") + ["", ""]
            rules.append(Rule(cols[0], tuple(cols[1].split("|")), cols[2], cols[3]))
        return cls(name, rules)

    def apply(self, text: str, protected: tuple[str, ...] = (), vary: bool = False) -> str:
        """Rewrite `text`. With `vary`, rules with several targets take them in turn."""
        masked: list[str] = []

        def mask(match: re.Match[str] | str) -> str:
            masked.append(match if isinstance(match, str) else match[0])
            return chr(_MASK_BASE + len(masked) - 1)

        for word in sorted(protected, key=len, reverse=True):
            if word:
                text = text.replace(word, mask(word))
        text = _NUMERIC_RE.sub(mask, text)
        for rule in self.rules:
            if rule.source not in text:
                continue
            pick = next(self._turns[rule.source]) if vary else 0
            target = rule.targets[pick]
            if rule.source[-1] in _SENTENCE_END:
                text = re.sub(re.escape(rule.source) + "$", target, text)
            else:
                text = text.replace(rule.source, target)
        return re.sub("[\ue000-\uf8ff]", lambda m: masked[ord(m[0]) - _MASK_BASE], text)


@cache
def get_dialect(name: str) -> Dialect:
    """A loaded dialect by file name (e.g. "baoding"); raises FileNotFoundError if unknown."""
    return Dialect.load(name)


def apply_dialect(text: str, dialect: str | None, protected: tuple[str, ...] = ()) -> str:
    """Apply a dialect by name; "mandarin" or None leaves the text as it is."""
    if not dialect or dialect == "mandarin":
        return text
    return get_dialect(dialect).apply(text, protected)
