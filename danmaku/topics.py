"""What a complaint or a question is about, so the host reacts to the right thing."""

from __future__ import annotations

import re
import unicodedata

_TOPICS = (
    ("price", re.compile(r"贵|便宜|价格|价钱|降价|砍价|太坑|不值|割韭菜")),
    ("shipping", re.compile(r"发货|物流|快递|没到|还没收到|几天了|催|慢死")),
    (
        "quality",
        re.compile(r"烂|坏|霉|臭|虫|假|不新鲜|变质|碎|空壳|不甜|难吃|酸了|瘪|少了|缺斤|漏|破"),
    ),
)
_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def complaint_topic(text: str) -> str:
    """ "price", "shipping", "quality" or "service" (anything else a person should handle)."""
    for topic, rx in _TOPICS:
        if rx.search(text or ""):
            return topic
    return "service"


def question_key(text: str) -> str:
    """Two questions with the same key are the same question ("多少钱？" == "多少钱")."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    return _NOISE.sub("", folded)[:60]
