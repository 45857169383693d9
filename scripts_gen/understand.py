"""What a viewer's question asks: the products it names, what it wants to know, a quantity.

Live-room questions are short and typed fast: dialect (嘛 = 什么, 咋 = 怎么, 介 = 这, 恁 = 那么),
A-not-A forms (甜不甜, 包不包邮, 有没有货), pinyin initials (jg = 价格, by = 包邮), homophone typos
(包油, 核挑), an emoji for a product, English. `understand()` folds them to one plain form and
reads the intents from it; the desk then answers from the catalog, promotions and policy.
Nothing here knows a price: it only says what is asked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from commerce.facts import ProductFacts

# typed forms -> plain Mandarin, applied in order (longest and most specific first)
_REWRITES: tuple[tuple[str, str], ...] = (
    # homophone typos and chat spellings of shop words
    ("价个", "价格"),
    ("价隔", "价格"),
    ("架格", "价格"),
    ("包油", "包邮"),
    ("包由", "包邮"),
    ("快第", "快递"),
    ("块递", "快递"),
    ("顺风快递", "顺丰快递"),
    ("顺风", "顺丰"),
    ("核挑", "核桃"),
    ("核涛", "核桃"),
    ("大造", "大枣"),
    ("大找", "大枣"),
    ("板里", "板栗"),
    ("小蜜", "小米"),
    ("想姑", "香菇"),
    ("有无", "有没有"),
    ("俩", "两"),
    ("河桃", "核桃"),
    ("版栗", "板栗"),
    ("板力", "板栗"),
    ("蜂秘", "蜂蜜"),
    ("蜂密", "蜂蜜"),
    ("蜂蜒", "蜂蜜"),
    ("秒沙", "秒杀"),
    ("妙杀", "秒杀"),
    ("时侯", "时候"),
    ("快地", "快递"),
    ("快滴", "快递"),
    ("包游", "包邮"),
    ("包尤", "包邮"),
    ("香咕", "香菇"),
    ("小迷", "小米"),
    ("平菓", "苹果"),
    ("合桃", "核桃"),
    ("和桃", "核桃"),
    ("大早", "大枣"),
    ("红早", "红枣"),
    ("蜂米", "蜂蜜"),
    ("峰蜜", "蜂蜜"),
    ("板粟", "板栗"),
    ("板立", "板栗"),
    ("香姑", "香菇"),
    ("平果", "苹果"),
    ("小咪", "小米"),
    ("多少前", "多少钱"),
    ("多钱", "多少钱"),
    ("几毛", "多少钱"),
    ("神马", "什么"),
    ("肿么", "怎么"),
    ("木有", "没有"),
    ("冇", "没有"),
    ("退欵", "退款"),
    ("退宽", "退款"),
    ("发获", "发货"),
    ("法货", "发货"),
    # dialect: 嘛 = 什么 before a word (a final 嘛 is a particle), 介 = 这, 恁 = 这么, 忒 = 太
    ("干嘛", "干什么"),
    ("倍儿", "很"),
    ("忒", "太"),
    ("咋", "怎么"),
    ("啥", "什么"),
    ("恁", "这么"),
    ("得劲", "好吃"),
    ("齁", "甜"),
)
_MI_YOU = re.compile(r"(?<![小玉大糯黄])米有")
_MU_YOU = re.compile(r"有木(?!耳|头|材|瓜|屑|糖)")
_MI_MONEY = re.compile(r"(?<![小玉大糯黄])多少米")
_MA_WORD = re.compile(r"嘛(?=[\u4e00-\u9fff])")
_JIE = re.compile(r"介(?!绍|意|入|于)")
_INITIALS = {
    "jg": "价格",
    "jq": "价钱",
    "kd": "快递",
    "sf": "顺丰",
    "tk": "退款",
    "th": "退货",
    "by": "包邮",
    "yf": "运费",
    "xh": "现货",
    "fh": "发货",
    "kc": "库存",
    "ms": "秒杀",
    "sh": "售后",
    "yh": "优惠",
    "dz": "大枣",
    "ht": "核桃",
    "bl": "板栗",
    "xm": "小米",
    "xg": "香菇",
    "fm": "蜂蜜",
    "pg": "苹果",
    "dsq": "多少钱",
    "dsj": "多少钱",
    # whole pinyin words typed among Chinese ("dz多少qian", "zhe枣tian ma")
    "qian": "钱",
    "duoshao": "多少",
    "jiage": "价格",
    "tian": "甜",
    "ma": "吗",
    "zhe": "这",
    "baoyou": "包邮",
    "kuaidi": "快递",
    "fahuo": "发货",
    "youhuo": "有货",
}
_INITIALS_RE = re.compile(
    r"(?<![a-z])(" + "|".join(sorted(_INITIALS, key=len, reverse=True)) + r")(?![a-z])"
)
_EMOJI = {
    "🍯": "蜂蜜",
    "🐝": "蜂蜜",
    "🌰": "板栗",
    "🍎": "苹果",
    "🍏": "苹果",
    "🍄": "香菇",
    "🥜": "花生",  # peanuts: not walnuts
    "🌾": "小米",
    "🫘": "大枣",
}
# A-not-A: 甜不甜 -> 甜吗, 包不包邮 -> 包邮吗, 有没有货 -> 有货吗, 新不新鲜 -> 新鲜吗
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def normalise(text: str) -> str:
    """One plain form of a typed question (NFKC, lower case, dialect and typos folded)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    for emoji, word in _EMOJI.items():
        text = text.replace(emoji, word)
    if _CJK.search(text) or not is_english(text):  # initials among Chinese ("jg多少"), or alone
        text = _INITIALS_RE.sub(lambda m: _INITIALS[m.group(1)], text)
    for typed, plain in _REWRITES:
        text = text.replace(typed, plain)
    text = _MI_YOU.sub("没有", text)  # 米有 is 没有 typed fast, but 小米有 is millet
    text = _MU_YOU.sub("有没有", text)  # 还有木: 有没有
    text = _MI_MONEY.sub("多少钱", text)  # 多少米: slang for 多少钱
    text = _MA_WORD.sub("什么", text)
    text = _JIE.sub("这", text)
    if _A_NOT_A.search(text):  # 有没有现货 -> 有现货吗, 包不包邮 -> 包邮吗
        text = _A_NOT_A.sub(lambda m: m[1], text).rstrip("?？。!！~～ ") + "吗"
    return text


