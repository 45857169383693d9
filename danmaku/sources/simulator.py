"""A simulated live room: viewers asking, buying, praising, complaining, gifting and liking,
at a Poisson-ish average rate, deterministic under a seed. Demos and load tests use it."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from danmaku.messages import Comment, Enter, Follow, Gift, Like, Purchase, RoomMessage

MOODS: tuple[str, ...] = ("happy", "upset", "mixed")

PRODUCTS = ("大枣", "小米", "核桃", "香菇", "栗子", "苹果", "蜂蜜", "柴鸡蛋")
NAMES = (
    "老张", "枣乡人", "小芳", "阜平老乡", "山里妹子", "王大姐", "李师傅", "吃货小周", "保定老刘",
    "甜甜", "晓峰", "赵阿姨", "骑驴看唱本", "龙泉关的风", "小石头", "陈老师", "宝妈一枚",
    "不吃香菜", "老兵", "刘姐",
)  # fmt: skip
GIFTS = (("小心心", 10), ("玫瑰", 10), ("人气票", 10), ("大啤酒", 20), ("棒棒糖", 90))

# comment kinds: templates, {p} is a product
COMMENTS: dict[str, tuple[str, ...]] = {
    "question": (
        "{p}多少钱一斤？", "{p}怎么卖", "包邮吗", "发什么快递？", "几天能到？", "{p}怎么保存",
        "{p}能放多久", "{p}是今年的新货吗", "有没有小包装的{p}", "北京能发吗？", "{p}甜不甜",
        "有优惠券吗", "{p}是哪里产的",
    ),
    "purchase": ("上链接", "已拍", "扣1", "1", "已下单", "拍了两箱", "要一箱{p}", "{p}还有货吗我要"),
    "praise": (
        "好吃", "yyds", "666", "{p}真甜", "回购了好几次了", "主播真实在", "支持家乡", "{p}个大饱满",
        "👍👍👍", "真不错", "上次买的{p}家里人都说好",
    ),
    "greeting": ("主播好", "来了来了", "晚上好", "大家好", "又来看你了", "老乡好"),
    "complaint": (
        "太贵了", "发货慢", "{p}烂了好几个", "上次的{p}坏了", "客服不回消息", "快递太慢了",
        "跟图片不一样", "退款怎么这么慢", "{p}有虫", "缺斤少两", "不新鲜",
    ),
    "spam": ("加V领红包", "点我头像有福利", "兼职日赚三百", "加我vx看更多"),
    "other": ("哈哈", "在看", "今天天气真好", "主播是哪里人", "背景音乐是什么", "刚下班"),
}  # fmt: skip

# share of each comment kind per room mood
COMMENT_MIX: dict[str, dict[str, float]] = {
    "mixed": {
        "question": 0.28, "purchase": 0.16, "praise": 0.16, "greeting": 0.12,
        "complaint": 0.08, "spam": 0.03, "other": 0.17,
    },
    "happy": {
        "question": 0.18, "purchase": 0.27, "praise": 0.33, "greeting": 0.10,
        "complaint": 0.02, "spam": 0.02, "other": 0.08,
    },
    "upset": {
        "question": 0.16, "purchase": 0.03, "praise": 0.03, "greeting": 0.04,
        "complaint": 0.62, "spam": 0.03, "other": 0.09,
    },
}  # fmt: skip
# share of each message type
DEFAULT_MIX: dict[str, float] = {
    "comment": 0.72,
    "like": 0.12,
    "enter": 0.09,
    "gift": 0.04,
    "follow": 0.03,
    "purchase": 0.0,
}


def _cumulative(weights: dict[str, float]) -> tuple[list[str], list[float]]:
    keys = [k for k, w in weights.items() if w > 0]
    if not keys:
        raise ValueError("mix needs at least one positive weight")
    return keys, list(itertools.accumulate(weights[k] for k in keys))


class SimulatorSource:
    """Generates a room's messages at `rate` per second on average (exponential gaps).

    `mix` weights the message types (keys of DEFAULT_MIX; missing keys weigh 0); `mood` ("happy", "upset", "mixed")
    shifts what comments say and can be changed while running. `duration` (simulated seconds)
    ends the stream; None runs until `close()`. `batch(n)` draws from the same sequence without
    waiting, for synchronous use. Same seed, same sequence (texts, users, ids, timestamps
    relative to `start_ts`).
    """

    name = "simulator"

    def __init__(
        self,
        room_id: str,
        rate: float,
        seed: int,
        duration: float | None = None,
        mix: dict[str, float] | None = None,
        mood: str = "mixed",
        users: int = 5_000,
        start_ts: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        unknown = set(mix or {}) - set(DEFAULT_MIX)
        if unknown:
            raise ValueError(f"unknown message types in mix: {sorted(unknown)}")
        self.room_id = room_id
        self.rate = float(rate)
        self.seed = seed
        self.duration = duration
        self.users = max(1, users)
        self._rng = random.Random(seed)
        self._types = _cumulative(mix or DEFAULT_MIX)  # a given mix replaces the default
        self.mood = mood
        self._t = 0.0  # simulated seconds since start
        self._n = 0
        self._start_ts = time.time() if start_ts is None else start_ts
        self._clock = clock
        self._sleep = sleep
        self._closed = False

    @property
    def mood(self) -> str:
        return self._mood

    @mood.setter
    def mood(self, value: str) -> None:
        if value not in COMMENT_MIX:
            raise ValueError(f"mood must be one of {MOODS}")
        self._mood = value
        self._kinds = _cumulative(COMMENT_MIX[value])

    def close(self) -> None:
        self._closed = True

    @property
    def produced(self) -> int:
        return self._n

    def _pick(self, table: tuple[list[str], list[float]]) -> str:
        keys, cum = table
        x = self._rng.random() * cum[-1]
        for key, edge in zip(keys, cum, strict=True):
            if x < edge:
                return key
        return keys[-1]

    @staticmethod
    def _nickname(uid: int) -> str:
        # many viewers share a plain name (there are lots of 老张); the rest carry a number
        base, n = NAMES[uid % len(NAMES)], uid // len(NAMES)
        return base if n % 3 == 0 else f"{base}{n}"

    def _next(self) -> RoomMessage:
        """The next message; advances simulated time by one exponential gap."""
        rng = self._rng
        self._t += rng.expovariate(self.rate)
        self._n += 1
        uid = rng.randrange(self.users)
        common = {
            "room_id": self.room_id,
            "user_id": f"sim-{uid}",
            "nickname": self._nickname(uid),
            "source": "simulator",
            "dedup_id": f"sim-{self.seed}-{self._n}",
            "ts": self._start_ts + self._t,
        }
        kind = self._pick(self._types)
        if kind == "comment":
            template = rng.choice(COMMENTS[self._pick(self._kinds)])
            return Comment(**common, text=template.format(p=rng.choice(PRODUCTS)))
        if kind == "like":
            return Like(**common, count=rng.choice((1, 1, 1, 2, 3, 5, 10)))
        if kind == "gift":
            gift, value = rng.choice(GIFTS)
            count = rng.choice((1, 1, 1, 2, 5))
            return Gift(**common, gift=gift, count=count, value_fen=value * count)
        if kind == "enter":
            return Enter(**common)
        if kind == "follow":
            return Follow(**common)
        return Purchase(**common, quantity=rng.choice((1, 1, 2)))

    def batch(self, n: int) -> list[RoomMessage]:
        """The next `n` messages at once (ignores `duration`; no waiting)."""
        return [self._next() for _ in range(max(0, n))]

    async def messages(self) -> AsyncIterator[RoomMessage]:
        start = self._clock() - self._t
        since_yield = 0
        while not self._closed:
            msg = self._next()
            if self.duration is not None and self._t > self.duration:
                return
            wait = start + self._t - self._clock()
            # sleep only when ahead by more than a few ms: 1,000 msg/s costs ~200 wake-ups/s
            if wait > 0.005:
                await self._sleep(wait)
                since_yield = 0
                if self._closed:
                    return
            else:
                since_yield += 1
                if since_yield >= 100:
                    await self._sleep(0)
                    since_yield = 0
            yield msg
