"""The grounding checker: every line any backend produces passes through here.

Numbers, prices and dates must match the fact sheet (else the line is rewritten by the
template writer); clauses with banned superlatives, medical claims or certifications not on
file are cut out. The word lists live in `data/policy/*.txt` so they can be edited. A line that
contradicts a reviewed safety rule (`scripts_gen.safety`, e.g. "一岁宝宝可以吃蜂蜜") is refused
whole, whatever backend wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from commerce.facts import ProductFacts
from scripts_gen.numerals import parse_numbers
from scripts_gen.safety import violations

POLICY_DIR = Path(__file__).parent / "data" / "policy"
_CLAUSE_RE = re.compile(r"[^，,；;。！!？?～~\n]+[，,；;。！!？?～~\n]*")
_STOCK_RE = re.compile(r"(?:剩|还有|库存|现货)[^，。！？\d零一二两三四五六七八九十百千万]{0,3}")
_MARKUP_RE = re.compile(r"[#`>\[\]{}<>|_\\]|https?://\S+")
_BOLD_RE = re.compile(r"\*\*([^*@]{2,}?)\*\*")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
# Numbers this small are quantifiers ("一口", "一箱") and carry no claim by themselves.
_TRIVIAL = {Decimal(1)}


@dataclass(frozen=True)
class TermList:
    """Banned terms plus longer look-alikes that are fine to say."""

    terms: tuple[str, ...]
    exemptions: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> TermList:
        terms, exempt = [], []
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            (exempt if line.startswith("!") else terms).append(line.lstrip("!"))
        return cls(tuple(terms), tuple(exempt))

    def find(self, text: str) -> list[str]:
        """Banned terms present in `text` once exemptions are blanked out."""
        for word in self.exemptions:
            text = text.replace(word, "□" * len(word))
        return [t for t in self.terms if t.lower() in text.lower()]


@lru_cache(maxsize=1)
def policy() -> dict[str, TermList]:
    return {name: TermList.load(POLICY_DIR / f"{name}.txt") for name in _POLICY_NAMES}


_POLICY_NAMES = ("superlatives", "medical", "certifications")


@dataclass
class FactSheet:
    """The numbers and labels a line may state, built from catalog facts and live events."""

    numbers: set[Decimal] = field(default_factory=set)
    money: set[Decimal] = field(default_factory=set)
    stock: set[Decimal] = field(default_factory=set)
    dates: set[tuple[int, int]] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    certifications: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()  # product names/titles: dialect never rewrites these

    @classmethod
    def build(
        cls,
        products: Sequence[ProductFacts] = (),
        live_events: Iterable[str] = (),
        extra_texts: Iterable[str] = (),
    ) -> FactSheet:
        sheet = cls()
        certs: list[str] = []
        names: list[str] = []
        for p in products:
            sheet.money.add(p.price)
            if p.list_price is not None:
                sheet.money.add(p.list_price)
            sheet.numbers |= {p.price, Decimal(p.stock)}
            sheet.stock.add(Decimal(p.stock))
            sheet.dates.add((p.harvest_date.month, p.harvest_date.day))
            sheet.years.add(p.harvest_date.year)
            sheet.numbers |= {
                Decimal(p.harvest_date.month),
                Decimal(p.harvest_date.day),
                Decimal(p.harvest_date.year),
            }
            texts = [p.name, p.title, p.origin, p.taste, p.nutrition, p.storage, p.shipping]
            texts += [*p.features, *p.tags, p.promo or ""]
            for text in texts:
                sheet._absorb(text)
            certs += p.certifications
            names += [p.title, p.name]
        for event in live_events:
            sheet._absorb(event)
            for m in _STOCK_RE.finditer(event):
                for n in parse_numbers(event[m.end() : m.end() + 8])[:1]:
                    sheet.stock.add(n.value)
        for text in extra_texts:
            sheet._absorb(text)
        sheet.numbers |= sheet.money | sheet.stock
        sheet.certifications = tuple(certs)
        sheet.protected = tuple(sorted(set(names), key=len, reverse=True))
        return sheet

    def _absorb(self, text: str) -> None:
        numbers = parse_numbers(text)
        for i, n in enumerate(numbers):
            if n.value < 0:
                continue
            self.numbers.add(n.value)
            if n.unit == "元":
                self.money.add(n.value)
            elif n.unit == "年":
                self.years.add(int(n.value))
            elif n.unit == "月" and i + 1 < len(numbers) and numbers[i + 1].unit in ("日", "号"):
                self.dates.add((int(n.value), int(numbers[i + 1].value)))


@dataclass(frozen=True)
class Verdict:
    """What the checker decided about one line."""

    text: str  # the line with offending clauses cut out
    ok: bool  # False: the line must be rewritten by the template writer
    problems: tuple[str, ...] = ()


def number_problems(text: str, sheet: FactSheet) -> list[str]:
    """Every number, price, stock count and date in `text` checked against the sheet."""
    problems = []
    numbers = parse_numbers(text)
    stock_spans = [m.end() for m in _STOCK_RE.finditer(text)]
    for i, n in enumerate(numbers):
        if n.value < 0:
            problems.append(f"unclear number {n.text}")
        elif n.unit == "元" and n.value not in sheet.money:
            problems.append(f"price {n.value} not on file")
        elif n.unit == "%" and n.value not in sheet.numbers:
            problems.append(f"percentage {n.value} not on file")
        elif n.unit == "年" and int(n.value) not in sheet.years:
            problems.append(f"year {n.value} not on file")
        elif n.unit == "月" and i + 1 < len(numbers) and numbers[i + 1].unit in ("日", "号"):
            if (int(n.value), int(numbers[i + 1].value)) not in sheet.dates:
                problems.append(f"date {n.value}/{numbers[i + 1].value} not on file")
        elif any(0 <= n.start - end <= 3 for end in stock_spans) and n.value not in sheet.stock:
            problems.append(f"stock {n.value} not on file")
        elif n.value not in sheet.numbers and n.value not in _TRIVIAL:
            problems.append(f"number {n.value} not on file")
    return problems


def _cert_problems(clause: str, sheet: FactSheet) -> list[str]:
    bad = []
    for term in policy()["certifications"].find(clause):
        on_file = any(term in c or c in term for c in sheet.certifications)
        generic = term == "认证" and any(c in clause for c in sheet.certifications)
        if not (on_file or generic):
            bad.append(f"certification {term} not on file")
    return bad


def clean_markup(text: str) -> str:
    """Strip markdown, links and stray whitespace a model may emit."""
    text = _MARKUP_RE.sub("", _BOLD_RE.sub(r"\1", text))
    return re.sub(r"\s+", " ", text).strip()


def check_line(text: str, sheet: FactSheet, min_chars: int = 4, context: str = "") -> Verdict:
    """Cut banned clauses, then verify every number left. Never raises.

    `context` is the question a line answers: "可以吃" is unsafe after "一岁宝宝能吃蜂蜜吗".
    A line that contradicts a safety rule is refused (ok False), not trimmed.
    """
    text = clean_markup(text)
    unsafe = [f"unsafe {v.rule}: {v.clause}" for v in violations(text, context)]
    kept, problems = [], list(unsafe)
    for clause in _CLAUSE_RE.findall(text):
        bad = [f"superlative {t}" for t in policy()["superlatives"].find(clause)]
        bad += [f"medical claim {t}" for t in policy()["medical"].find(clause)]
        bad += _cert_problems(clause, sheet)
        if bad:
            problems += bad
        else:
            kept.append(clause)
    cleaned = "".join(kept).strip("，,；; ")
    numeric = number_problems(cleaned, sheet)
    problems += numeric
    speakable = len(_CJK_RE.findall(cleaned)) >= min_chars
    if not speakable:
        problems.append("nothing speakable left")
    if cleaned and cleaned[-1] in "，,；;":
        cleaned = cleaned[:-1]
    if cleaned and cleaned[-1] not in "。！？!?～~":
        cleaned += "。"
    ok = speakable and not numeric and not unsafe
    return Verdict(cleaned, ok=ok, problems=tuple(problems))
