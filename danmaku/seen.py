"""Replay-proof memory of platform message ids: each id is accepted once for as long as a
push carrying it could still pass the freshness check, and that memory survives restarts.

A push is only accepted while its signed timestamp is fresh (see `douyin.check_fresh`), so
an id needs remembering for the freshness window plus the allowed clock skew, no longer.
The durable truth lives in a `SeenStore` (a database table with the id as primary key, so
concurrent workers agree); an in-process cache answers repeats without a database round
trip. Nothing inside the window is ever forgotten to make room: when the store is full the
push is refused (the platform retries later) instead.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

PRUNE_EVERY = 10.0  # seconds between deletions of rows past the window (short, cheap deletes)


class SeenFull(Exception):
    """More distinct ids inside the window than the store may hold; `reason` is safe to show."""

    def __init__(self, limit: int) -> None:
        self.reason = f"消息去重表已满（窗口内最多 {limit} 条），请稍后重试"
        super().__init__(self.reason)


class SeenStore(Protocol):
    """Durable seen-id rows. `insert_new` inserts the ids not present and returns exactly
    those; `prune` deletes rows first seen before `before_ms` and returns how many remain."""

    async def insert_new(self, platform: str, ids: list[str], now_ms: int) -> set[str]: ...

    async def prune(self, before_ms: int) -> int: ...


class SeenIds:
    """First-seen decisions for platform message ids, durable when given a `store`.

    Without a store it is memory only (tests, benchmarks, a server without a database), and
    then it refuses new ids past `max_cached` rather than forget one inside the window."""

    def __init__(
        self,
        store: SeenStore | None = None,
        retention: float = 360.0,
        max_cached: int = 200_000,
        max_rows: int = 5_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention <= 0 or max_cached < 1 or max_rows < 1:
            raise ValueError("retention, max_cached and max_rows must be positive")
        self.store = store
        self.retention = retention
        self.max_cached = max_cached
        self.max_rows = max_rows
        self._clock = clock
        self._cache: OrderedDict[str, float] = OrderedDict()  # "platform:id" -> first seen
        self._rows: int | None = None  # rows in the store, learned at the first prune
        self._pruned_at = float("-inf")
        self.counts = {"new": 0, "repeats": 0, "cache_hits": 0, "store_writes": 0, "full": 0}

    async def first_seen(self, platform: str, ids: list[str]) -> list[bool]:
        """For each id in order: True when this is its first sighting (within the window),
        False for a repeat, including a repeat inside the same list."""
        now = self._clock()
        self._expire(now)
        unknown = [i for i in dict.fromkeys(ids) if f"{platform}:{i}" not in self._cache]
        self.counts["cache_hits"] += len(ids) - len(unknown)
        new = await self._claim(platform, unknown, now) if unknown else set()
        out, given = [], set()
        for i in ids:
            first = i in new and i not in given
            given.add(i)
            out.append(first)
        self.counts["new"] += len(given & new)
        self.counts["repeats"] += len(ids) - len(given & new)
        return out

    async def _claim(self, platform: str, ids: list[str], now: float) -> set[str]:
        if self.store is None:
            if len(self._cache) + len(ids) > self.max_cached:
                self.counts["full"] += 1
                raise SeenFull(self.max_cached)
            new = set(ids)
        else:
            if now - self._pruned_at >= PRUNE_EVERY or self._rows is None:
                self._rows = await self.store.prune(int((now - self.retention) * 1000))
                self._pruned_at = now
            if self._rows + len(ids) > self.max_rows:
                self.counts["full"] += 1
                raise SeenFull(self.max_rows)
            new = await self.store.insert_new(platform, ids, int(now * 1000))
            self._rows += len(new)
            self.counts["store_writes"] += 1
        for i in ids:  # repeats too: the next sighting is answered from memory
            self._cache[f"{platform}:{i}"] = now
        while len(self._cache) > self.max_cached:  # only with a store: it still remembers
            self._cache.popitem(last=False)
        return new

    def _expire(self, now: float) -> None:
        horizon = now - self.retention
        cache = self._cache
        while cache:
            key, first = next(iter(cache.items()))
            if first > horizon:
                break
            del cache[key]

    def stats(self) -> dict[str, int]:
        return {"cached": len(self._cache), "rows": self._rows or 0, **self.counts}
