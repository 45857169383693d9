"""The knowledge base: entries kept as JSONL data files, retrieved with jieba + BM25 (bm25s).

Retrieval, in order:

1. normalise the text: full-width to half-width, lower case, Baoding words back to Mandarin
   (the dialect table read in reverse), colloquial phrases and common misspellings
   (`data/kb/colloquial.tsv`), "A不A" / "A没A" questions to "A" ("甜不甜" -> "甜") and drop a question-final
   "不" ("包邮不");
2. tokenize with jieba plus the shop's vocabulary, mapping synonyms to one word
   (`data/kb/synonyms.tsv`), and add single characters for words jieba glues together;
3. score with BM25 over each entry's question and keywords (repeated HEAD_REPEAT times, so
   they outweigh the answer) plus its answer;
4. keep answers on the product the text names (found by substring, so "枣皮" names 大枣);
   a text that names no product prefers the shop-wide entries (shipping, after-sales, FAQ).
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import jieba
import numpy as np
from tqdm import tqdm

# bm25s sets its own logger to DEBUG at import; index building is not worth a log line.
logging.getLogger("bm25s").setLevel(logging.WARNING)
# bm25s wraps even a disabled progress bar in tqdm, whose first bar starts a process-wide
# monitor thread that never ends. We never show progress bars: no monitor.
tqdm.monitor_interval = 0
jieba.setLogLevel(logging.WARNING)

KB_DIR = Path(__file__).parent / "data" / "kb"
DIALECT_RULES = Path(__file__).parent / "dialect" / "baoding.tsv"
PRODUCT_BOOST = 1.3  # a question that names a product is more likely about that product
NO_PRODUCT_FACTOR = 0.75  # a question naming no product is more likely a shop-wide one
HEAD_REPEAT = 3  # an entry's question and keywords weigh this many times its answer
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")
_TRAILING_NOT = re.compile(
    r"(?<=[\u4e00-\u9fff])[不没]([吗呢啊呀嘛]?[?？。!！~～\s]*)$"
)  # "包邮不" asks "包邮吗"
_HEALTH_CLAIM = re.compile(r"补[脑钙肾气身血]|美容|养颜|抗癌|长寿|壮阳|排毒")


@dataclass(frozen=True)
class Entry:
    """One knowledge-base entry: a question it answers and the answer the host may speak."""

    id: str
    topic: str  # product | planting | nutrition | storage | shipping | faq
    question: str
    answer: str
    sku: str | None = None
    keywords: tuple[str, ...] = ()
    reviewed: bool = False  # True only when someone checked it against its source
    citation: str | None = None  # the public guidance or shop record a reviewed entry follows
    safety: tuple[str, ...] = ()  # safety kinds it may answer (scripts_gen.safety.KINDS)


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    confidence: float  # 0..1: how much of the question the entry covers, and by what margin


def _load_tsv(name: str, directory: Path = KB_DIR) -> list[list[str]]:
    rows = []
    for raw in (directory / name).read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            rows.append(raw.split("\t"))
    return rows


def _stopwords() -> set[str]:
    lines = (KB_DIR / "stopwords.txt").read_text(encoding="utf-8").splitlines()
    return {w.strip() for w in lines if w.strip() and not w.startswith("#")}


def _phrase_map() -> dict[str, str]:
    """Colloquial phrase -> KB wording: the colloquial table plus the dialect table reversed."""
    phrases: dict[str, str] = {}
    for row in _load_tsv(DIALECT_RULES.name, DIALECT_RULES.parent):
        source, targets = row[0], row[1].split("|") if len(row) > 1 else []
        if source[-1:] in "。！？!?":
            continue  # sentence-final particles carry no meaning for retrieval
        for target in targets:
            # one-character words that are common Mandarin too ("中" in 中秋) stay as they are
            if len(target) > 1 or target in "啥嘛咋忒俺甭":
                phrases.setdefault(target, source)
    for row in _load_tsv("colloquial.tsv"):
        phrases[row[0]] = row[1]
    return phrases


class Tokenizer:
    """jieba with the shop's vocabulary, a synonym map and colloquial normalisation."""

    def __init__(self, extra_words: list[str] = ()):
        self._jieba = jieba.Tokenizer()
        self._stop = _stopwords()
        self._weak = set("不吃能放会有是的么啥多少几个一下了")
        self._synonyms: dict[str, str] = {}
        self._phrases = _phrase_map()
        self._phrase_re = re.compile(
            "|".join(re.escape(p) for p in sorted(self._phrases, key=len, reverse=True))
        )
        self.products: list[str] = [row[0] for row in _load_tsv("product_names.tsv")]
        # every way of naming a product, longest first, for substring detection
        self._product_names: list[tuple[str, str]] = [(p, p) for p in self.products]
        for word in self.products:
            self._jieba.add_word(word, freq=20000)
        for canonical, *variants in _load_tsv("synonyms.tsv"):
            self._jieba.add_word(canonical, freq=20000)
            for v in variants:
                self._synonyms[v] = canonical
                self._jieba.add_word(v, freq=20000)
                if canonical in self.products:
                    self._product_names.append((v, canonical))
        self._product_set = {name for name, _ in self._product_names}
        self._product_names.sort(key=lambda pair: len(pair[0]), reverse=True)
        for word in extra_words:
            self._jieba.add_word(word, freq=20000)

    def normalise(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text or "").lower()
        text = self._phrase_re.sub(lambda m: self._phrases[m.group(0)], text)
        text = _A_NOT_A.sub(r"\1", text)
        text = _TRAILING_NOT.sub(r"\1", text)
        if _HEALTH_CLAIM.search(text):
            text += " 功效"
        return text

    def products_in(self, text: str) -> set[str]:
        """The canonical product words a (normalised) text names, by substring."""
        found: set[str] = set()
        for name, canonical in self._product_names:
            if name in text:
                found.add(canonical)
                text = text.replace(name, " ")
        return found

    def __call__(self, text: str, normalised: bool = False) -> list[str]:
        if not normalised:
            text = self.normalise(text)
        tokens = []
        for tok in self._jieba.lcut_for_search(text):
            tok = self._synonyms.get(tok.strip(), tok.strip())
            if tok and tok not in self._stop:
                tokens.append(tok)
        # single characters too: jieba glues unknown pairs ("狗能", "香不香") into one token
        # (not of product names: the product filter matches those, "果" alone is noise)
        chars = [
            c
            for tok in tokens
            if len(tok) > 1 and tok not in self._product_set
            for c in tok
            if c not in self._stop
        ]
        return tokens + [c for c in chars if c not in self._weak]