# what a question about a feature asks -> the words of the features that answer it
_FEATURE_ASKED = {
    "核": ("核",),
    "皮": ("皮",),
    "仁": ("仁",),
    "壳": ("壳", "剥", "捏"),
    "砸": ("剥", "捏", "开"),
    "野生": ("散养", "山地"),
    "树": ("树",),
    "颜色": ("金黄", "色"),
    "什么色": ("金黄", "色"),
    "熏": ("晾晒",),
    "锤": ("剥", "捏", "开"),
    "剥": ("剥", "捏", "开"),
    "夹": ("剥", "捏", "开"),
    "肉": ("肉",),
    "颗粒": ("颗粒",),
    "米油": ("米油", "出油"),
    "菌盖": ("菌盖",),
    "稠": ("稠",),
    "多汁": ("多汁",),
    "晾晒": ("晾晒", "晒"),
    "晒": ("晾晒", "晒"),
    "熏硫": ("晾晒",),
    "硫磺": ("晾晒",),
    "烘干": ("晾晒",),
    "稀": ("稠",),
    "兑水": ("稠",),
    "个大": ("个大", "个头", "果径"),
    "均匀": ("均匀",),
}


def feature_words(text: str) -> tuple[str, ...]:
    """The feature words that answer a question about a part or a quality (核 -> 核小)."""
    return tuple(w for cue, words in _FEATURE_ASKED.items() if cue in text for w in words)


