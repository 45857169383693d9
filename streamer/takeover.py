"""Take-over (主播说): a line the farmer types, said by the host at the next phrase boundary.

It is checked like every line the host says (`scripts_gen.grounding.check_line` against the
room's fact sheet): a price, a stock count or a date that is not the shop's is refused, and
so are banned superlatives, medical claims, certifications not on file and anything a safety
rule forbids. A refused line is never trimmed and spoken: the farmer gets every reason, in
Chinese, and types it again.

The check answers plain data (`TakeoverResult`), so it crosses the room-worker bus as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from commerce.facts import ProductFacts
from scripts_gen.grounding import FactSheet, check_line

MAX_TAKEOVER_CHARS = 120  # about 25 s of speech: a take-over is a sentence or two
MAX_PENDING = 3  # take-over lines queued and not yet said: past this, wait a moment
MIN_CJK = 2
# C0/C1 controls, bidi overrides and zero-width marks: never in a spoken line
_HOSTILE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
ANSWER_MODES = ("spoken", "text", "muted")
MAX_MODE_MINUTES = 24 * 60

_PROBLEMS = (
    (re.compile(r"^price (\S+) not on file$"), "价格 {0} 元不是本店商品的价格"),
    (re.compile(r"^percentage (\S+) not on file$"), "比例 {0}% 没有依据"),
    (re.compile(r"^year (\S+) not on file$"), "年份 {0} 年与商品信息不符"),
    (re.compile(r"^date (\S+)/(\S+) not on file$"), "日期 {0}月{1}日与商品信息不符"),
    (re.compile(r"^stock (\S+) not on file$"), "库存 {0} 与实际库存不符"),
    (re.compile(r"^number (\S+) not on file$"), "数字 {0} 在商品信息里找不到"),
    (re.compile(r"^unclear number (.+)$"), "数字「{0}」含义不清"),
    (re.compile(r"^superlative (.+)$"), "不能说绝对化用语「{0}」（广告法）"),
    (re.compile(r"^medical claim (.+)$"), "不能宣传医疗功效「{0}」"),
    (re.compile(r"^certification (.+) not on file$"), "没有「{0}」的认证记录"),
    (re.compile(r"^unsafe ([^:]+): (.+)$"), "违反安全规则（{0}）：{1}"),
    (re.compile(r"^nothing speakable left$"), "没有可以说的内容"),
)


class TakeoverInvalid(ValueError):
    """The text is not a line at all (empty, too long, control characters)."""


@dataclass(frozen=True)
class TakeoverResult:
    """What became of one take-over line: accepted (and queued) or refused with reasons."""

    accepted: bool
    text: str  # the line as the host says it (markup stripped, closing mark added)
    reasons: tuple[str, ...] = ()  # for the farmer, in Chinese
    problems: tuple[str, ...] = ()  # the checker's own words (logs, tests)
    sku: str | None = None  # the product it names, whose card shows while it plays
    busy: bool = False  # refused only because MAX_PENDING lines are still to be said
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "text": self.text,
            "reasons": list(self.reasons),
            "problems": list(self.problems),
            "sku": self.sku,
            "busy": self.busy,
            **self.extra,
        }


def clean_text(text: object) -> str:
    """The typed line, or TakeoverInvalid with a reason a farmer can act on."""
    if not isinstance(text, str):
        raise TakeoverInvalid("主播说的内容必须是文字")
    if len(text) > MAX_TAKEOVER_CHARS * 4:
        raise TakeoverInvalid(f"一句话最多 {MAX_TAKEOVER_CHARS} 个字")
    text = text.strip()
    if not text:
        raise TakeoverInvalid("请输入要主播说的话")
    if len(text) > MAX_TAKEOVER_CHARS:
        raise TakeoverInvalid(f"一句话最多 {MAX_TAKEOVER_CHARS} 个字")
    if _HOSTILE.search(text):
        raise TakeoverInvalid("内容含有不允许的控制字符")
    return text


def reason_zh(problem: str) -> str:
    for pattern, template in _PROBLEMS:
        m = pattern.match(problem)
        if m:
            return template.format(*m.groups())
    return problem


def named_product(text: str, products: Sequence[ProductFacts]) -> ProductFacts | None:
    """The product the line names (longest name or title first), if any."""
    best: tuple[int, ProductFacts] | None = None
    for p in products:
        for name in (p.title, p.name):
            if name and name in text and (best is None or len(name) > best[0]):
                best = (len(name), p)
    return best[1] if best else None


def check_takeover(
    text: str,
    products: Sequence[ProductFacts],
    live_events: Iterable[str] = (),
    banned_words: Iterable[str] = (),
) -> TakeoverResult:
    """Check a take-over line against the room's facts. Raises TakeoverInvalid for text that
    is not a line; answers a refusal (with every reason) for a line the host may not say."""
    text = clean_text(text)
    sheet = FactSheet.build(products, live_events)
    verdict = check_line(text, sheet, min_chars=MIN_CJK)
    problems = list(verdict.problems)
    reasons = [reason_zh(p) for p in problems]
    lowered = text.lower()
    for word in banned_words:
        if word and word.lower() in lowered:
            reasons.append(f"含有本直播间的屏蔽词「{word}」")
            problems.append(f"banned word {word}")
    product = named_product(verdict.text, products)
    accepted = verdict.ok and not problems
    return TakeoverResult(
        accepted=accepted,
        text=verdict.text,
        reasons=tuple(dict.fromkeys(reasons)),
        problems=tuple(problems),
        sku=product.sku if product else None,
    )


def check_mode(mode: object, minutes: object) -> tuple[str, float | None]:
    """An answer mode and its duration in minutes (None: until changed). TakeoverInvalid
    when either is not one the console offers."""
    if mode not in ANSWER_MODES:
        raise TakeoverInvalid(f"回答方式只能是 {'/'.join(ANSWER_MODES)}")
    if minutes is None or mode == "spoken":
        return str(mode), None
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise TakeoverInvalid("时长必须是分钟数")
    if not 0 < minutes <= MAX_MODE_MINUTES:
        raise TakeoverInvalid(f"时长必须在 1 到 {MAX_MODE_MINUTES} 分钟之间")
    return str(mode), float(minutes)
