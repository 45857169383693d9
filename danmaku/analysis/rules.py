"""Hand-written cues for live-room slang and Baoding dialect: intent patterns and a polarity
lexicon with negation (不/没/别) and degree words (忒/太/很/贼/倍儿).

They run on `text.clean()` output (NFKC, lower case). Their hits are features of the learned
model rather than final answers, so one over-eager pattern can be outvoted by the rest.
"""

from __future__ import annotations

import re

# The order is INTENT_PRIORITY without "other" (which has no cue of its own).
INTENT_CUES: dict[str, str] = {
    "spam": (
        r"(加|\+|➕)\s*(v|微|薇|威|vx|wx|q|扣|我|群)|v信|vx|wx|威信|薇信|qq|wxid|\d{6,}"
        r"|https?://|www|\.com|\.cn|私信|私我|私聊|详情私|(关注|点)我|我(的)?(主页|头像|直播间|名字)"
        r"|主页|头像|简介|群号|进群|扫码|兼职|刷单|刷粉|代理|贷款|网赚|赚钱|躺赚|日结|日入|彩票"
        r"|稳赚|卖号|粉丝号|互关|互粉|回关|代购|来我(家|这|直播间)|淘宝搜|百度搜|dy号|收购"
    ),
    "complaint": (
        r"(还|都|一直)(没|不)(发|到|动)|不发货?|没(收到|到账|人理|人处理|更新)|怎么还(不|没)"
        r"|还在路上|(物流|快递).{0,3}(慢|没)|等了.{0,3}(天|周|礼拜|月)|法货|烂|坏的|坏了(?!能|包|的话|怎么)"
        r"|都坏|全坏|发霉|霉味|白毛|虫|变质|不新鲜|碎|漏了|空壳|空的|黑仁|黑的|哈喇|怪味|酸味|陈(货|味)"
        r"|沙子|杂质|石子|不甜|不脆|不香|不好吃|难吃|苦的|干巴|是面的|太小|小了|太稀|差远|不如|不一样"
        r"|假的吧|就是假|假货|糖浆兑|糖水味|骗|坑|割韭菜|虚假|不靠谱|垃圾|差评|投诉|退款|退钱|不给退"
        r"|退货退货|退吧|踩雷|别买|再也不|不来了|失望|恶心|服了|抢钱|漂白|嘛玩意|啥玩意|破快递"
        r"|(太|忒|好|有点|这么|真|也太)贵|贵了|贵一倍|贵啊|涨价|不值|买不起|缺斤|少两|发错|只到了"
        r"|被取消|用不了|拉肚子|客服.{0,4}(不|没|差)|不理|态度.{0,2}差|听不(清|见)|太(快|小)了"
        r"|卡(死|住)|不回答|别念|烦|急死|心疼|谁负责|说好的|结果|压扁|伤"
    ),
    "question": (
        r"吗|么[?？]?$|不[?？]?$|没$|[?？]|多少|几(斤|个|天|号|点|颗|块|度|单|盒)|一斤有"
        r"|嘛(时|价|品种|意思|样)|啥|什么|怎么|咋|哪|为啥|为什么|是不是|会不会|能不能|有没有"
        r"|还是.{0,8}的$|区别|讲讲|说说|介绍|划算|推荐哪|干嘛"
    ),
    "purchase": (
        r"上.{0,2}(链接|lian接)|链接链接|求链接|蹲.{0,4}链接|等链接|已拍|拍了|已下单|下单"
        r"|下了.{0,2}单|已付款|付款了|已入|入了|扣\s*\d|^1+$|^\+1$|想要|想买|我要|我也要|要要"
        r"|给我(来|留|安排)|[来要整拍].{0,3}(斤|箱|瓶|单|盒|份)|回购|买买|冲冲|冲了|抢到|剁手|拿下"
        r"|安排|囤|加购|购物车|跟一单|补货|再上|准备拍|订了|买了|^拍|(上|求上)(小米|板栗|核桃|蜂蜜"
        r"|苹果|香菇|大枣|枣)"
    ),
    "praise": (
        r"好吃|好喝|甜|香|脆|新鲜|yyds|y y d s|666|支持|赞|👍|爱了|喜欢|稀罕|绝|牛|厉害|棒"
        r"|不错|很好|真好|满意|好评|五星|良心|划算|便宜|实在|正宗|靠谱|放心|信你|相信|杠杠|没毛病"
        r"|妥|优秀|完美|得劲|饱满|肉厚|好剥|辛苦|美|漂亮|可爱|好听|感谢|谢谢|味道|口感|绝配|推荐"
        r"|真快|没坏|兴隆|饱满"
    ),
    "greeting": (
        r"^(主播|大家|各位|老铁们?|家人们|老乡|小王|小李)?(好|你好|您好)|你好|您好|[早晚中下]\S?好"
        r"|^早|晚安|来了|来啦|报道|报到|打卡|签到|hello|^hi|哈喽|嗨|在吗|拜拜|明天见|回见|走了"
        r"|先撤|先走|我又来|又是我|路过|进来看看|刚进来|第一次来|回来了|捧场|恁好|俺来了|新人"
    ),
}
# contact handles and links: spam whatever else the line says ("spam beats everything")
STRONG_SPAM = re.compile(
    r"(加|\+|➕)\s*(v|微|薇|威|vx|wx|q|扣)|v信|vx|wx|威信|薇信|qq|wxid|https?://|www|\.com|\.cn\b"
    r"|私信我|私我|刷单|兼职|贷款"
)
INTENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern)) for name, pattern in INTENT_CUES.items()
]

