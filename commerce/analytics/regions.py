"""Provinces and cities: parsing a delivery address, and the demo's geography of buyers."""

from __future__ import annotations

# (province short name, full name, demo buyer weight, main cities). Weights lean on the
# North China plain, where Fuping's produce is known, and on the big coastal markets.
PROVINCES: tuple[tuple[str, str, float, tuple[str, ...]], ...] = (
    ("河北", "河北省", 14.0, ("保定", "石家庄", "唐山", "廊坊", "邯郸")),
    ("北京", "北京市", 12.0, ("北京",)),
    ("天津", "天津市", 5.0, ("天津",)),
    ("山东", "山东省", 6.0, ("济南", "青岛", "烟台")),
    ("河南", "河南省", 4.0, ("郑州", "洛阳")),
    ("山西", "山西省", 3.0, ("太原", "大同")),
    ("内蒙古", "内蒙古自治区", 1.5, ("呼和浩特", "包头")),
    ("辽宁", "辽宁省", 2.5, ("沈阳", "大连")),
    ("吉林", "吉林省", 1.2, ("长春",)),
    ("黑龙江", "黑龙江省", 1.5, ("哈尔滨",)),
    ("上海", "上海市", 6.0, ("上海",)),
    ("江苏", "江苏省", 6.0, ("南京", "苏州", "无锡")),
    ("浙江", "浙江省", 5.5, ("杭州", "宁波", "温州")),
    ("安徽", "安徽省", 2.0, ("合肥",)),
    ("福建", "福建省", 2.0, ("福州", "厦门")),
    ("江西", "江西省", 1.2, ("南昌",)),
    ("湖北", "湖北省", 2.2, ("武汉", "宜昌")),
    ("湖南", "湖南省", 1.8, ("长沙",)),
    ("广东", "广东省", 7.0, ("广州", "深圳", "东莞")),
    ("广西", "广西壮族自治区", 0.9, ("南宁",)),
    ("海南", "海南省", 0.4, ("海口",)),
    ("重庆", "重庆市", 1.5, ("重庆",)),
    ("四川", "四川省", 2.5, ("成都", "绵阳")),
    ("贵州", "贵州省", 0.7, ("贵阳",)),
    ("云南", "云南省", 0.8, ("昆明",)),
    ("西藏", "西藏自治区", 0.1, ("拉萨",)),
    ("陕西", "陕西省", 1.8, ("西安",)),
    ("甘肃", "甘肃省", 0.6, ("兰州",)),
    ("青海", "青海省", 0.2, ("西宁",)),
    ("宁夏", "宁夏回族自治区", 0.3, ("银川",)),
    ("新疆", "新疆维吾尔自治区", 0.6, ("乌鲁木齐",)),
)
MUNICIPALITIES = frozenset({"北京", "天津", "上海", "重庆"})
PROVINCE_NAMES = tuple(p[0] for p in PROVINCES)
_CITY_ENDINGS = ("自治州", "地区", "市", "州", "盟")


def parse_region(address: str) -> tuple[str, str]:
    """(province, city) short names from a Chinese address; ("", "") when unrecognised."""
    text = (address or "").strip()
    for short, full, _w, _cities in PROVINCES:
        if text.startswith(full) or text.startswith(short):
            rest = text[len(full) :] if text.startswith(full) else text[len(short) :]
            if short in MUNICIPALITIES:
                return short, short
            for end in _CITY_ENDINGS:
                i = rest.find(end)
                if 0 < i <= 8:
                    return short, rest[:i]
            return short, ""
    return "", ""


def demo_address(province: str, city: str, n: int) -> str:
    """A plausible address in `city` (house number n) for demo orders."""
    full = next(p[1] for p in PROVINCES if p[0] == province)
    if province in MUNICIPALITIES:
        return f"{full}朝阳区幸福路{n % 300 + 1}号"
    return f"{full}{city}市人民路{n % 300 + 1}号"