# farm goods viewers ask for that a shop may not sell; checked against the shop's own catalog,
# longest first, so 核桃油 is not 核桃 and 土鸡蛋 is not 鸡蛋
OTHER_GOODS = tuple(
    sorted(
        (
            "土鸡蛋 鸡蛋 鸭蛋 鹅蛋 核桃油 核桃粉 香菇酱 香菇干 蜂王浆 蜂巢蜜 蜂胶 花粉 苹果干 苹果醋 "
            "槐花蜜 洋槐蜜 枣花蜜 椴树蜜 百花蜜 油菜花蜜 黄米面 小米面 玉米面 黄米 年糕 枣夹核桃 红薯 紫薯 土豆 花生 木耳 黄豆 绿豆 红豆 黑豆 玉米 大米 糯米 面粉 粉条 "
            "小米辣 酸枣 冬枣 纸皮核桃 山楂 柿子 柿饼 梨 桃子 葡萄 猕猴桃 枸杞 榛子 杏仁 松子 腊肉 土鸡 猪肉 羊肉 牛肉 豆腐 茶叶 "
            "白酒 小米椒 辣椒 蒜 姜 南瓜 白菜 萝卜 黄瓜 西红柿 香椿 蘑菇酱 粽子 月饼 荞麦 燕麦 高粱"
        ).split(),
        key=len,
        reverse=True,
    )
)
_HAVE_CUE = re.compile(r"有|卖|上|买|进|要|来|拍|链接")


def not_sold(plain: str, products: Sequence[ProductFacts]) -> str | None:
    """The good a question asks to buy when the shop does not sell it ("有土鸡蛋吗")."""
    sold = {w for p in products for w in (p.name, p.title)}
    for good in OTHER_GOODS:
        at = plain.find(good)
        if at < 0 or any(good in w for w in sold):
            continue
        around = plain[max(0, at - 4) : at] + plain[at + len(good) : at + len(good) + 4]
        if _HAVE_CUE.search(around) or re.search(r"吗|么|没|不[?？]?$", around):
            return good
    return None


