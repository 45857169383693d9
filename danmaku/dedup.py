"""Seen-id memory for at-least-once message feeds (platform pushes repeat and reorder)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class Deduper:
    """A bounded set of recently seen ids: at most `max_size` ids, each kept `ttl` seconds.

    `first_time(id)` is True exactly once per id while the id is remembered, whatever the order
    ids arrive in. Memory never grows past `max_size`; the oldest ids are forgotten first.
    """

    def __init__(
        self,
        max_size: int = 100_000,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.max_size = max_size
        self.ttl = ttl
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> first seen, oldest first
        self.accepted = 0
        self.duplicates = 0
        self.evicted = 0  # forgotten for space, not age
        self.expired = 0

    def first_time(self, msg_id: str) -> bool:
        """True the first time `msg_id` is seen (within the TTL and size bound), else False."""
        now = self._clock()
        seen = self._seen
        # ids were inserted in clock order, so expired ones sit at the front
        horizon = now - self.ttl
        while seen:
            oldest_id, first = next(iter(seen.items()))
            if first > horizon:
                break
            del seen[oldest_id]
            self.expired += 1
        if msg_id in seen:
            self.duplicates += 1
            return False
        seen[msg_id] = now
        if len(seen) > self.max_size:
            seen.popitem(last=False)
            self.evicted += 1
        self.accepted += 1
        return True

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._seen

    def stats(self) -> dict[str, int]:
        return {
            "size": len(self._seen),
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "evicted": self.evicted,
            "expired": self.expired,
        }
