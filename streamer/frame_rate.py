"""Recent frame rates of a room's media loop, counted in one-second buckets.

A lifetime average (frames ÷ uptime) hides a stutter: a room that drops to 16 fps for a
minute after an hour at 25 still reads 24.9. These windows show what viewers see now.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

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
        self._bytes = [0] * SLOTS  # encoded video bytes

    def _slot(self, now: float) -> int:
        sec = int(now)
        i = sec % SLOTS
        if self._second[i] != sec:
            self._frames[i] = 0
            self._skipped[i] = 0
            self._bytes[i] = 0
            self._second[i] = sec
        return i

    def frame(self, nbytes: int = 0) -> None:
        i = self._slot(self._clock())
        self._frames[i] += 1
        self._bytes[i] += nbytes

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

    def kbps(self, seconds: int = 10) -> float:
        """Encoded video kilobits a second over the last `seconds` complete seconds."""
        sent, span = self._sum(self._bytes, seconds, self._clock())
        return sent * 8 / 1000 / span if span else 0.0

    def skipped_last(self, seconds: int = 60) -> int:
        """Frames skipped in the last `seconds` complete seconds."""
        return self._sum(self._skipped, seconds, self._clock())[0]


CPU_WINDOW = 10.0  # seconds of per-frame CPU times a room's stats summarise


class CpuWindow:
    """Thread CPU time of each media-loop tick over the last `seconds`: render, video
    encode, audio encode, and the whole tick (card, caption, clock and hand-off included).

    Written by the media thread, read from any thread (a C-level copy of the deque)."""

    def __init__(self, fps: int, seconds: float = CPU_WINDOW, clock=time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._started = clock()
        # (when, render, encode, audio, tick) in seconds; render/encode are 0 on a skipped frame
        self._ticks: deque[tuple[float, float, float, float, float]] = deque(
            maxlen=int(fps * seconds * 1.5) + 1
        )

    def add(self, render: float, encode: float, audio: float, tick: float) -> None:
        self._ticks.append((self._clock(), render, encode, audio, tick))

    def summary(self) -> dict:
        """Per-frame ms (mean, median, p95) of each part and the media thread's share of one
        core, over the last `seconds` (or since start, if shorter)."""
        now = self._clock()
        recent = [t for t in list(self._ticks) if t[0] >= now - self.seconds]
        span = min(self.seconds, max(now - self._started, 1e-6))
        out: dict = {"window_s": round(span, 1), "ticks": len(recent)}
        if not recent:
            return {**out, "cpu_share": 0.0}
        cols = np.array([t[1:] for t in recent]) * 1000.0
        drawn = cols[cols[:, 0] > 0] if (cols[:, 0] > 0).any() else cols
        for i, name in ((0, "render"), (1, "encode"), (2, "audio")):
            col = drawn[:, i] if i < 2 else cols[:, i]
            out[f"{name}_ms"] = {
                "mean": round(float(col.mean()), 3),
                "median": round(float(np.median(col)), 3),
                "p95": round(float(np.percentile(col, 95)), 3),
            }
        out["tick_ms"] = round(float(cols[:, 3].mean()), 3)
        out["cpu_share"] = round(float(cols[:, 3].sum()) / 1000.0 / span, 4)
        return out