# intent -> pattern over the normalised text; order matters only for the answer's order
_INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "flash_left",
        re.compile(
            r"秒杀.{0,6}(剩|还有|多少份|几份|多少个|名额|抢完)|剩(多少|几)份|还有(多少|几)份|"
            r"秒杀.{0,6}((总共|一共).{0,4}(多少|几)|放了多少|限量多少|还能(抢|买)|抢得到|抢到)"
        ),
    ),
    (
        "flash_end",
        re.compile(
            r"秒杀.{0,8}(结束|截止|到几点|到什么时候|多久|多长时间|几点)|(什么时候|几点|啥时)(结束|截止)|还有多久结束|几点.{0,4}还能(抢|买)|还能(抢|买).{0,4}秒杀|秒杀.{0,6}明天还|来得及|赶得上|还剩多久|还有多久"
        ),
    ),
    (
        "flash_limit",
        re.compile(
            r"限购|(一个人|每人|每个人|一人|每个号|一个号).{0,6}(几|多少)|最多(能)?(买|抢|拍)"
        ),
    ),
    ("flash_start", re.compile(r"秒杀.{0,6}(什么时候|几点|哪天)(开始|开的)")),
    (
        "flash_saving",
        re.compile(
            r"秒杀.{0,8}(便宜(多少|了多少|几块)|省(多少|几块)|差多少)|比平时便宜(多少|几块)"
        ),
    ),
    (
        "after_sale",
        re.compile(
            r"秒杀(结束|完了|过了)(以后|之后|后|呢)|秒杀(结束|完)了呢|(恢复|回到)(原来|平时)?(的)?价|"
            r"秒(杀)?完了?.{0,6}(多少|恢复|什么价|几块)|不秒杀(的时候)?.{0,6}(多少钱|卖多少|什么价|价)|平常(卖|多少|什么价)|恢复多少"
        ),
    ),
    (
        "flash_price",
        re.compile(
            r"秒杀的是|秒杀什么|秒杀哪|哪个秒杀|秒杀(价|多少钱|什么价|怎么卖)|秒杀.{0,4}(多少钱|价格|几块)|"
            r"有秒杀|秒杀(吗|没)|秒杀.{0,4}(开始了|开了|开没|开始没)"
        ),
    ),
    (
        "list_price",
        re.compile(
            r"原价|划线价|平时(卖|多少|什么价)|以前(卖|多少)|原来(卖|多少)|不算秒杀|之前(是|卖)|是原价|来着"
        ),
    ),
    (
        "spec",
        re.compile(
            r"几斤|多重|多少克|规格|多大|一(箱|袋|瓶|盒)(有|是|装)?(多少|几)|装多少|几个一|个头|重量|分量|哪个重|哪个沉|多沉"
        ),
    ),
    (
        "feature",
        re.compile(
            "("
            + "|".join(_FEATURE_ASKED)
            + r").{0,6}(吗|不|(?<!怎|什)么|没|多|大|小|厚|薄|好|[?？]|的[?？]?$|的还是)"
        ),
    ),
    (
        "recommend",
        re.compile(r"推荐|买点(什么|啥)|买(什么|啥)好|送(什么|啥)好|补身子|送礼送(什么|啥)|送长辈"),
    ),
    ("certs", re.compile(r"认证|证书|地理标志|有机|绿色食品|检测报告|质检")),
    ("kind", re.compile(r"什么(蜜|品种|米|枣|核桃|栗子|蘑菇|苹果)|哪种蜜|什么花的|是什么做的")),
    (
        "price",
        re.compile(
            r"这么贵|太贵|贵了|多少钱|到手|价格|价钱|几块|几元|怎么卖|什么价|卖多少|贵吗|贵不|咋卖|哪个便宜|哪个贵|谁便宜|谁贵|哪个划算|多少一(斤|盒|瓶|袋|箱)|一(斤|盒|瓶|袋|箱)多少|报价|价位|(一共|总共|合计|共)多少|"
            r"(斤|盒|瓶|袋|箱)[^，,。？?]{0,4}多少(?![斤克天袋瓶箱盒份个])"
        ),
    ),
    (
        "promo",
        re.compile(
            r"优惠|活动|打折|满减|立减|赠品|送什么|买.{1,3}送|送.{0,2}小瓶|送(几|多少|啥|什么)|每斤减|一共减|减(几|多少|五)|便宜(点|些|一点)|能便宜|有券|优惠券|折扣|划算吗|福利|送东西|有送|送吗|有赠|能减|减吗|减多少|减不减"
        ),
    ),
    (
        "stock",
        re.compile(
            r"有货|现货|库存|还有吗|卖完|断货|没货|还剩|还能买|能买到|有的卖|还有没有|还有没|还有不|补货|还卖吗|售罄|抢光|还有(多少|几)|有(多少|几)(斤|盒|瓶|袋|箱|份)|够(我|吗|不|用)|有这么多|有那么多|能拍吗|能拍不|可以拍吗|有吗$|有吗[?？]|没了|库存多|存货多|(要|来|留)(\d+|[一二两三四五六七八九十]+)(斤|盒|瓶|袋|箱|份)|还能(拍|买)(多少|几)|都有货|几样.{0,4}有|货多|库存少|哪个少|还多吗|多不多"
        ),
    ),
    (
        "ship_time",
        re.compile(
            r"(什么时候|几天|多久|多快|何时|今天|明天|当天|几号|啥时)(能)?(发货|发)|发货(快|时间|要多久|吗|几天|要几天|要多久|多久)|多久(能)?发|48小时|发货$"
        ),
    ),
    (
        "delivery_days",
        re.compile(
            r"要几天|几天到|几天能|几天(能)?(到|收到|送到)|多久(能)?(到|收到|送到)|多少天(能)?到|到货|几天能到|能到(我|俺)家|明天能到|能到吗|几号(能)?到"
        ),
    ),
    (
        "courier",
        re.compile(
            r"什么快递|哪家快递|哪个快递|快递是|用的快递|快递用的|发的快递|发什么|顺丰|中通|圆通|韵达|申通|邮政|京东|快递公司|什么物流"
        ),
    ),
    ("free_ship", re.compile(r"包邮|运费|邮费|免邮|包不包|要邮费")),
    (
        "returns",
        re.compile(
            r"退货|退款|退换|无理由|售后|换货|能退|可以退|坏了怎么|坏果|破了怎么|赔|少发|漏发|发错|发成|少了|只收到|退回来|钱.{0,4}退|取消|原路|人工|真人"
        ),
    ),
    (
        "origin",
        re.compile(
            r"哪里产|哪儿产|哪产|产地|哪里的|哪儿的|哪的|产自|哪里来|哪来的|什么地方|从哪(里|儿)?发|哪里发货|发货地|是阜平的|本地的吗|原产|哪个(镇|村|县)|(河北|保定|阜平|本地|新疆|迁西|云南|山东|河南|东北|进口|外地)(的|枣|货|产)|一个地方|冒充|假冒|正宗"
        ),
    ),
    (
        "harvest",
        re.compile(
            r"什么时候(采|摘|收|产|打|摇|割)|采收|新货|今年的|陈货|去年的|生产日期|哪天(采|摘)|几月(采|摘|收)|新鲜吗|新的吗|新的不|新米|现摘|新鲜|几号(摘|采|收)|陈的|新的还是|新下来|新下的|刚下来|(先|早)(收|摘|采)|新(核桃|枣|栗子|米|蜜)|哪个月|几月份?的|收得早|摘得早|收得晚|哪个新|摘的|采的|摇的蜜|几月份?(采|摘|收)|采摘|割的|下树|哪天(割|收)"
        ),
    ),
    (
        "storage",
        re.compile(
            r"怎么(保存|存|放|储存)|保存|保质期|放多久|能放|冷藏|储存|存放|冰箱|放几天|坏得快|放哪|放在哪|搁哪|放得久|耐放|冷冻|冻起来"
        ),
    ),
    ("taste", re.compile(r"甜|好吃|味道|口感|香吗|香不|脆|糯|酸|涩|苦|什么味|面吗|口味|腻")),
)
_SAID_PRICE = re.compile(r"\d+(\.\d+)?(元|块)?(一|每)?(斤|盒|瓶|袋|箱)?")
_CHECKING = re.compile(r"真的|假的|对吗|对不|对吧|是吧|没错|确定|是吗|骗|靠谱|没看错|没听错|是\d")
_SPEC_ASKED = re.compile(
    r"几斤|多少斤|多重|多少克|多大|装多少|个头|一(箱|袋|瓶|盒)(有|是|装)?几|哪个沉|多沉"
)
_FOLLOW_UP = re.compile(r"^(那|还有|那么|那个)?.{0,8}(呢|咧|嘞)[?？。!！~～]*$")
_QUANTITY = re.compile(
    r"(?:买|拍|来|要)?(?P<n>\d+|[一二两三四五六七八九十]+)\s*(?P<unit>斤|盒|瓶|袋|箱|份|包|罐)"
)
CN_SMALL = {  # small Chinese numerals, also read by scripts_gen.shop_answers
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_QUESTION_CUE = re.compile(
    r"吗|么[?？]?$|呢|[?？]|多少|几|什么|怎么|哪|谁|是不是|会不会|能不能|有没有|可以.{0,6}吗|"
    r"[\u4e00-\u9fff]([不没])[\u4e00-\u9fff]"
)

# English: words -> intents and product names
_EN_INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("flash_left", re.compile(r"\b(left|remaining|how many (units|pieces)?.*(flash|sale|deal))\b")),
    (
        "flash_end",
        re.compile(
            r"\b(end|ends|ending|until|last|over)\b.*\b(flash|sale|deal)\b|\b(flash|sale|deal)\b.*\b(end|ends|until|last)\b"
        ),
    ),
    (
        "after_sale",
        re.compile(
            r"\bafter\b.*\b(sale|flash)\b.*\b(end|ends|ended|over)\b|\bafter the (flash )?sale\b"
        ),
    ),
    ("flash_price", re.compile(r"\bflash[- ]?sale price\b|\bdeal price\b")),
    ("list_price", re.compile(r"\b(original|regular|usual|list) price\b")),
    ("price", re.compile(r"\bhow much\b|\bprice\b|\bcost\b|\bexpensive\b|\bcheap\b|\byuan\b")),
    (
        "promo",
        re.compile(
            r"\b(discount|promotion|promo|coupon|offer|deal)s?\b|\bwhat do i get\b|\bgifts?\b|"
            r"\bbuy (two|2)\b.*\bfree\b|\bget (one|1) free\b"
        ),
    ),
    (
        "stock",
        re.compile(
            r"\bin stock\b|\bavailable\b|\bsold out\b|\bany left\b|\bstill have\b|\bdo you (still )?(have|sell)\b"
        ),
    ),
    ("spec", re.compile(r"\bhow (heavy|big|large)\b|\bweigh|\bweight\b|\bsize\b")),
    ("refund_days", re.compile(r"\bhow long\b.*\brefund|\brefund\b.*\b(days|long|when)\b")),
    (
        "ship_time",
        re.compile(
            r"\b(when|how soon|how fast|how long).*\b(ship|shipped|dispatch|send)\b|\bship(ping)? time\b"
        ),
    ),
    (
        "delivery_days",
        re.compile(
            r"\bhow (long|many days)\b.*\b(deliver|arrive|delivery|take)\b|\bship(ping)? to\b"
        ),
    ),
    (
        "courier",
        re.compile(
            r"\b(courier|carrier|express|sf|which delivery|delivery company|shipping company)\b"
        ),
    ),
    (
        "free_ship",
        re.compile(
            r"\bshipping\b.*\bfree\b|\bfree (shipping|delivery)\b|\bshipping (fee|cost)\b|\bpostage\b|\bdelivery fee\b|\bship(ping)? to\b"
        ),
    ),
    ("returns", re.compile(r"\b(return|returns|refund|exchange)\b")),
    ("origin", re.compile(r"\bwhere\b.*\b(from|grown|produced|made)\b|\borigin\b")),
    ("harvest", re.compile(r"\b(harvest|harvested|picked|fresh|new crop)\b")),
    ("storage", re.compile(r"\b(store|storage|keep|fridge|refrigerat\w*|shelf life)\b")),
    ("taste", re.compile(r"\b(taste|tastes|sweet|flavou?r|crunchy|bitter|astringent)\b")),
)
EN_PRODUCTS = {
    "大枣": ("jujube", "jujubes", "red date", "red dates", "dates", "date"),
    "核桃": ("walnut", "walnuts"),
    "板栗": ("chestnut", "chestnuts"),
    "小米": ("millet",),
    "香菇": ("mushroom", "mushrooms", "shiitake"),
    "蜂蜜": ("honey",),
    "苹果": ("apple", "apples"),
}
_EN_WORDS = {w: name for name, words in EN_PRODUCTS.items() for w in words}
_CN_NAMES = re.compile("|".join(EN_PRODUCTS))
_EN_PRODUCT_RE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _EN_WORDS), key=len, reverse=True)) + r")\b"
)
# Words several products share: a "what is it / is it X" question about the product itself
_ALIASES = {
    "红枣": "大枣",
    "枣子": "大枣",
    "枣": "大枣",
    "胡桃": "核桃",
    "桃仁": "核桃",
    "栗子": "板栗",
    "毛栗子": "板栗",
    "黄小米": "小米",
    "蘑菇": "香菇",
    "冬菇": "香菇",
    "花菇": "香菇",
    "荆条蜜": "蜂蜜",
    "土蜂蜜": "蜂蜜",
    "红富士": "苹果",
    "富士": "苹果",
    "菇子": "香菇",
}


