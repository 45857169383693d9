"""Answers worked out from the shop's own facts: catalog, the room's promotions, shop policy.

Each intent `scripts_gen.understand` reads becomes one clause built from a `ProductFacts`
sheet (and `data/policy/shop.json` for shipping and returns), so every number said is a
number the shop holds, or one computed from them (a deal for a quantity, a sale's end time).
The computed clauses are passed back as `derived` texts: the grounding checker accepts their
numbers because they were derived here, from the sheet, not written by a model.

原价 follows China's pricing rules: a 原价 is a price the shop actually charged in the 7 days
before the offer. Unless the sheet says so (`list_price_charged`), the host says nothing
about a 原价.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from commerce.facts import ProductFacts
from scripts_gen.numerals import parse_numbers, speak_date, speak_int, speak_price
from scripts_gen.reactions import stock_phrase
from scripts_gen.understand import CN_SMALL, Ask, feature_words

POLICY_PATH = Path(__file__).parent / "data" / "policy" / "shop.json"
SHOP_WIDE = (
    "ship_time",
    "delivery_days",
    "courier",
    "free_ship",
    "returns",
    "refund_days",
    "return_fee",
)
FLASH = ("flash_price", "flash_left", "flash_end", "flash_saving", "after_sale")
# asked, but the shop holds no fact for it: a person answers ("限购几份" when no limit is set)
NO_FACT = "no_fact"
MAX_INTENTS = 3
MAX_PRODUCTS = 3
_OFF = re.compile(
    r"(?P<n>\d+|[一二两三四五六七八九十])(?P<unit>斤|盒|瓶|袋|箱|份)立减(?P<off>\d+(?:\.\d+)?)元"
)
_GIFT = re.compile(r"买(?P<n>\d+|[一二两三四五六七八九十])送(?P<gift>[^，。；;]+)")
_EN_UNITS = {"斤": "jin (500 g)", "盒": "box", "瓶": "jar", "袋": "bag", "箱": "case", "份": "pack"}
MASS_NOUNS = ("蜂蜜", "小米")
EN_TITLES = {
    "大枣": "Fuping jujubes (red dates)",
    "核桃": "Fuping thin-shell walnuts",
    "板栗": "Fuping chestnuts",
    "小米": "Fuping yellow millet",
    "香菇": "Fuping shiitake mushrooms",
    "蜂蜜": "Fuping vitex honey",
    "苹果": "Fuping Fuji apples",
}


@lru_cache(maxsize=1)
def policy() -> dict:
    return json.loads(POLICY_PATH.read_text(encoding="utf-8"))


def count_phrase(p: ProductFacts) -> str:
    """Stock for a viewer who asked how many: to the ten, said as about (还有一百二十瓶左右),
    so it holds while a few sell; a sold-out or small stock as `stock_phrase` says it."""
    if p.stock <= 20 or p.stock >= 1000:
        return stock_phrase(p)
    tens = p.stock // 10 * 10
    if p.stock < 100:
        return f"库存不多了，还有{speak_int(tens)}多{p.unit}"
    return f"还有{speak_int(tens)}{p.unit}左右"


@dataclass(frozen=True)
class Composed:
    """An answer from facts: its text, the product it is about, and its derived facts."""

    text: str
    product: ProductFacts | None
    derived: tuple[str, ...] = ()  # texts whose numbers were computed here from the sheet
    sources: tuple[str, ...] = field(default_factory=tuple)
    sold_out: bool = False
    missing: tuple[str, ...] = ()  # asked, and the facts cannot say: a person answers


def _count(word: str) -> int:
    return int(word) if word.isdigit() else CN_SMALL.get(word, 0)


def _yuan(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()


def flash_running(p: ProductFacts, now: datetime) -> bool:
    return p.sale_ends is not None and p.sale_ends > now and p.list_price is not None


def deal_for(p: ProductFacts, qty: int, now: datetime) -> tuple[Decimal, str]:
    """What `qty` units cost with the product's own deal, and the deal as said."""
    total = p.price * qty
    if flash_running(p, now):
        return _yuan(total), "秒杀价"
    promo = p.promo or ""
    m = _OFF.search(promo)
    if m and _count(m["n"]) and qty >= _count(m["n"]):
        times = qty // _count(m["n"])
        return _yuan(total - Decimal(m["off"]) * times), m[0]
    g = _GIFT.search(promo)
    if g and _count(g["n"]) and qty >= _count(g["n"]):
        return _yuan(total), g[0]
    return _yuan(total), ""


