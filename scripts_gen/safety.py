"""Safety before fluency: the questions that could harm a buyer, and the lines that would.

`classify(question)` puts health, allergy, infant, child, choking, pregnancy, diabetes, chronic-illness,
spoilage and medical questions in a safety class; the desk answers those only from reviewed
knowledge-base entries tagged for the topic (each citing the public guidance it follows) and
hands everything else to a human. `violations(text, context)` finds lines that contradict a
reviewed safety rule (`data/safety/rules.json`); `grounding.check_line` calls it, so every
backend's lines (template, desk, OpenAI-compatible, local model, reactions) are refused alike.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SAFETY_DIR = Path(__file__).parent / "data" / "safety"
RULES_PATH = SAFETY_DIR / "rules.json"
ENTRIES_PATH = SAFETY_DIR / "entries.jsonl"
NEGATION_WINDOW = 4  # characters before a claim that may negate it ("千万不能…")
_CLAUSE = re.compile(r"[^，,；;。！!？?～~\n]+")

# kind -> cue pattern, in priority order (the first kind found is the topic's main kind)
_CUES: tuple[tuple[str, str], ...] = (
    # something already happened to someone: only a human (or a doctor) answers that
    (
        "incident",
        r"吞了|误吞|误食|误吃|中毒|喘不上|呼吸困难|昏迷|抽搐|吐了|呕吐"
        r"|(?:噎|卡|呛)(?:着|住|到)了?(?:怎么办|咋办|咋整|怎么整)"
        r"|吃了[^，。？?]{0,10}(?:怎么办|咋办|咋整|怎么整|咋弄)",
    ),
    ("allergy", r"过敏|起疹|荨麻疹|嘴肿|喉咙肿"),
    (
        "infant",
        r"婴|宝宝(?!们)|宝贝(?!们)|月龄|[\d一二两三四五六七八九十几]+个多?月|一岁|1岁|周岁"
        r"|新生儿|辅食|满月|吃奶",
    ),
    ("pregnancy", r"孕|怀娃|怀宝|哺乳|喂奶|月子|产后|妊娠|胎儿|保胎|安胎"),
    ("choking", r"噎|卡(?:住|着|嗓子|喉咙|脖子|到)|呛|误吞|吞下|枣核(?![大小])|整颗|整粒|囫囵"),
    ("child", r"小孩|孩子|儿童|幼儿|小朋友|娃|[两二三四五六2-6]岁|几岁|学龄前|小学生"),
    ("diabetes", r"糖尿病|血糖|控糖|降糖|糖友|胰岛素|升糖"),
    (
        "chronic",
        r"血压|降压|血脂|胆固醇|痛风|尿酸|肾病|肾不好|结石|心脏病"
        r"|冠心病|脂肪肝|肝病|胃病|胃不好|胃溃疡|慢性病|三高|癌|肿瘤|化疗|术后|透析|甲亢|贫血|哮喘",
    ),
    (
        "spoilage",
        r"霉|长毛|白毛|绿毛|黑毛|变质|馊|哈喇|哈拉|哈啦|发酸|酸味|酒味|发酵|发黏|发粘|胀袋|胀气"
        r"|鼓包|冒泡|过期|腐烂|(?<![压摔磕碰])烂了|(?<![压摔磕碰])坏了|变味|臭了",
    ),
    (
        "medical",
        r"治病|能治|治疗|治好|医治|吃药|服药|药物|降压药|降糖药|用药期间|吃着药|疗效|偏方|调理"
        r"|功效|抗癌|防癌|补血|补肾|壮阳|感冒|发烧|咳嗽|拉肚子|腹泻|便秘|失眠|月经|经期",
    ),
)
KINDS = tuple(kind for kind, _ in _CUES)
LABELS = {
    "incident": "误食或不适",
    "allergy": "过敏",
    "infant": "婴儿",
    "pregnancy": "孕期哺乳期",
    "choking": "呛噎",
    "child": "儿童",
    "diabetes": "糖尿病血糖",
    "chronic": "慢性病",
    "spoilage": "变质霉变",
    "medical": "疾病药物",
}
_CUE_RE = tuple((kind, re.compile(rx)) for kind, rx in _CUES)


@dataclass(frozen=True)
class SafetyTopic:
    """Why a question is in the safety class: its main kind, every kind found, and the cues."""

    kind: str  # one of KINDS
    kinds: tuple[str, ...]  # every kind the question touches, main kind first
    cues: tuple[str, ...]  # the words that put it in the class

    @property
    def label(self) -> str:
        return LABELS[self.kind]


@dataclass(frozen=True)
class Rule:
    """A reviewed safety rule: what it says, the guidance it follows, and how to spot a breach."""

    id: str
    says: str
    citation: str
    context: tuple[re.Pattern, ...]
    claim: re.Pattern
    unless: re.Pattern | None


@dataclass(frozen=True)
class Violation:
    """A clause that contradicts a rule."""

    rule: str
    clause: str
    says: str


@dataclass(frozen=True)
class _Rules:
    aliases: dict[str, str]
    negators: re.Pattern
    idioms: re.Pattern
    rules: tuple[Rule, ...]


@lru_cache(maxsize=1)
def _load() -> _Rules:
    data = json.loads(RULES_PATH.read_text(encoding="utf-8"))
    permission = data["permission"]
    rules = []
    for r in data["rules"]:
        claim = r["claim"].replace("@permission", permission)
        rules.append(
            Rule(
                r["id"],
                r["says"],
                r["citation"],
                tuple(re.compile(c) for c in r["context"]),
                re.compile(claim),
                re.compile(r["unless"]) if r.get("unless") else None,
            )
        )
    idioms = sorted(data["idioms"], key=len, reverse=True)
    return _Rules(
        dict(data["aliases"]),
        re.compile(data["negators"]),
        re.compile("|".join(re.escape(i) for i in idioms)),
        tuple(rules),
    )


def rules() -> tuple[Rule, ...]:
    """The reviewed safety rules, loaded once from `data/safety/rules.json`."""
    return _load().rules


def normalise(text: str) -> str:
    """NFKC, lower case, common misspellings of the shop's products fixed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    for wrong, right in _load().aliases.items():
        text = text.replace(wrong, right)
    return re.sub(r"\s+", "", text)


