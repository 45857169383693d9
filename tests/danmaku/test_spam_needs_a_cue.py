"""A block drops a comment: a buyer's line about the shop, or one with a short number in it,
is never blocked as spam on the model's word alone (the flood and bounds tests met both)."""

import pytest

from danmaku.analysis.base import make_analyzer


@pytest.fixture(scope="module")
def analyzer():
    return make_analyzer()


@pytest.mark.parametrize(
    "text",
    ["我是老顾客，第14次来买枣", "控制字符测试1234", "第2次买了", "2号发货了吗", "大枣买了3斤"],
)
def test_short_numbers_and_shop_talk_are_not_spam(analyzer, text):
    assert analyzer.analyze(text).intent != "spam", text


@pytest.mark.parametrize(
    "text", ["加V 13812345678", "买枣加微信wx123", "1234567", "主页有福利 点头像"]
)
def test_spam_cues_still_block(analyzer, text):
    assert analyzer.analyze(text).intent == "spam", text