@dataclass(frozen=True)
class Ask:
    """What one question asks."""

    text: str  # the normalised question
    intents: tuple[str, ...]
    products: tuple[ProductFacts, ...]  # named in the question, in order
    quantity: int | None = None  # "两斤多少钱" -> 2
    english: bool = False
    follow_up: bool = False  # "那核桃呢": names a product, asks nothing of its own
    # each quantity said with the product it is nearest to: (name, count, unit)
    amounts: tuple[tuple[str, int, str], ...] = ()


def is_english(text: str) -> bool:
    """Mostly Latin letters and no Chinese: the viewer wrote English (not only pinyin initials
    such as "xm jg", which are Chinese typed fast)."""
    letters = len(_LATIN.findall(text or ""))
    rest = _CN_NAMES.sub("", text or "")  # "Are the 香菇 mushrooms sold out?" is English
    if letters < 3 or _CJK.search(rest) or len(re.findall(r"[A-Za-z]{2,}", rest)) < 2:
        return False
    words = re.findall(r"[a-z]+", text.lower())
    return not all(w in _INITIALS for w in words)


def looks_like_question(text: str) -> bool:
    """A question by its form (A-not-A, 吗, 多少, 谁, "?"), or one that asks the shop something
    by its content: the desk's intents. Used where a sentiment model reads 甜不甜 as praise."""
    if is_english(text):
        low = text.lower()
        return "?" in low or bool(
            re.match(r"\s*(how|what|when|where|which|is|are|do|does|can|will)\b", low)
        )
    plain = normalise(text)
    if _QUESTION_CUE.search(text or "") or _QUESTION_CUE.search(plain):
        return bool(_intents(plain)) or bool(re.search(r"[?？吗呢]|多少|什么|怎么|谁|哪", plain))
    return False


