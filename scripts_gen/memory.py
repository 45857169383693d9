"""Per-room memory of what the host said, so no sentence repeats within a window."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

NO_REPEAT_WINDOW = timedelta(minutes=10)


class RecentLines:
    """Texts spoken in the last `window`; `fresh(text, now)` is False for a recent repeat."""

    def __init__(self, window: timedelta = NO_REPEAT_WINDOW):
        self.window = window
        self._said: OrderedDict[str, datetime] = OrderedDict()

    def _expire(self, now: datetime) -> None:
        while self._said:
            text, when = next(iter(self._said.items()))
            if now - when < self.window:
                break
            del self._said[text]

    def fresh(self, text: str, now: datetime) -> bool:
        self._expire(now)
        return text not in self._said

    def remember(self, text: str, now: datetime) -> None:
        self._said.pop(text, None)
        self._said[text] = now

    def __len__(self) -> int:
        return len(self._said)