# "宝宝" and "亲" are also how viewers are addressed: "包邮吗宝宝", "宝宝们，大枣多少钱"
_VOCATIVE = re.compile(
    r"^(宝宝|宝贝|亲)们?[,，、!！~～]+|(?<=[吗呢啊呀不没嘛哈?？])[,，、]?(宝宝|宝贝|亲)们?[?？!！~～。]*$"
)


def classify(question: str) -> SafetyTopic | None:
    """The safety topic a viewer's question touches, or None for an ordinary question."""
    text = _VOCATIVE.sub("", normalise(question))
    found: list[tuple[str, str]] = []
    for kind, rx in _CUE_RE:
        m = rx.search(text)
        if m:
            found.append((kind, m.group(0)))
    if not found:
        return None
    return SafetyTopic(found[0][0], tuple(k for k, _ in found), tuple(c for _, c in found))


def _negated(clause: str, start: int, matched: str, r: _Rules) -> bool:
    """True when the claim is negated: a negator just before it or inside it (idioms aside)."""
    before = r.idioms.sub("", clause[max(0, start - NEGATION_WINDOW) : start])
    inside = r.idioms.sub("", matched)
    return bool(r.negators.search(before) or r.negators.search(inside))


def violations(text: str, context: str = "") -> list[Violation]:
    """Clauses of `text` that contradict a reviewed rule; `context` is the question answered."""
    r = _load()
    line = normalise(text)
    about = line + " " + normalise(context)
    found: list[Violation] = []
    for rule in r.rules:
        if not all(c.search(about) for c in rule.context):
            continue
        for clause in _CLAUSE.findall(line):
            if rule.unless is not None and rule.unless.search(clause):
                continue
            for m in rule.claim.finditer(clause):
                if not _negated(clause, m.start(), m.group(0), r):
                    found.append(Violation(rule.id, clause, rule.says))
                    break
    return found


def is_safe(text: str, context: str = "") -> bool:
    return not violations(text, context)


class SafetyIndex:
    """Reviewed entries that may answer safety questions, searched on their own.

    Built from a knowledge base's reviewed entries tagged with safety kinds, plus the shop-wide
    reviewed entries in `data/safety/entries.jsonl` (kept out of the main index so they never
    change ordinary retrieval). An entry may answer a question only when its tags cover every
    kind the question touches.
    """

    def __init__(self, kb, extra_paths: tuple[Path, ...] = (ENTRIES_PATH,)):
        from scripts_gen.kb import KnowledgeBase, load_entries

        entries = [e for e in kb.entries if e.reviewed and e.safety and e.citation]
        entries += [e for e in load_entries(extra_paths) if e.reviewed and e.citation]
        self.kb = KnowledgeBase(entries)
        self._tags = [set(e.safety) for e in entries]

    def search(self, query: str, topic: SafetyTopic, k: int = 3):
        """Reviewed hits for `query` whose tags cover the topic's kinds, best first."""
        import numpy as np

        need = set(topic.kinds)
        allowed = np.array([need <= tags for tags in self._tags], dtype=bool)
        if not allowed.any():
            return []
        return self.kb.search(query, k=k, allowed=allowed)


@lru_cache(maxsize=8)
def safety_index_for(kb) -> SafetyIndex:
    """One read-only safety index per knowledge base (building one costs about half a second)."""
    return SafetyIndex(kb)