_PRODUCT_WORDS = re.compile(r"核桃|胡桃|大枣|红枣|枣子|板栗|栗子|小米|香菇|蜂蜜|苹果")


def _intents(plain: str) -> tuple[str, ...]:
    bare = _PRODUCT_WORDS.sub("", plain)  # 核桃 names a product, 核 asks about the stone
    found = [name for name, rx in _INTENTS if rx.search(bare if name == "feature" else plain)]
    # the more specific reading wins: a flash-sale question is not also a plain price one
    flash = {"flash_price", "flash_left", "flash_end", "flash_limit", "flash_saving", "after_sale"}
    if flash & set(found):
        found = [i for i in found if i not in ("price", "stock", "promo")]
        if "list_price" in found and not re.search(r"原价|平时|平常|不秒杀", plain):
            found.remove("list_price")
    if "flash_limit" in found:  # "一个人能买几份": not the sale's size nor what is left
        return ("flash_limit",)
    if "flash_start" in found:  # when it began: the shop does not say
        return ("flash_start",)
    if "flash_end" in found and "明天" in plain:
        found = [i for i in found if i != "flash_left"]
    if "flash_saving" in found or "after_sale" in found:
        found = [i for i in found if i not in ("flash_price", "flash_end")]
    if "list_price" in found and "price" in found and not _QUANTITY.search(plain):
        found.remove("price")  # "两斤多少，39.9是原价吗" asks both
    if "delivery_days" in found and "ship_time" in found:
        found.remove("ship_time")
    if "returns" in found and "free_ship" in found:
        found.remove("free_ship")  # 退货运费谁出 is about returns
    if (
        "returns" in found
        and re.search(r"退款|退钱", plain)
        and re.search(r"几天|多久|多长", plain)
    ):
        found = [i for i in found if i not in ("delivery_days", "ship_time")]
        found[found.index("returns")] = "refund_days"  # 退款几天到账
    if "returns" in found and re.search(r"运费|邮费", plain):
        found[found.index("returns")] = "return_fee"  # 退货运费谁出
    if "spec" in found and "price" in found and not _SPEC_ASKED.search(plain):
        found.remove("spec")  # "一箱多少钱" asks the price, "一箱几斤" the size
    if "ship_time" in found and "courier" in found and not re.search(r"快递|顺丰|物流", plain):
        found.remove("courier")  # "什么时候发" is not "发什么"
    if "harvest" in found and "taste" in found and "新鲜" in plain:
        found.remove("taste")
    return tuple(found)