def shop_time(moment: datetime) -> datetime:
    """A shop timestamp (naive UTC, as the store keeps them) in the shop's own time zone."""
    return moment + timedelta(hours=policy()["utc_offset_hours"])


def end_phrase(ends: datetime, now: datetime) -> str:
    """ "今天20:30结束，也就是晚上八点半": digits for the chat, words as a host says it, in the
    shop's time zone (both arguments are naive UTC, as the store keeps time)."""
    ends, now = shop_time(ends), shop_time(now)
    day = (
        "今天"
        if ends.date() == now.date()
        else ("明天" if (ends.date() - now.date()).days == 1 else f"{speak_date(ends.date())}")
    )
    clock = f"{ends.hour}:{ends.minute:02d}"
    part = (
        "凌晨"
        if ends.hour < 6
        else "上午"
        if ends.hour < 12
        else "中午"
        if ends.hour < 13
        else "下午"
        if ends.hour < 18
        else "晚上"
    )
    hour12 = ends.hour - 12 if ends.hour > 12 else ends.hour
    spoken = f"{speak_int(hour12) if hour12 != 2 else '两'}点"
    if ends.minute == 30:
        spoken += "半"
    elif ends.minute:
        spoken += f"{speak_int(ends.minute)}分"
    return f"{day}{clock}结束，也就是{part}{spoken}"


