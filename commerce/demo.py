"""Demo catalog of Fuping produce, seeded into a fresh store and used by `make run`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from commerce.facts import ProductFacts

DEMO_PRODUCTS: tuple[ProductFacts, ...] = (
    ProductFacts(
        sku="fp-jujube-500g",
        name="大枣",
        title="阜平大枣",
        price=Decimal("29.9"),
        unit="斤",
        stock=500,
        origin="河北保定阜平县龙泉关镇",
        harvest_date=date(2026, 10, 8),
        category="干果",
        certifications=("地理标志",),
        features=("个大肉厚", "皮薄核小", "自然晾晒"),
        taste="甜而不腻，越嚼越香",
        nutrition="富含膳食纤维和维生素C",
        storage="阴凉干燥处密封保存",
        promo="两斤立减5元",
        list_price=Decimal("39.9"),
    ),
    ProductFacts(
        sku="fp-walnut-500g",
        name="核桃",
        title="阜平薄皮核桃",
        price=Decimal("25.8"),
        unit="斤",
        stock=300,
        origin="河北保定阜平县城南庄镇",
        harvest_date=date(2026, 9, 15),
        category="干果",
        features=("薄皮好剥", "仁饱满", "手捏就开"),
        taste="香脆不涩",
        nutrition="含不饱和脂肪酸",
        storage="通风干燥处保存，开袋后尽快食用",
    ),
    ProductFacts(
        sku="fp-chestnut-500g",
        name="板栗",
        title="阜平山板栗",
        price=Decimal("19.9"),
        unit="斤",
        stock=400,
        origin="河北保定阜平县天生桥镇",
        harvest_date=date(2026, 9, 28),
        category="干果",
        features=("个头均匀", "糯甜", "山地散养树"),
        taste="软糯香甜",
        nutrition="含淀粉和钾",
        storage="冷藏保存，两周内吃完",
    ),
    ProductFacts(
        sku="fp-millet-2500g",
        name="小米",
        title="阜平黄小米",
        price=Decimal("39.9"),
        unit="袋",
        stock=250,
        origin="河北保定阜平县北果园乡",
        harvest_date=date(2026, 10, 2),
        category="杂粮",
        features=("颗粒金黄", "熬粥出油", "一袋五斤"),
        taste="米香浓，粥面有米油",
        nutrition="含B族维生素",
        storage="密封防潮，常温保存",
    ),
    ProductFacts(
        sku="fp-mushroom-250g",
        name="香菇",
        title="阜平香菇",
        price=Decimal("32.0"),
        unit="盒",
        stock=180,
        origin="河北保定阜平县平阳镇",
        harvest_date=date(2026, 11, 10),
        category="菌菇",
        features=("菌盖厚实", "香味足", "一盒半斤"),
        taste="鲜香有嚼劲",
        nutrition="含膳食纤维",
        storage="冷藏保存，三天内吃完",
    ),
    ProductFacts(
        sku="fp-honey-500g",
        name="蜂蜜",
        title="阜平荆条蜜",
        price=Decimal("48.0"),
        unit="瓶",
        stock=120,
        origin="河北保定阜平县吴王口乡",
        harvest_date=date(2026, 7, 20),
        category="蜂产品",
        features=("荆条花期采收", "浓稠", "一瓶一斤"),
        taste="清甜带花香",
        nutrition="含果糖和葡萄糖",
        storage="常温避光保存，不用冷藏",
        promo="买二送一小瓶",
    ),
    ProductFacts(
        sku="fp-apple-5kg",
        name="苹果",
        title="阜平红富士苹果",
        price=Decimal("59.9"),
        unit="箱",
        stock=200,
        origin="河北保定阜平县史家寨乡",
        harvest_date=date(2026, 10, 25),
        category="水果",
        features=("脆甜多汁", "一箱十斤", "果径80毫米以上"),
        taste="脆甜爽口",
        nutrition="含果胶和维生素",
        storage="冷藏可放一个月",
    ),
)


# what a unit costs the cooperative (goods, packing, the platform's fee): staff only
DEMO_COSTS = {
    "fp-jujube-500g": Decimal("15.5"),
    "fp-walnut-500g": Decimal("13.8"),
    "fp-chestnut-500g": Decimal("10.2"),
    "fp-millet-2500g": Decimal("21.0"),
    "fp-mushroom-250g": Decimal("17.5"),
    "fp-honey-500g": Decimal("26.0"),
    "fp-apple-5kg": Decimal("33.0"),
}


def demo_product(name_or_sku: str) -> ProductFacts | None:
    """Find a demo product by short name, title or SKU."""
    for p in DEMO_PRODUCTS:
        if name_or_sku in (p.sku, p.name, p.title):
            return p
    return None


async def seed_history(store, *, days: int = 90, customers: int = 300, orders: int = 2400) -> bool:
    """Give a fresh demo shop a small sales history so the dashboard is never empty.

    Does nothing when the shop already has orders or a generated history; fast (well under
    3 s on SQLite). Returns True when it wrote a history.
    """
    from sqlalchemy import func, select

    from commerce.analytics import history
    from commerce.models import AnState, Order

    async with store.db.read() as s:
        if await s.get(AnState, history.HISTORY_KEY) is not None:
            return False
        if (await s.execute(select(func.count()).select_from(Order))).scalar_one():
            return False
    try:
        # the live demo room keeps the catalog's own stock (its lines and answers say it);
        # `yunlian-shop demo-data` restocks to the history's size
        await history.generate(
            store,
            years=days / 365,
            customers=customers,
            orders=orders,
            seed=20261,
            replenish=False,
        )
    except (history.HistoryExists, ValueError):
        return False
    return True
