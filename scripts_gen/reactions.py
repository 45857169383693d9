"""What the host says back to the room: greetings, thanks, apologies, calls to action and
value re-explained. The Director decides *when*; this module decides *what*, from the shop's
facts alone, and every line passes the grounding checker and the persona's dialect.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from commerce.facts import ProductFacts
from scripts_gen.base import Line
from scripts_gen.dialect import apply_dialect
from scripts_gen.grounding import FactSheet, check_line, policy
from scripts_gen.numerals import parse_numbers, speak_int, speak_price
from scripts_gen.style import style_for

_NAME_OK = re.compile(r"[^\u4e00-\u9fffA-Za-z]")
MAX_NAME_CHARS = 8


def speakable_name(nickname: str) -> str:
    """A nickname safe to say on air: letters and Chinese only, at most 8, and nothing that
    reads as a number or a claim ("全场一元" would put a price in the host's mouth)."""
    name = _NAME_OK.sub("", nickname or "")[:MAX_NAME_CHARS]
    if not name or parse_numbers(name) or not check_line(name, FactSheet(), min_chars=0).ok:
        return "这位朋友"
    if any(policy()[k].find(name) for k in ("superlatives", "medical", "certifications")):
        return "这位朋友"
    return name


def names_phrase(nicknames: Sequence[str], limit: int = 3) -> str:
    """老张 / 老张和小芳 / 老张、小芳等5位朋友."""
    names = list(dict.fromkeys(speakable_name(n) for n in nicknames))
    if not names:
        return "这位朋友"
    if len(names) == 1:
        return names[0]
    if len(names) <= limit:
        return "、".join(names[:-1]) + "和" + names[-1]
    return "、".join(names[:limit]) + f"等{speak_int(len(names))}位朋友"


def stock_phrase(p: ProductFacts) -> str:
    """Stock said safely: a count goes stale in a second, so only small ones are exact."""
    if p.stock <= 0:
        return "已经卖完了"
    if p.stock <= 20:
        return f"只剩{speak_int(p.stock)}{p.unit}了"
    if p.stock < 100:
        return "库存不多了"
    hundreds = p.stock // 100 * 100
    return f"还有{speak_int(hundreds)}多{p.unit}"


def _line(
    text: str,
    persona: str,
    kind: str,
    expression: str,
    product: ProductFacts | None = None,
    extra: Sequence[str] = (),
    rate: float = 1.0,
    pitch: float = 1.0,
) -> Line | None:
    products = [product] if product else []
    sheet = FactSheet.build(products, (), extra)
    verdict = check_line(text, sheet)
    if not verdict.ok:
        return None
    style = style_for(persona)
    spoken = apply_dialect(verdict.text, style.dialect, sheet.protected)
    return Line(
        spoken,
        kind,
        product.sku if product else None,
        expression,
        round(style.rate * rate, 3),
        round(style.pitch * pitch, 3),
        (f"catalog:{product.sku}",) if product else (),
    )


def greet(persona: str, nicknames: Sequence[str], rng: random.Random) -> Line | None:
    who = names_phrase(nicknames)
    text = rng.choice(
        [f"欢迎{who}来到直播间！", f"{who}来啦，欢迎欢迎！", f"欢迎{who}，喜欢的点个关注！"]
    )
    return _line(text, persona, "reaction", "happy", extra=[text])


def thank_gift(
    persona: str, nicknames: Sequence[str], gift: str, rng: random.Random
) -> Line | None:
    who = names_phrase(nicknames)
    gift = _NAME_OK.sub("", gift)[:8] or "礼物"
    text = rng.choice([f"谢谢{who}送的{gift}！", f"感谢{who}的{gift}，太给力了！"])
    return _line(text, persona, "reaction", "excited", extra=[text])


def thank_follow(persona: str, nicknames: Sequence[str], rng: random.Random) -> Line | None:
    who = names_phrase(nicknames)
    text = rng.choice([f"谢谢{who}的关注！", f"感谢{who}关注咱直播间！"])
    return _line(text, persona, "reaction", "happy", extra=[text])


def apologize(persona: str, nicknames: Sequence[str], product: ProductFacts | None) -> Line | None:
    """Quality complaint: sorry, a ticket is open, a person follows up."""
    who = names_phrase(nicknames)
    what = product.name if product else "东西"
    text = (
        f"{who}，实在对不住，{what}有问题我们一定负责到底，已经给您登记了售后，客服马上私信联系您。"
    )
    return _line(text, persona, "reaction", "apologetic", product, extra=[text], rate=0.95)


def reexplain_value(persona: str, product: ProductFacts, rng: random.Random) -> Line | None:
    """Price complaints rising: why it costs what it costs; an offer only if the shop has one."""
    feature = product.features[0] if product.features else "品质好"
    text = (
        f"有朋友觉得贵，我跟大家说说：{product.title}{feature}，"
        f"是{product.origin}的，直播间{speak_price(product.price)}一{product.unit}。"
    )
    if product.promo:
        text += f"现在下单更划算：{product.promo}。"
    return _line(text, persona, "reaction", "concerned", product, rate=0.95)


def call_to_action(persona: str, product: ProductFacts, rng: random.Random) -> Line | None:
    """Purchase intent rising: the real stock, said safely."""
    stock = stock_phrase(product)
    text = rng.choice(
        [
            f"想要{product.name}的家人们抓紧下单，{stock}！",
            f"好多朋友在拍{product.name}，{stock}，点下方购物车！",
        ]
    )
    return _line(text, persona, "reaction", "excited", product, extra=[f"库存{stock}"], rate=1.05)


def answer_to(persona: str, nicknames: Sequence[str], answer_text: str) -> str:
    """Address a spoken answer to its askers: 老张，… / 老张和小芳，…"""
    return f"{names_phrase(nicknames)}，{answer_text}"
