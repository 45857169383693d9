"""Recent frame rates of a room's media loop, counted in one-second buckets.

A lifetime average (frames ÷ uptime) hides a stutter: a room that drops to 16 fps for a
minute after an hour at 25 still reads 24.9. These windows show what viewers see now.
"""

from __future__ import annotations

import time

SLOTS = 64  # seconds of history kept (at least the one-minute window plus the current second)


class FrameWindow:
    """Frames drawn and frames skipped, per wall-clock second, for the last minute.

    Written by the media thread only; read from any thread. A reader may see a bucket being
    reset: the figures are for humans and alarms, so a torn second is acceptable, a lock
    on the media path is not.
    """

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._second = [-1] * SLOTS
        self._frames = [0] * SLOTS
        self._skipped = [0] * SLOTS

    def _slot(self, now: float) -> int:
        sec = int(now)
        i = sec % SLOTS
        if self._second[i] != sec:
            self._frames[i] = 0
            self._skipped[i] = 0
            self._second[i] = sec
        return i

    def frame(self) -> None:
        self._frames[self._slot(self._clock())] += 1

    def skipped(self) -> None:
        self._skipped[self._slot(self._clock())] += 1

    def _sum(self, counts: list[int], seconds: int, now: float) -> tuple[int, float]:
        """Counts over the last `seconds` complete seconds, and the time they cover."""
        current = int(now)
        first = max(current - seconds, int(self._started) + 1)  # the first whole second
        total = 0
        for i in range(SLOTS):
            if first <= self._second[i] < current:
                total += counts[i]
        return total, max(current - first, 0)

    def fps(self, seconds: int = 10) -> float:
        """Frames a second over the last `seconds` complete seconds (0 before the first)."""
        frames, span = self._sum(self._frames, seconds, self._clock())
        return frames / span if span else 0.0

    def skipped_last(self, seconds: int = 60) -> int:
        """Frames skipped in the last `seconds` complete seconds."""
        return self._sum(self._skipped, seconds, self._clock())[0]
