"""The room's question inbox: bounded, merged, answered once.

Questions wait here between the viewer and the Director. The inbox holds at most
`MAX_PENDING` distinct questions; the same question asked again while it waits, or within
`REPEAT_WINDOW` seconds of its answer, joins the first one's askers instead of being
answered (and spoken) again, as long as the facts that answer named still hold. Everything
dropped or merged is counted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from danmaku.topics import question_key

MAX_PENDING = 32
MAX_ASKERS = 20  # askers remembered per question (all get the text reply while it waits)
REPEAT_WINDOW = 30.0
MAX_RECENT = 256


@dataclass
class Asker:
    user_id: str
    nickname: str
    question_id: str


@dataclass
class Question:
    key: str
    text: str
    askers: list[Asker] = field(default_factory=list)
    received: float = field(default_factory=time.monotonic)


@dataclass
class InboxStats:
    received: int = 0
    merged: int = 0
    dropped: int = 0
    answered: int = 0
    stale_repeats: int = 0  # repeats answered again because the facts changed since


class QuestionInbox:
    """Pending questions in arrival order, merged by key; oldest dropped when full."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._pending: OrderedDict[str, Question] = OrderedDict()
        self._recent: OrderedDict[str, tuple[float, str, bool, tuple]] = OrderedDict()
        self.stats = InboxStats()

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, text: str, asker: Asker, fresh: Callable[[tuple], bool] = lambda facts: True
    ) -> tuple[str, tuple[str, bool] | None]:
        """File a question. Returns ("queued" | "merged", a recent (answer, handed_off) to
        send the asker at once when the same question was just answered).

        A recent answer is reused only while `fresh(facts)` holds for the facts it named (a
        price, a flash sale): otherwise the question is answered again from today's facts."""
        self.stats.received += 1
        key = question_key(text) or text[:60]
        now = self.clock()
        recent = self._recent.get(key)
        if recent is not None and now - recent[0] <= REPEAT_WINDOW:
            if fresh(recent[3]):
                self.stats.merged += 1
                return "merged", (recent[1], recent[2])
            del self._recent[key]
            self.stats.stale_repeats += 1
        pending = self._pending.get(key)
        if pending is not None:
            self.stats.merged += 1
            if len(pending.askers) < MAX_ASKERS:
                pending.askers.append(asker)
            return "merged", None
        if len(self._pending) >= MAX_PENDING:
            self._pending.popitem(last=False)
            self.stats.dropped += 1
        self._pending[key] = Question(key, text, [asker], now)
        return "queued", None

    def take(self) -> Question | None:
        if not self._pending:
            return None
        return self._pending.popitem(last=False)[1]

    def answered(
        self, question: Question, answer: str, handed_off: bool, facts: tuple = ()
    ) -> None:
        """Remember the answer for REPEAT_WINDOW seconds, with the facts it names."""
        self.stats.answered += 1
        self._recent[question.key] = (self.clock(), answer, handed_off, facts)
        self._recent.move_to_end(question.key)
        while len(self._recent) > MAX_RECENT:
            self._recent.popitem(last=False)
