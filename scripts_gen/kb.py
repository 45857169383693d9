"""The knowledge base: entries kept as JSONL data files, retrieved with jieba + BM25 (bm25s)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import jieba

KB_DIR = Path(__file__).parent / "data" / "kb"
PRODUCT_BOOST = 1.3  # a question that names a product is more likely about that product


@dataclass(frozen=True)
class Entry:
    """One knowledge-base entry: a question it answers and the answer the host may speak."""

    id: str
    topic: str  # product | planting | nutrition | storage | shipping | faq
    question: str
    answer: str
    sku: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    confidence: float  # 0..1: how much of the question the entry covers, and by what margin


def _load_tsv(name: str) -> list[list[str]]:
    rows = []
    for raw in (KB_DIR / name).read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            rows.append(raw.split("\t"))
    return rows


def _stopwords() -> set[str]:
    lines = (KB_DIR / "stopwords.txt").read_text(encoding="utf-8").splitlines()
    return {w.strip() for w in lines if w.strip() and not w.startswith("#")}


class Tokenizer:
    """jieba with the shop's vocabulary and a synonym map (data/kb/synonyms.tsv)."""

    def __init__(self, extra_words: list[str] = ()):
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._stop = _stopwords()
        self._weak = set("不吃能放会有是的么啥多少几个一下了")
        self._synonyms: dict[str, str] = {}
        self.products: list[str] = [row[0] for row in _load_tsv("product_names.tsv")]
        for word in self.products:
            self._jieba.add_word(word, freq=20000)
        for canonical, *variants in _load_tsv("synonyms.tsv"):
            self._jieba.add_word(canonical, freq=20000)
            for v in variants:
                self._synonyms[v] = canonical
                self._jieba.add_word(v, freq=20000)
        for word in extra_words:
            self._jieba.add_word(word, freq=20000)

    def __call__(self, text: str) -> list[str]:
        tokens = []
        for tok in self._jieba.lcut_for_search(text.lower()):
            tok = self._synonyms.get(tok.strip(), tok.strip())
            if tok and tok not in self._stop:
                tokens.append(tok)
        # single characters too: jieba glues unknown pairs ("狗能", "香不香") into one token
        chars = [c for tok in tokens if len(tok) > 1 for c in tok if c not in self._stop]
        return tokens + [c for c in chars if c not in self._weak]


class KnowledgeBase:
    """BM25 over entry questions and keywords (weighted twice) plus answers."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self.by_id = {e.id: e for e in entries}
        words = [k for e in entries for k in e.keywords]
        self.tokenize = Tokenizer(words)
        docs = [self._doc_tokens(e) for e in entries]
        self._doc_sets = [set(d) for d in docs]
        # which product word each product entry is about, to keep answers on the asked product
        self._product_of: list[str | None] = []
        for e, head in zip(entries, docs, strict=True):
            names = [w for w in self.tokenize.products if w in head] if e.sku else []
            self._product_of.append(names[0] if names else None)
        self._bm25 = bm25s.BM25()
        if entries:
            self._bm25.index(docs, show_progress=False)
        n = max(len(docs), 1)
        df: dict[str, int] = {}
        for s in self._doc_sets:
            for tok in s:
                df[tok] = df.get(tok, 0) + 1
        self._idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self._max_idf = math.log(1 + n)

    def _doc_tokens(self, e: Entry) -> list[str]:
        head = self.tokenize(e.question + " " + " ".join(e.keywords))
        return head * 2 + self.tokenize(e.answer)

    @classmethod
    def load(cls, directory: Path = KB_DIR) -> KnowledgeBase:
        entries = []
        for path in sorted(directory.glob("*.jsonl")):
            for raw in path.read_text(encoding="utf-8").splitlines():
                if raw.strip():
                    d = json.loads(raw)
                    d["keywords"] = tuple(d.get("keywords", ()))
                    entries.append(Entry(**d))
        return cls(entries)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The k best entries for `query`, each with a confidence in 0..1."""
        tokens = self.tokenize(query)
        known = [t for t in tokens if t in self._idf]
        if not self.entries or not known:
            return []
        scores = self._bm25.get_scores(known)
        asked = {t for t in tokens if t in self.tokenize.products}
        if asked:  # entries about another product than the one asked are out
            for i, about in enumerate(self._product_of):
                if about is not None and about not in asked:
                    scores[i] = 0.0
                elif about is not None:
                    scores[i] *= PRODUCT_BOOST
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


@lru_cache(maxsize=1)
def default_kb() -> KnowledgeBase:
    """The shipped knowledge base (loaded once per process; read-only)."""
    return KnowledgeBase.load()