def products_named(
    plain: str, products: Sequence[ProductFacts], kb=None
) -> tuple[ProductFacts, ...]:
    """The products a normalised text names, in the order it names them."""
    found: list[tuple[int, ProductFacts]] = []
    for p in products:
        words = {p.title, p.name}
        words |= {alias for alias, name in _ALIASES.items() if name == p.name}
        words |= {w for w in EN_PRODUCTS.get(p.name, ())}
        at = [plain.find(w) for w in words if w and w in plain]
        if not at and kb is not None and p.name in kb.tokenize.products_in(plain):
            at = [len(plain)]
        if at:
            found.append((min(at), p))
    found.sort(key=lambda pair: pair[0])
    return tuple(p for _, p in found)


def _count_word(n: str) -> int | None:
    if n.isdigit():
        return int(n)
    if n in CN_SMALL:
        return CN_SMALL[n]
    if len(n) == 2 and n[0] == "十" and n[1] in CN_SMALL:
        return 10 + CN_SMALL[n[1]]
    return None


def _amounts(plain: str, found: Sequence[ProductFacts]) -> tuple[tuple[str, int, str], ...]:
    """Each quantity with the product named nearest to it ("两斤大枣再来一瓶蜂蜜")."""
    if not found:
        return ()
    at = {p.name: [m.start() for m in re.finditer(re.escape(p.name), plain)] for p in found}
    units = {p.name: p.unit for p in found}
    out = []
    for m in _QUANTITY.finditer(plain):
        n = _count_word(m["n"])
        # "一斤大枣一瓶蜂蜜": a quantity goes with the product sold in its unit, then with the
        # one named right after it, then with the nearest
        spots = [
            (units[name] != m["unit"], not m.end() <= i <= m.end() + 1, abs(i - m.start()), name)
            for name, starts in at.items()
            for i in starts
        ]
        if n and spots:
            out.append((min(spots)[3], n, m["unit"]))
    return tuple(out)


