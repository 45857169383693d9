"""Shop questions with one answer on file: which knowledge-base entry answers them.

BM25 finds an entry by the words it shares with the question, and a live room's wording of a
shop question shares few ("拍错了能取消不" with "订单能取消吗？", "钱啥时候退回来" with
"退款多久到账？"). The shop's own FAQ entries (after-sales, orders and payment, shipping, the
live room, about us) each answer one kind of question, so each kind is read here from the
question's form and sent to its entry by id. Product entries (packing, gift boxes, bulk
orders) are found by the product's sku.

A route with no entry (`HANDOFF`) is a question the shop holds no answer for: a contact
number, a delivery date, shipping insurance, when a sold-out product comes back. A person
answers it; the host never guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HANDOFF = "handoff"


@dataclass(frozen=True)
class Route:
    name: str
    pattern: re.Pattern[str]
    entry: str  # a KB id; "{product}-pack" for the product's own entry; HANDOFF for a person
    wins: bool = True  # answers even when the question also has a catalog intent
    unless: re.Pattern[str] | None = None  # a question this route must leave alone


def _r(name: str, pattern: str, entry: str, wins: bool = True, unless: str = "") -> Route:
    return Route(name, re.compile(pattern), entry, wins, re.compile(unless) if unless else None)


# Over the desk's normalised text (咋 -> 怎么, 啥 -> 什么, 俩 -> 两, A-not-A -> "…吗").
# First match wins, so the narrower kinds come first.
ROUTES: tuple[Route, ...] = (
    # -- a person answers ----------------------------------------------------------------
    _r(
        "contact",
        r"(加|留|给).{0,4}(微信|vx|wx|qq|电话|手机号|联系方式)|微信号|电话(号码?)?(是)?多少|"
        r"(客服|售后|你们|店里).{0,4}(电话|手机号|号码)|联系方式",
        HANDOFF,
    ),
    _r("insurance", r"运费险|保价", HANDOFF),
    _r("installments", r"花呗|分期|信用卡|白条", HANDOFF),
    _r(
        "delivery_date",
        r"指定.{0,4}(哪天|日期|时间|几号)|(哪天|几号|周[一二三四五六日末]).{0,4}(送到|送货|到货)",
        HANDOFF,
    ),
    _r(
        "restock_when",
        r"(什么时候|几时|哪天|多久|几号).{0,6}(补货|补上|到货|来货|上架|有货|再上|再卖)|"
        r"(补货|来货|上架|再上).{0,4}(什么时候|几时|哪天|多久|吗)",
        HANDOFF,
        wins=False,
    ),
    # -- after-sales ---------------------------------------------------------------------
    _r(
        "cs_hours",
        r"客服.{0,10}(几点|时间|下班|上班|半夜|晚上|夜里|周末|在线|有人)|(几点|半夜|晚上|夜里).{0,8}客服",
        "kb-aftersales-q15",
    ),
    _r(
        "human",
        r"人工|真人客服|找.{0,3}真人|转人工|找客服|客服在哪|怎么联系客服|联系.{0,2}客服.{0,4}(怎么|在哪)",
        "kb-aftersales-q9",
    ),
    _r(
        "bad_goods",
        r"(收到|到了|打开|拆开|拆了|发现).{0,8}(坏|烂|霉|虫|臭|变质|破|碎|压扁|漏)|有虫子?|生虫|长虫|"
        r"摔碎|碎了|漏了|破了|空壳|瘪的|(要是|如果|万一).{0,4}坏|坏的呢|坏了呢|"
        r"质量(有)?问题|质量不好|有问题.{0,4}(管|负责)",
        "{product}-damage|kb-aftersales-q3",
        unless=r"结晶",  # crystallised honey is not damage: the KB's own entry says why
    ),
    _r(
        "no_reason",
        r"无理由|(开封|拆开|拆封|打开|吃了).{0,8}(退|换)|不想要了.{0,4}(能|可以)?退|"
        r"(不合口味|不甜|不好吃|不喜欢|不爱吃).{0,6}退",
        "kb-aftersales-q4",
    ),
    _r("wrong_item", r"发错|错发|发成了?|不是我(买|拍|要)的", "kb-aftersales-q6"),
    _r(
        "missing_item",
        r"少发|漏发|少了一|只收到|少给|缺了一|数量不对|(买|拍)了.{0,6}收到.{0,3}(一|1|半)",
        "kb-aftersales-q7",
    ),
    _r(
        "cancel",
        r"取消|拍错|手滑|不想要了.{0,4}(没发|还没|发货前)|撤单|退单",
        "kb-aftersales-q11",
    ),
    _r("reject", r"拒收", "kb-aftersales-q12"),
    _r(
        "refund_days",
        r"(退款|退钱|钱.{0,4}退|退.{0,2}钱).{0,8}(几天|多久|多长|什么时候|到账|还没到|没到)|"
        r"(什么时候|多久|几天).{0,6}(退款|退钱|退回)|退款.{0,4}到账|钱.{0,6}(退回来|到账)|"
        r"退到哪|退回哪|退到(微信|银行卡|支付宝)|原路",
        "kb-aftersales-q2",
    ),
    _r("exchange", r"换货|换一(个|箱|袋|瓶|盒)|能换吗|可以换吗|换新的", "kb-aftersales-q8"),
    _r("complaint", r"投诉|差评|不满意", "kb-aftersales-q10"),
    _r(
        "deadline",
        r"(多久|几天|多长时间)(内|之内|以内).{0,6}(售后|反馈|申请|退|联系)|过了.{0,6}(还能|能).{0,4}(售后|退)",
        "kb-aftersales-q13",
    ),
    _r(
        "proof",
        r"售后.{0,6}(要|需要|提供|准备)什么|(要|需要)提供什么|要什么(凭证|证明)",
        "kb-aftersales-q14",
    ),
    _r(
        "apply",
        r"(怎么|如何|在哪).{0,4}(申请|办|找)?售后|售后.{0,4}(怎么|在哪|流程)",
        "kb-aftersales-q1",
    ),
    # -- orders and payment --------------------------------------------------------------
    _r("invoice", r"发票|开票|抬头|税号", "kb-orders-q4"),
    _r("cod", r"货到付款|到付|先货后款|收到再付", "kb-shipping-q7"),
    _r(
        "pay_methods",
        r"(怎么|什么|哪些|能用|可以用|支持).{0,4}(付款|付钱|支付)|支付宝|微信(支付|付)|花呗|信用卡|云闪付",
        "kb-orders-q2",
    ),
    _r("pay_failed", r"付(款|钱)?.{0,2}(失败|不了|不成功)|支付.{0,2}(失败|不了)", "kb-orders-q10"),
    _r(
        "coupon_get",
        r"(领|哪|怎么拿|在哪).{0,4}(券|优惠券)|(券|优惠券).{0,4}(在哪|怎么领|哪领)",
        "kb-liveroom-q1",
    ),
    _r("coupon_use", r"(券|优惠券).{0,4}(怎么用|咋用|用不了|能用)", "kb-orders-q3"),
    _r("full_off", r"满减|满多少", "kb-orders-q9", wins=False),
    _r("change_qty", r"改数量|多拍了|少拍了|改.{0,2}(几|个)数", "kb-orders-q5"),
    _r("unpaid", r"(没|未)付款.{0,6}(怎么|会|还)|下单.{0,4}没付", "kb-orders-q13"),
    _r("order_failed", r"下单失败|下不了单|拍不了|买不了|下不了|提交不了", "kb-orders-q14"),
    _r("reserve", r"留(货|一|两|几|着|给我)|帮我留|给我留|预留|能留吗", "kb-orders-q12"),
    _r("presale", r"预售|预订|预定", "kb-orders-q11"),
    _r("member", r"会员|积分", "kb-orders-q7"),
    _r("my_orders", r"(在哪|怎么)(看|查).{0,2}订单|订单.{0,4}(在哪|怎么看)", "kb-orders-q6"),
    _r(
        "bulk",
        r"批发|企业采购|公司采购|(单位|公司).{0,4}(采购|买|要|发福利)|发福利|团购|大量|量大|拿货|进货",
        "{product}-bulk|kb-orders-q15",
    ),
    # -- shipping ------------------------------------------------------------------------
    _r(
        "track",
        r"(查|看).{0,3}物流|物流.{0,4}(在哪|怎么查|信息)|快递单号|运单号|单号.{0,4}(在哪|多少)",
        "kb-shipping-q2",
    ),
    _r(
        "courier_choice",
        r"指定.{0,4}快递|(换|发|走|用)(别的|其他)快递|快递.{0,4}(自己选|能选|可以选|选吗)|"
        r"(发|走|用)(京东|中通|圆通|韵达|邮政|ems|申通|极兔).{0,4}(行|可以|能|吗)|"
        r"(京东|中通|圆通|韵达|邮政|ems|申通|极兔).{0,4}(能发|可以发|行吗|能到)|"
        r"(发|走|用)(京东|中通|圆通|韵达|邮政|ems|申通|极兔)(不|吗)",
        "kb-shipping-q3",
    ),
    _r("address", r"改.{0,2}地址|地址.{0,4}(填错|写错|错了|改)|换.{0,2}地址", "kb-shipping-q4"),
    _r("door", r"送(货)?上门|送到家|到家门口|放驿站|放快递柜", "kb-shipping-q5"),
    _r(
        "abroad",
        r"国外|海外|出国|美国|日本|韩国|加拿大|澳洲|澳大利亚|英国|德国|新加坡|香港|澳门|台湾|港澳台",
        "kb-shipping-q6",
    ),
    _r(
        "merge", r"合并.{0,2}发|一起发|一块儿?发|一起寄|一块儿?寄|一个包裹|分开发", "kb-shipping-q8"
    ),
    _r("lost", r"丢件|丢了|快递丢|寄丢", "kb-shipping-q9"),
    _r(
        "stuck",
        r"物流.{0,4}(不动|不更新|没动|停了|卡住)|快递.{0,4}(不动|没动静)",
        "kb-shipping-q10",
    ),
    _r("weekend", r"周末.{0,4}发|周[六日天].{0,4}发|节假日.{0,4}发", "kb-shipping-q11"),
    _r("new_year", r"(过年|春节|年前|年后).{0,6}(发|停|快递)", "kb-shipping-q12"),
    _r("pickup", r"自提|自取|上门取|去.{0,4}(拿|取)货", "kb-shipping-q13"),
    _r(
        "gift_to",
        r"寄给(别人|朋友|家人|爸妈|父母|老人)|送人.{0,4}(地址|直接寄)|帮.{0,4}寄给|"
        r"给.{0,8}(爸妈|父母|朋友|家人|老人|亲戚|闺女|儿子).{0,4}寄|填.{0,4}(他们|别人|对方|爸妈)的?地址",
        "kb-shipping-q14",
    ),
    _r(
        "gift_box",
        r"礼盒|礼品装|送礼.{0,4}(装|盒)|礼品包装|有盒子|包装盒|送人.{0,6}盒",
        "{product}-gift_box",
    ),
    _r(
        "packing",
        r"包装|压坏|压烂|摔坏|磕坏|怎么装的|装得结实|打包",
        "{product}-pack|kb-shipping-q15",
    ),
    _r(
        "honey_water",
        r"蜂蜜.{0,6}(开水|热水|烫水|沸水|多少度|几度)|(开水|热水|沸水).{0,6}(冲|泡|兑).{0,4}蜂蜜",
        "kb-honey-recipe-1",
    ),
    # -- the live room and the shop ------------------------------------------------------
    _r(
        "order_how",
        r"怎么(下单|买|拍|购买)|在哪(下单|买|拍)|购物车在哪",
        "kb-orders-q1",
        wins=False,
    ),
    _r("yellow_cart", r"小黄车", "kb-liveroom-q7"),
    _r("lottery", r"抽奖", "kb-liveroom-q2"),
    _r("like", r"点赞", "kb-liveroom-q3"),
    _r("mic", r"连麦", "kb-liveroom-q8"),
    _r("replay", r"回放|录播", "kb-liveroom-q10"),
    _r(
        "host_real",
        r"(主播|你)是(不是)?(真人|机器人|ai|数字人|假人|虚拟)|是(真人|机器人)(吗|不|啊)|数字人|机器人",
        "kb-fuping-q15",
    ),
    _r("host_from", r"主播.{0,4}(哪里人|哪儿人|哪的人|老家)|你是哪(里|儿)人", "kb-liveroom-q6"),
    _r(
        "live_hours",
        r"(几点|什么时候).{0,4}(开播|下播|直播)|(开播|下播|直播).{0,4}(几点|到几点|时间)|全天直播|24小时",
        "kb-fuping-q16",
    ),
    _r("follow", r"怎么关注|关注.{0,4}(在哪|怎么)", "kb-fuping-q17"),
    _r("store", r"实体店|门店|线下店|店在哪|能去(店|你们)", "kb-fuping-q14"),
    _r("maker", r"厂家|工厂|自己(家)?种的|自家种|合作社|代理|二道贩子|中间商", "kb-fuping-q13"),
    _r("orchard", r"看看(果园|地里|树)|直播(果园|地头)", "kb-fuping-q18"),
)


# English: the same answers on file, in English (checked for numbers like any English answer)
EN_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (
            r"\b(ship|send|deliver)\w*\b.*\b(singapore|usa|america|japan|korea|uk|england|"
            r"canada|australia|hong kong|taiwan|macau|europe|germany|france|malaysia|abroad|"
            r"overseas|the us|usa|u\.s\.)\b|\b(overseas|abroad|international shipping)\b",
            "For now we only ship within mainland China; Hong Kong, Macau, Taiwan and overseas "
            "addresses are not served yet.",
        ),
        (
            r"\b(real person|human|robot|bot|an ai|ai host|virtual|avatar)\b|\bare you (an? )?ai\b",
            "I'm a digital host: what I say comes from the shop's product records, and real "
            "customer service staff are here too.",
        ),
        (
            r"customer service hours|service hours|\bwhen\b.*\bcustomer service\b|"
            r"customer service\b.*\b(open|online|hours|available)",
            "Customer service is online from 8:00 to 22:00 (Beijing time); messages left at "
            "other times are answered the next day.",
        ),
        (
            r"cash on delivery|\bcod\b|pay on delivery",
            "Cash on delivery isn't supported; please pay online when you order.",
        ),
        (
            r"\b(alipay|wechat pay|pay with|payment methods?|how (can|do) i pay)\b",
            "We take WeChat Pay and Alipay.",
        ),
        (
            r"\b(invoice|fapiao|receipt)\b",
            "Yes, we issue e-invoices: after ordering, send customer service the invoice title "
            "and tax number.",
        ),
    )
)


def route_en(low: str) -> str | None:
    """The English answer on file for an English shop question, or None."""
    return next((text for rx, text in EN_ROUTES if rx.search(low)), None)


@dataclass(frozen=True)
class Routed:
    name: str
    entry: str | None  # None: a person answers
    wins: bool


_BY_NAME = {r.name: r for r in ROUTES}


def by_name(name: str, product_slug: str | None = None) -> Routed | None:
    """The route called `name`, for a follow-up ("大枣咋包装的" -> "那核桃呢")."""
    r = _BY_NAME.get(name)
    return None if r is None else _pick(r, product_slug)


def _pick(r: Route, product_slug: str | None) -> Routed | None:
    if r.entry == HANDOFF:
        return Routed(r.name, None, r.wins)
    for choice in r.entry.split("|"):
        if "{product}" in choice:
            if product_slug is None:
                continue
            choice = choice.replace("{product}", f"kb-{product_slug}")
        return Routed(r.name, choice, r.wins)
    return None  # a product's own entry, and no product named


def route(plain: str, product_slug: str | None = None) -> Routed | None:
    """The FAQ entry a normalised question asks for, or None. `product_slug` names the
    product's own entries ("jujube" -> kb-jujube-pack)."""
    for r in ROUTES:
        if not r.pattern.search(plain) or (r.unless and r.unless.search(plain)):
            continue
        return _pick(r, product_slug)
    return None
