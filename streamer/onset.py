"""Answer onset: seconds from a viewer's question to the first sound of its spoken answer.

Kept as plain counts (fixed histogram buckets, a sum, a count) so the figures cross a worker
process boundary as data and the web process can expose them as a Prometheus histogram."""

from __future__ import annotations

import time
from collections import deque

ONSET_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # seconds; +Inf is implied
RECENT = 10.0  # seconds the "recent" figures cover


class OnsetStats:
    """Written by the media thread when an answer starts playing; read from any thread."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self.counts = [0] * (len(ONSET_BUCKETS) + 1)  # per bucket (not cumulative), +Inf last
        self.total = 0.0
        self.count = 0
        self._recent: deque[tuple[float, float]] = deque(maxlen=256)

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        i = next((i for i, b in enumerate(ONSET_BUCKETS) if seconds <= b), len(ONSET_BUCKETS))
        self.counts[i] += 1
        self.total += seconds
        self.count += 1
        self._recent.append((self._clock(), seconds))

    def summary(self) -> dict:
        now = self._clock()
        recent = [s for t, s in list(self._recent) if t >= now - RECENT]
        return {
            "buckets": list(ONSET_BUCKETS),
            "counts": list(self.counts),
            "sum": round(self.total, 4),
            "count": self.count,
            "recent_s": round(sum(recent) / len(recent), 3) if recent else None,
            "recent_n": len(recent),
        }