_BARE_QUANTITY = re.compile(
    r"(?:买|来|要|拍)(?P<n>\d+|[两三四五六七八九十])个?(?=多少|呢|吧|的话|咧|[?？。!！~～,，\s]|$)"
)


def _quantity(plain: str) -> int | None:
    m = _QUANTITY.search(plain) or _BARE_QUANTITY.search(plain)  # "买两呢": in its own unit
    if m is None:
        return None
    n = m["n"]
    if n.isdigit():
        value = int(n)
    elif n in CN_SMALL:
        value = CN_SMALL[n]
    elif len(n) == 2 and n[0] == "十" and n[1] in CN_SMALL:
        value = 10 + CN_SMALL[n[1]]
    else:
        return None
    return value if 1 < value <= 1000 else None  # "一斤多少钱" asks the unit price


def understand(question: str, products: Sequence[ProductFacts], kb=None) -> Ask:
    """Read one question against the shop's products."""
    if is_english(question):
        low = unicodedata.normalize("NFKC", question).lower()
        intents = tuple(name for name, rx in _EN_INTENTS if rx.search(low))
        if {"flash_left", "flash_end", "flash_price", "after_sale"} & set(intents):
            intents = tuple(i for i in intents if i not in ("price", "promo", "stock"))
        if "after_sale" in intents:
            intents = tuple(i for i in intents if i not in ("flash_end", "flash_price"))
        if "refund_days" in intents:
            intents = tuple(i for i in intents if i not in ("returns", "delivery_days"))
        named = {_EN_WORDS[m] for m in _EN_PRODUCT_RE.findall(low)}
        named |= {p.name for p in products if p.name in low}
        found = tuple(p for p in products if p.name in named)
        qty = re.search(
            r"\b(\d+|two|three|four|five)\s+(jin|jars?|bottles?|boxes|box|bags?|cases?)\b", low
        )
        qty = qty or re.search(r"\bbuy (\d+|two|three|four|five)\b", low)
        words = {"two": 2, "three": 3, "four": 4, "five": 5}
        n = (int(qty[1]) if qty[1].isdigit() else words[qty[1]]) if qty else None
        n = n if n and n > 1 else None
        follow = not intents and not found and n is not None  # "And if I buy two jin?"
        return Ask(low, intents, found, n, True, follow)
    plain = normalise(question)
    found = products_named(plain, products, kb)
    intents = _intents(plain)
    qty = _quantity(plain)
    if not intents and found and re.search(r"有.{0,6}吗|还有|没了|有货|有不", plain):
        intents = ("stock",)  # 有板栗吗 / 香菇是不是没了
    if (
        not intents
        and found
        and qty
        and re.search(r"(来|要|拍|买)(\d+|[两三四五六七八九十])", plain)
    ):
        intents = ("price",)  # "大枣来两": what two cost, with the deal
    if not intents and qty and re.search(r"多少[?？。]*$", plain):
        intents = ("price",)  # "苹果两箱多少", "买两袋多少"
    if not intents and _SAID_PRICE.search(plain) and _CHECKING.search(plain):
        intents = ("price",)  # "核桃15.5一斤是真的假的": the price, said again from the sheet
    if qty and "stock" in intents and "price" not in intents and re.search(r"多少钱?$", plain):
        if not re.search(r"够|库存|还有|剩", plain):
            intents = tuple("price" if i == "stock" else i for i in intents)  # 来三箱多少
    follow = (
        (bool(found) or qty is not None) and not intents and bool(_FOLLOW_UP.match(plain.strip()))
    )
    return Ask(plain, intents, found, qty, False, follow, _amounts(plain, found))