POSITIVE = (
    "好吃 好喝 甜 香 脆 新鲜 yyds 666 支持 赞 👍 爱 喜欢 稀罕 绝 牛 厉害 棒 不错 很好 真好 挺好 满意 好评 良心"
    " 划算 便宜 实在 正宗 靠谱 放心 相信 杠杠 妥 优秀 完美 得劲 饱满 肉厚 辛苦 美 漂亮 可爱 好听"
    " 感谢 谢谢 开心 哈哈 有意思 😂 😁 ❤ 🌹 🔥 🙏 想你 满分 舒服 值 想要 已拍 回购"
).split()
NEGATIVE = (
    "烂 坏 霉 虫 碎 漏 空壳 假 骗 坑 垃圾 差 投诉 退款 退钱 失望 恶心 难吃 苦 贵 涨价 慢 烦 累 难受"
    " 唉 急 心疼 哈喇 怪味 酸 陈 杂质 踩雷 服了 骂 😭 😡 生气 后悔 不行 太差 缺斤 少两 韭菜"
).split()
# words whose polarity flips after a negation (不甜 is bad, 不贵 is good)
NEGATIONS = ("不", "没", "别", "无", "非")
DEGREE = {"忒": 1.6, "太": 1.5, "贼": 1.5, "超": 1.5, "倍儿": 1.5, "嘎嘎": 1.5, "老": 1.3}
DEGREE |= {"很": 1.3, "真": 1.3, "特别": 1.5, "非常": 1.5, "好": 1.2, "挺": 1.1, "有点": 0.8}

_LEXICON = {w: 1.0 for w in POSITIVE} | {w: -1.0 for w in NEGATIVE}
_LEX_RE = re.compile("|".join(sorted(map(re.escape, _LEXICON), key=len, reverse=True)))


def intent_hits(text: str) -> list[int]:
    """1/0 per intent in INTENT_CUES order: whether any cue of that intent appears."""
    return [1 if rule.search(text) else 0 for _, rule in INTENT_RULES]


def polarity(text: str) -> tuple[float, float]:
    """(positive mass, negative mass) of lexicon words, after negation and degree words."""
    pos = neg = 0.0
    for m in _LEX_RE.finditer(text):
        value = _LEXICON[m.group()]
        before = text[max(0, m.start() - 3) : m.start()]
        for word, factor in DEGREE.items():
            if before.endswith(word):
                value *= factor
                break
        if any(n in before[-2:] for n in NEGATIONS):
            value = -value * 0.8
        if value > 0:
            pos += value
        else:
            neg -= value
    return pos, neg