class KnowledgeBase:
    """BM25 over entry questions and keywords (weighted HEAD_REPEAT times) plus answers."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self.by_id = {e.id: e for e in entries}
        words = [k for e in entries for k in e.keywords]
        self.tokenize = Tokenizer(words)
        heads = [self.tokenize(e.question + " " + " ".join(e.keywords)) for e in entries]
        docs = [
            h * HEAD_REPEAT + self.tokenize(e.answer) for h, e in zip(heads, entries, strict=True)
        ]
        self._doc_sets = [set(d) for d in docs]
        # which product word each product entry is about, to keep answers on the asked product
        self._product_of: list[str | None] = []
        for e in entries:
            names = self.tokenize.products_in(self.tokenize.normalise(e.question))
            names = names or self.tokenize.products_in(self.tokenize.normalise(e.answer))
            self._product_of.append(sorted(names)[0] if e.sku and names else None)
        self._shop_wide = np.array([e.sku is None for e in entries])
        n = max(len(entries), 1)
        df: dict[str, int] = {}
        for s in self._doc_sets:
            for tok in s:
                df[tok] = df.get(tok, 0) + 1
        self._idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self._max_idf = math.log(1 + n)
        if entries:
            self._bm25 = bm25s.BM25()
            self._bm25.index(docs, show_progress=False)

    @classmethod
    def load(cls, directory: Path = KB_DIR) -> KnowledgeBase:
        return cls(load_entries(sorted(directory.glob("*.jsonl"))))

    def search(self, query: str, k: int = 3, allowed: np.ndarray | None = None) -> list[Hit]:
        """The k best entries for `query`, each with a confidence in 0..1.

        `allowed`, a boolean mask over `entries`, keeps only those entries in the running.
        """
        text = self.tokenize.normalise(query)
        tokens = self.tokenize(text, normalised=True)
        known = [t for t in tokens if t in self._idf]
        if not self.entries or not known:
            return []
        scores = self._bm25.get_scores(known)
        asked = self.tokenize.products_in(text)
        if asked:  # entries about another product than the one asked are out
            for i, about in enumerate(self._product_of):
                if about is not None and about not in asked:
                    scores[i] = 0.0
                elif about is not None:
                    scores[i] *= PRODUCT_BOOST
        else:
            scores[~self._shop_wide] *= NO_PRODUCT_FACTOR
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        order = scores.argsort()[::-1][:k]
        best = float(scores[order[0]])
        if best <= 0:
            return []
        second = float(scores[order[1]]) if len(order) > 1 else 0.0
        weight = {t: self._idf.get(t, self._max_idf) for t in set(tokens)}
        total = sum(weight.values())
        hits = []
        for i in order:
            s = float(scores[i])
            if s <= 0:
                break
            covered = sum(w for t, w in weight.items() if t in self._doc_sets[i]) / total
            margin = (s - second) / s if i == order[0] else 0.0
            confidence = covered * (0.6 + 0.4 * margin)
            hits.append(Hit(self.entries[i], s, round(confidence, 3)))
        return hits


def load_entries(paths) -> list[Entry]:
    """Entries from JSONL files, one JSON object a line."""
    entries = []
    for path in paths:
        for raw in Path(path).read_text(encoding="utf-8").splitlines():
            if raw.strip():
                d = json.loads(raw)
                d["keywords"] = tuple(d.get("keywords", ()))
                d["safety"] = tuple(d.get("safety", ()))
                entries.append(Entry(**d))
    return entries


@lru_cache(maxsize=1)
def default_kb() -> KnowledgeBase:
    """The shipped knowledge base (loaded once per process; read-only)."""
    return KnowledgeBase.load()