class Composer:
    """Builds the clause for each intent of an `Ask` (Chinese or English)."""

    def __init__(self, now: datetime):
        self.now = now
        self.derived: list[str] = []
        self.missing: list[str] = []  # intents the facts cannot answer
        self.products: list[ProductFacts] = []  # the whole room, for "which one is on sale"

    # -- Chinese ----------------------------------------------------------------------------
    def zh(self, intent: str, p: ProductFacts | None, ask: Ask) -> str | None:
        pol = policy()
        if intent in SHOP_WIDE:
            shipping = p.shipping if p is not None else ""
            hours = re.search(r"(\d+)小时", shipping)
            hours_said = f"{hours[1] if hours else pol['ship_hours']}小时"
            courier = next(
                (c for c in ("顺丰", "中通", "圆通", "韵达", "京东", "邮政") if c in shipping),
                pol["courier"],
            )
            free = "包邮" in shipping if shipping else pol["free_shipping"]
            if intent == "ship_time":
                return f"下单后{hours_said}内发货，发{courier}快递"
            if intent == "delivery_days":
                text = f"{hours_said}内发货，发{courier}，{pol['delivery_days']}"
                self.derived.append(text)
                return text
            if intent == "refund_days":
                self.derived.append(pol["refund_days"])
                return pol["refund_days"]
            if intent == "return_fee":
                return pol["return_fee"]
            if intent == "courier":
                return f"发的是{courier}快递" + ("，包邮" if free else "") + f"，{hours_said}内发货"
            if intent == "free_ship":
                return (
                    f"包邮，全国都包邮，发{courier}快递"
                    if free
                    else f"运费按地区算，发{courier}快递"
                )
            return pol["returns"]
        if intent in ("flash_limit", "wholesale", "flash_start"):
            self.missing.append(intent)
            return None
        if p is None:
            return None
        if p.sold_out and intent in ("price", "stock", "promo", "list_price", *FLASH):
            return f"{p.name}这会儿已经卖完了，补了货马上告诉大家"
        price = speak_price(p.price)
        if intent == "price":
            qty = self._units(p, ask)
            if qty:
                return self._deal(p, qty, ask)
            if flash_running(p, self.now):
                return f"{p.name}现在秒杀价{price}一{p.unit}"
            promo = f"，{p.promo}" if p.promo else ""
            per_jin = self._per_jin(p, ask)
            return f"{p.name}现在{price}一{p.unit}{per_jin}{promo}"
        if intent in FLASH:
            if not flash_running(p, self.now):
                other = next((q for q in self.products if flash_running(q, self.now)), None)
                elsewhere = (
                    f"，现在秒杀的是{other.name}，秒杀价{speak_price(other.price)}一{other.unit}"
                    if other is not None
                    else ""
                )
                if elsewhere:
                    self.derived.append(elsewhere)
                return f"{p.name}现在没有秒杀，直播间价{price}一{p.unit}{elsewhere}"
            if intent == "flash_price":
                return f"{p.name}正在秒杀，秒杀价{price}一{p.unit}"
            regular = p.regular_price
            if intent in ("flash_saving", "after_sale") and regular is None:
                self.missing.append(intent)
                return None
            if intent == "flash_saving":
                off = _yuan(regular - p.price)
                text = (
                    f"{p.name}秒杀价{price}一{p.unit}，平时{speak_price(regular)}，"
                    f"一{p.unit}便宜{speak_price(off)}"
                )
                self.derived.append(text)
                return text
            if intent == "after_sale":
                text = f"{p.name}秒杀{end_phrase(p.sale_ends, self.now)}，之后恢复{speak_price(regular)}一{p.unit}"
                self.derived.append(text)
                return text
            if intent == "flash_left":
                left, cap = p.sale_left or 0, p.sale_cap or 0
                text = f"{p.name}秒杀限量{speak_int(cap)}份，还剩{speak_int(left)}份"
                self.derived.append(text)
                return text
            text = f"{p.name}秒杀{end_phrase(p.sale_ends, self.now)}"
            self.derived.append(text)
            return text
        if intent == "list_price":
            if flash_running(p, self.now) and p.regular_price is not None:
                text = f"{p.name}平时{speak_price(p.regular_price)}一{p.unit}，现在秒杀价{price}"
                self.derived.append(text)
                return text
            if p.list_price is not None and p.list_price_charged:
                return f"{p.name}原价{speak_price(p.list_price)}，现在{price}一{p.unit}"
            return f"{p.name}直播间现在就是{price}一{p.unit}，实实在在的价"
        if intent == "promo":
            if flash_running(p, self.now):
                return f"{p.name}正在秒杀，秒杀价{price}一{p.unit}，名额有限"
            if p.promo:
                m = _OFF.search(p.promo)
                if m and _count(m["n"]) > 1:  # "两斤立减5元": what the two cost
                    total, _ = deal_for(p, _count(m["n"]), self.now)
                    text = (
                        f"{p.name}现在的活动是{p.promo}，{m['n']}{m['unit']}一起买到手"
                        f"{speak_price(total)}，直播间价{price}一{p.unit}"
                    )
                    self.derived.append(text)
                    return text
                return f"{p.name}现在的活动是{p.promo}，直播间价{price}一{p.unit}"
            return f"{p.name}现在没有额外活动，直播间价{price}一{p.unit}"
        if intent == "stock" and (
            ask.quantity
            or re.search(r"多少|几|库存多|存货多|哪个多|货多|哪个少|库存少|还多|多不多", ask.text)
        ):
            have = count_phrase(p)
            if ask.quantity and ask.quantity <= p.stock:
                n = f"{speak_int(ask.quantity)}{p.unit}"
                text = f"{p.name}现货{have}，要{n}没问题，够的"
            elif ask.quantity:
                text = f"{p.name}现货{have}，{speak_int(ask.quantity)}{p.unit}不够，可以先拍现有的"
            else:
                text = f"{p.name}现货{have}"
            self.derived.append(text)
            return text
        if intent == "stock" and flash_running(p, self.now) and p.sale_left:
            text = (
                f"{p.name}有现货，秒杀限量{speak_int(p.sale_cap or 0)}份，"
                f"还剩{speak_int(p.sale_left)}份，抢完恢复{speak_price(p.regular_price or p.price)}"
            )
            self.derived.append(text)
            return text
        if intent == "stock":
            if p.stock >= 100:
                text = f"{p.name}有现货，现货充足，下单后{policy()['ship_hours']}小时内发货"
            elif p.stock > 20:
                text = f"{p.name}有现货，库存不多了，喜欢的抓紧"
            else:
                text = f"{p.name}有货，只剩{speak_int(p.stock)}{p.unit}了"
            self.derived.append(text)
            return text
        if intent == "origin":
            return f"{p.title}产自{p.origin}"
        if intent == "harvest":
            return f"这批{p.name}是{speak_date(p.harvest_date)}采收的，是今年的新货"
        if intent == "storage":
            return f"{p.name}这样保存：{p.storage}" if p.storage else None
        if intent == "taste":
            if not p.taste:
                return None
            adj = next((a for a in "甜香脆糯" if a in ask.text and a in p.taste), None)
            return f"{adj}！{p.name}{p.taste}" if adj else f"{p.name}{p.taste}"
        if intent == "spec":
            size = r"毫米|厘米|个头|个大|果径" if re.search(r"多大|个头|直径", ask.text) else "$^"
            spec = next((f for f in p.features if re.search(size, f)), None) or next(
                (f for f in p.features if re.search(r"一(斤|盒|瓶|袋|箱)|斤|克|毫米", f)), None
            )
            return (
                f"{p.title}{spec}，{price}一{p.unit}"
                if spec
                else f"{p.title}按{p.unit}卖，{price}一{p.unit}"
            )
        if intent == "feature":
            said = [f for f in p.features if any(w in f for w in feature_words(ask.text))]
            return f"{p.name}{'，'.join(said)}" if said else None
        if intent == "certs":
            held = [c for c in p.certifications if c in ask.text] or (
                list(p.certifications) if not re.search(r"有机|绿色|检测|质检", ask.text) else []
            )
            if held:
                return f"{p.name}有{'、'.join(held)}认证"
            if p.certifications:  # asked for another one: say what it holds, deny nothing
                return f"{p.name}的认证是{'、'.join(p.certifications)}"
            self.missing.append(intent)  # a person shows what the shop holds
            return None
        if intent == "kind":
            return f"{p.title}，{'，'.join(p.features[:2])}"
        return None

    def _per_jin(self, p: ProductFacts, ask: Ask) -> str:
        """ "一斤合多少" for goods sold by the box or bag: the box's jin from its features."""
        if p.unit == "斤" or not re.search(r"一斤(合|多少|几)|合一斤|每斤|一斤.{0,2}钱", ask.text):
            return ""
        for f in p.features:
            m = re.search(rf"一{p.unit}(.+?)斤", f)
            size = next((x.value for x in parse_numbers(m[1])), None) if m else None
            if size and size > 0:
                text = f"，一{p.unit}{m[1]}斤，合一斤{speak_price(_yuan(p.price / size))}"
                self.derived.append(text)
                return text
        return ""

    def overview(self, intents: list[str], products, ask: Ask) -> str | None:
        """What the whole room offers, when a question names no product: "今天有什么福利",
        "这几样都有货吗"."""
        live = [p for p in products if not p.sold_out]
        if "promo" in intents and re.search(
            r"直播间|今天|都有|有什么|哪些|什么(福利|活动|优惠)", ask.text
        ):
            deals = []
            for p in live:
                if flash_running(p, self.now):
                    deals.append(f"{p.name}正在秒杀，秒杀价{speak_price(p.price)}一{p.unit}")
                elif p.promo:
                    deals.append(f"{p.name}{p.promo}")
            if deals:
                return "，".join(deals)
        if "origin" in intents and re.search(r"都是|几样|全部|都从", ask.text):
            towns = {p.origin for p in products if p.origin}
            if towns and all("阜平" in t for t in towns):
                return "都是河北保定阜平县的，各个乡镇的农户种的"
        if "recommend" in intents:
            deals = self.overview(["promo"], products, replace(ask, text="今天"))
            gifts = "送长辈可以选大枣、核桃、蜂蜜，下单时备注需要礼盒"
            return f"直播间有{'、'.join(p.name for p in live)}，{gifts}" + (
                f"；今天划算的是{deals}" if deals else ""
            )
        if "stock" in intents and re.search(r"都有|几样|全部|哪些|什么有货|都还有", ask.text):
            gone = [p.name for p in products if p.sold_out]
            if not gone:
                return "都有现货"
            return (
                f"{'、'.join(gone)}这会儿已经卖完了，其他{'、'.join(p.name for p in live)}都有现货"
            )
        return None

    def _units(self, p: ProductFacts, ask: Ask) -> int | None:
        """How many of the product's own units a question asks for ("10斤小米" -> 2 袋)."""
        mine = [(n, unit) for name, n, unit in ask.amounts if name == p.name]
        if not mine:
            return ask.quantity if len(ask.products) <= 1 else None
        n, unit = max(mine)  # "一斤多少，两斤呢": the two jin are the sum asked for
        if unit in (p.unit, "份"):
            return n if n > 1 else None  # one of its own units: the unit price
        for f in p.features:  # 一袋五斤: a bag holds five jin
            m = re.search(rf"一{p.unit}(.+?){unit}", f)
            size = next((x.value for x in parse_numbers(m[1])), None) if m else None
            if size and n % size == 0:
                return int(n // size)
        return None

    def total(self, chosen: list[ProductFacts], ask: Ask) -> str | None:
        """Several products with their quantities, added up with each one's own deal."""
        parts, total = [], Decimal(0)
        for p in chosen:
            mine = [(n, unit) for name, n, unit in ask.amounts if name == p.name]
            one = not mine or max(mine) in ((1, p.unit), (1, "份"))
            qty = self._units(p, ask) or (1 if one else 0)
            if not qty or p.sold_out:
                return None
            cost, _ = deal_for(p, qty, self.now)
            total += cost
            parts.append(f"{p.name}{speak_int(qty)}{p.unit}{speak_price(cost)}")
        text = "，".join(parts) + f"，一共{speak_price(_yuan(total))}"
        self.derived.append(text)
        return text

    def _deal(self, p: ProductFacts, qty: int, ask: Ask | None = None) -> str:
        total, deal = deal_for(p, qty, self.now)
        n = speak_int(qty)
        asked = ask.text if ask is not None else ""
        if deal and re.search(r"平均|合(多少|几)|单价|一(斤|盒|瓶|袋|箱)合", asked):
            each = _yuan(total / qty)  # "两斤平均一斤多少钱"
            text = (
                f"{p.name}{deal}，{n}{p.unit}到手{speak_price(total)}，"
                f"平均一{p.unit}{speak_price(each)}"
            )
            self.derived.append(text)
            return text
        if deal == "秒杀价":
            text = f"{p.name}秒杀价{speak_price(p.price)}一{p.unit}，{n}{p.unit}一共{speak_price(total)}"
        elif deal.startswith("买"):
            text = f"{p.name}{n}{p.unit}一共{speak_price(total)}，{deal}"
        elif deal:
            text = (
                f"{p.name}{speak_price(p.price)}一{p.unit}，{n}{p.unit}按单价算"
                f"{speak_price(_yuan(p.price * qty))}，{deal}，到手{speak_price(total)}"
            )
        else:
            text = f"{p.name}{speak_price(p.price)}一{p.unit}，{n}{p.unit}一共{speak_price(total)}"
        self.derived.append(text)
        return text

    # -- English ----------------------------------------------------------------------------
    def en(self, intent: str, p: ProductFacts | None, ask: Ask) -> str | None:
        pol = policy()
        if intent in SHOP_WIDE:
            if intent == "delivery_days":
                self.derived.append(pol["delivery_days_en"])
            if intent == "refund_days":
                self.derived.append(pol["refund_days_en"])
            return {
                "ship_time": f"We ship within {pol['ship_hours']} hours of your order, by {pol['courier_en']}",
                "delivery_days": f"We ship within {pol['ship_hours']} hours by {pol['courier_en']}; delivery takes {pol['delivery_days_en']}",
                "courier": f"We ship by {pol['courier_en']}, free shipping, within {pol['ship_hours']} hours",
                "free_ship": f"Yes, shipping is free everywhere, by {pol['courier_en']}",
                "returns": pol["returns_en"].capitalize(),
                "refund_days": pol["refund_days_en"].capitalize(),
                "return_fee": pol["return_fee_en"].capitalize(),
            }[intent]
        if intent in ("flash_limit", "wholesale"):
            self.missing.append(intent)
            return None
        if p is None:
            return None
        name = EN_TITLES.get(p.name, p.title)
        unit = _EN_UNITS.get(p.unit, p.unit)
        price = f"{p.price.normalize():f} yuan"
        if p.sold_out and intent in ("price", "stock", "promo", "list_price", *FLASH):
            return f"{name} are sold out right now; we will announce the restock here"
        if intent == "price":
            if ask.quantity:
                total, deal = deal_for(p, ask.quantity, self.now)
                text = f"{ask.quantity} {unit} of {name} cost {total:f} yuan in total"
                self.derived.append(text)
                return text + (" with the live-room deal" if deal else "")
            if flash_running(p, self.now):
                return f"{name} are on flash sale at {price} per {unit}"
            return f"{name} are {price} per {unit} in this live room"
        if intent in FLASH:
            if not flash_running(p, self.now):
                return (
                    f"There is no flash sale on {name} right now; the price is {price} per {unit}"
                )
            if intent == "after_sale" and p.regular_price is not None:
                ends = shop_time(p.sale_ends)
                regular = f"{p.regular_price.normalize():f}"
                text = (
                    f"After the flash sale ends at {ends:%H:%M} (Beijing time), {name} go back "
                    f"to {regular} yuan per {unit}"
                )
                self.derived.append(f"{ends.hour} {ends.minute} {regular}")
                return text
            if intent == "flash_left":
                text = f"{p.sale_left} of the {p.sale_cap} flash-sale units of {name} are left"
                self.derived.append(text)
                return text
            if intent == "flash_end":
                ends, now = shop_time(p.sale_ends), shop_time(self.now)
                day = " today" if ends.date() == now.date() else f" on {ends:%b %d}"
                text = f"The flash sale on {name} ends at {ends:%H:%M}{day} (Beijing time)"
                self.derived.append(f"{ends.hour} {ends.minute} {ends.day}")
                return text
            return f"The flash-sale price of {name} is {price} per {unit}"
        if intent == "list_price":
            if p.list_price is not None and p.list_price_charged:
                return f"{name} were {p.list_price.normalize():f} yuan; now {price} per {unit}"
            return f"{name} are {price} per {unit} here, a real price"
        if intent == "promo":
            if flash_running(p, self.now):
                return f"{name} are on flash sale at {price} per {unit}"
            deal = _promo_en(p)
            return f"{name} are {price} per {unit}" + (f"; live-room deal: {deal}" if deal else "")
        if intent == "stock" and re.search(r"\bhow (many|much)\b", ask.text) and p.stock > 20:
            about = p.stock // 10 * 10 if p.stock < 1000 else p.stock // 100 * 100
            text = f"About {about} {unit}s of {name} are in stock"
            self.derived.append(text)
            return text
        if intent == "stock":
            return f"Yes, {name} are in stock and ship within {pol['ship_hours']} hours"
        if intent == "spec":
            for f in p.features:
                m = re.search(r"一(斤|盒|瓶|袋|箱)(.+?)(斤|毫米)", f)
                if m:
                    n = next((x.value for x in parse_numbers(m[2])), None)
                    if n is not None:
                        what = "jin" if m[3] == "斤" else "mm"
                        text = f"One {_EN_UNITS.get(m[1], m[1])} of {name} holds {n:f} {what}"
                        if m[3] == "斤":
                            text += f" ({n / 2:f} kg)"
                        self.derived.append(text)
                        return text
            return f"{name} are sold by the {unit} at {price}"
        if intent == "origin":
            town = re.search(r"县(.+?)(镇|乡)", p.origin or "")
            where = (
                f"{_pinyin(town[1])} {'town' if town[2] == '镇' else 'township'}, " if town else ""
            )
            return f"{name} come from {where}Fuping county, Baoding, Hebei"
        if intent == "harvest":
            return f"This batch of {name} was harvested on {p.harvest_date:%B} {p.harvest_date.day}"
        if intent == "storage":
            said = [en for zh, en in _STORAGE_EN if zh in (p.storage or "")]
            if not said:
                return f"Keep {name} as the label says; details are on the product page"
            return f"Keep {name} " + ", ".join(dict.fromkeys(said))
        if intent == "taste":
            said = [en for zh, en in _TASTE_EN if zh in (p.taste or "")]
            if not said:
                return None
            return f"{name} taste " + " and ".join(dict.fromkeys(said))
        return None


# the catalog's own words, said in English (a fact sheet keeps them in Chinese)
_STORAGE_EN = (
    ("不用冷藏", "at room temperature, no fridge needed"),
    ("常温", "at room temperature"),
    ("避光", "out of the sun"),
    ("冷藏", "in the fridge"),
    ("阴凉", "in a cool place"),
    ("干燥", "dry"),
    ("通风", "airy"),
    ("密封", "sealed"),
    ("两周内吃完", "and eat them within two weeks"),
    ("三天内吃完", "and eat them within three days"),
    ("一个月", "for up to a month"),
)
_TASTE_EN = (
    ("甜", "sweet"),
    ("香", "fragrant"),
    ("脆", "crisp"),
    ("糯", "soft and sticky"),
    ("不涩", "not bitter"),
    ("鲜", "savoury"),
    ("花香", "floral"),
)
_GIFT_EN = {"一小瓶": "a small jar", "小瓶": "a small jar"}


def _pinyin(text: str) -> str:
    """龙泉关 -> Longquanguan."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text)).capitalize()


def _promo_en(p: ProductFacts) -> str | None:
    """The product's own deal in English ("buy 2, get a small jar free")."""
    promo = p.promo or ""
    if m := _OFF.search(promo):
        return (
            f"{_count(m['n'])} {_EN_UNITS.get(m['unit'], m['unit'])} together, {m['off']} yuan off"
        )
    if g := _GIFT.search(promo):
        gift = _GIFT_EN.get(g["gift"], "a gift")
        return f"buy {_count(g['n'])}, get {gift} free"
    return None


def compose(ask: Ask, fallback: ProductFacts | None, products, now: datetime) -> Composed | None:
    """The answer to `ask` from the facts, or None when it asks nothing the facts answer."""
    intents = list(ask.intents[:MAX_INTENTS])
    if not intents:
        return None
    chosen = list(ask.products[:MAX_PRODUCTS])
    if not chosen and any(i in FLASH for i in intents):
        chosen = [p for p in products if flash_running(p, now)][:1]
    if not chosen and fallback is not None:
        chosen = [fallback]
    composer = Composer(now)
    composer.products = list(products)
    if not ask.products and not ask.english:
        overview = composer.overview(intents, products, ask)
        if overview:
            return Composed(
                overview + "。",
                None,
                tuple(composer.derived),
                tuple(f"catalog:{p.sku}" for p in products),
            )
    say = composer.en if ask.english else composer.zh
    if ask.english:
        composer.derived.append("500 g")  # a jin, as the English unit says it
    clauses: list[str] = []
    if (
        not ask.english
        and len(chosen) >= 2
        and ask.amounts
        and re.search(r"一共|总共|合计|加起来|加|再来|一起|算", ask.text)
        and ({"price", "stock"} & set(intents) or re.search(r"一共|总共|合计", ask.text))
    ):
        summed = composer.total(chosen, ask)
        if summed:
            return Composed(
                summed + "。",
                chosen[0],
                tuple(composer.derived),
                tuple(f"catalog:{p.sku}" for p in chosen),
            )
    for intent in intents:
        targets = [None] if intent in SHOP_WIDE else chosen
        if intent in SHOP_WIDE and chosen:
            targets = chosen[:1]
        for p in targets:
            clause = say(intent, p, ask)
            if clause and clause not in clauses:
                clauses.append(clause)
    if not clauses:
        if composer.missing:
            return Composed("", chosen[0] if chosen else None, missing=tuple(composer.missing))
        return None
    about = chosen[0] if chosen else None
    sold = [p for p in chosen if p.sold_out]
    if sold and not ask.english and not any("卖完" in c for c in clauses):
        clauses.append(f"{sold[0].name}这会儿已经卖完了，补了货马上告诉大家")
    if ask.english:  # honey and millet are mass nouns
        for p in chosen:
            name = EN_TITLES.get(p.name, p.title)
            if p.name in MASS_NOUNS:
                clauses = [
                    c.replace(f"{name} are", f"{name} is")
                    .replace(f"{name} were", f"{name} was")
                    .replace(f"{name} come", f"{name} comes")
                    .replace(f"{name} taste ", f"{name} tastes ")
                    for c in clauses
                ]
    end = "." if ask.english else "。"
    sep = ". " if ask.english else "；"
    text = sep.join(clauses) + end
    sources = tuple(f"catalog:{p.sku}" for p in chosen) or ("policy:shop",)
    return Composed(text, about, tuple(composer.derived), sources, bool(sold))
