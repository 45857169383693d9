"""Room mood: a time-decayed view of what the room feels (sentiment) and wants (intent), and
the delivery (expression, speaking rate, pitch) the host should use in such a room."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from danmaku.messages import INTENT_PRIORITY, Analysis

MOOD_LABELS: tuple[str, ...] = ("calm", "happy", "excited", "upset")  # scripts_gen moods

# label thresholds: (enter, stay). Entering needs more than staying, so one comment at the
# edge does not flip the label back and forth (hysteresis).
_UPSET_SCORE = (-0.25, -0.10)
_COMPLAINT_SHARE = (0.40, 0.25)
_EXCITED_SCORE = (0.55, 0.40)
_PURCHASE_SHARE = (0.35, 0.25)
_HAPPY_SCORE = (0.20, 0.08)
_VOLUME = (2.0, 1.0)  # weighted comments needed to leave calm / to stay out of calm
_PRIOR = 1.0  # pseudo-comments at score 0: a single comment cannot swing the score fully
HALF_LIFE = 5.0  # seconds: a clear change of balance shows in the label within ~10 s
SILENCE = 30.0  # seconds without a comment: the room is calm whatever its decayed sums say


@dataclass(frozen=True)
class Mood:
    """The room's mood at one instant."""

    score: float  # -1..1, decayed mean sentiment (shrunk toward 0 when few comments)
    label: str  # one of MOOD_LABELS
    intents: dict[str, float] = field(default_factory=dict)  # shares over the 7 intents
    volume: float = 0.0  # decayed comment count


@dataclass(frozen=True)
class Delivery:
    """How the host should speak in a room of this mood."""

    expression: str
    rate: float  # 0.8..1.25
    pitch: float  # 0.85..1.2


class _Window:
    """Exponentially decayed sums of comment count, sentiment and per-intent counts."""

    __slots__ = ("half_life", "t", "volume", "score_sum", "intents")

    def __init__(self, half_life: float, t: float) -> None:
        self.half_life = half_life
        self.t = t
        self.volume = 0.0
        self.score_sum = 0.0
        self.intents = dict.fromkeys(INTENT_PRIORITY, 0.0)

    def _factor(self, dt: float) -> float:
        return math.exp2(-dt / self.half_life)

    def advance(self, now: float) -> None:
        if now <= self.t:
            return
        k = self._factor(now - self.t)
        self.volume *= k
        self.score_sum *= k
        for key in self.intents:
            self.intents[key] *= k
        self.t = now

    def add(self, score: float, intent: str, ts: float) -> None:
        # a late (out-of-order) comment counts with the weight it has decayed to by now
        weight = 1.0 if ts >= self.t else self._factor(self.t - ts)
        self.volume += weight
        self.score_sum += weight * score
        self.intents[intent] = self.intents.get(intent, 0.0) + weight

    def dump(self) -> dict:
        return {"volume": self.volume, "score_sum": self.score_sum, "intents": dict(self.intents)}

    def load(self, saved: dict, t: float) -> None:
        self.t = t
        self.volume = max(0.0, float(saved.get("volume", 0.0)))
        self.score_sum = float(saved.get("score_sum", 0.0))
        intents = saved.get("intents") or {}
        self.intents = {k: max(0.0, float(intents.get(k, 0.0))) for k in self.intents}

    def shares(self) -> dict[str, float]:
        total = sum(self.intents.values())
        if total <= 1e-9:
            return dict.fromkeys(INTENT_PRIORITY, 0.0)
        return {k: v / total for k, v in self.intents.items()}


class RoomMood:
    """Time-decayed sentiment and intent mix of one room, with a hysteretic mood label.

    `half_life` seconds after a comment, it counts half. A slower window (4x the half-life)
    backs `trend(intent)`, so the Director can see "price complaints rising". Timestamps (`ts`)
    are on the same time base as `clock` (monotonic seconds by default).
    """

    def __init__(
        self,
        half_life: float = HALF_LIFE,
        clock: Callable[[], float] = time.monotonic,
        slow_factor: float = 4.0,
    ) -> None:
        if half_life <= 0 or slow_factor < 1:
            raise ValueError("half_life must be positive and slow_factor at least 1")
        self._clock = clock
        now = clock()
        self._fast = _Window(half_life, now)
        self._slow = _Window(half_life * slow_factor, now)
        self._label = "calm"
        self._last_comment: float | None = None
        self.updates = 0

    def update(self, analysis: Analysis, ts: float | None = None) -> None:
        """Count one analysed comment said at `ts` (default: now)."""
        now = self._clock() if ts is None else ts
        score = analysis.score
        if not math.isfinite(score):
            score = 0.0
        score = max(-1.0, min(1.0, score))
        intent = analysis.intent if analysis.intent in self._fast.intents else "other"
        for window in (self._fast, self._slow):
            window.advance(now)
            window.add(score, intent, now)
        self.updates += 1
        if self._last_comment is None or now > self._last_comment:
            self._last_comment = now
        self._relabel(now)

    def snapshot(self) -> Mood:
        """The mood now: decayed score, label, intent shares and volume."""
        now = self._clock()
        self._fast.advance(now)
        self._slow.advance(now)
        self._relabel(now)
        return Mood(self._score(), self._label, self._fast.shares(), self._fast.volume)

    def state(self) -> dict:
        """Plain data to carry the mood over to a restarted room (`restore`)."""
        now = self._clock()
        self._fast.advance(now)
        self._slow.advance(now)
        since = None if self._last_comment is None else max(0.0, now - self._last_comment)
        return {
            "at": time.time(),  # wall clock: the gap until the restore decays too
            "label": self._label,
            "since_comment": since,
            "updates": self.updates,
            "fast": self._fast.dump(),
            "slow": self._slow.dump(),
        }

    def restore(self, state: dict) -> None:
        """Take up a mood saved by `state`, decayed by the time since it was saved. An
        unreadable state leaves the room calm, as a new one."""
        now = self._clock()
        try:
            gap = max(0.0, time.time() - float(state.get("at", time.time())))
            for window, saved in ((self._fast, state["fast"]), (self._slow, state["slow"])):
                window.load(saved, now - gap)
                window.advance(now)
            since = state.get("since_comment")
            self._last_comment = None if since is None else now - gap - float(since)
            self.updates = int(state.get("updates", 0))
        except (KeyError, TypeError, ValueError, AttributeError):
            self._fast = _Window(self._fast.half_life, now)
            self._slow = _Window(self._slow.half_life, now)
            self._last_comment = None
            self._label = "calm"
            return
        self._label = state.get("label") if state.get("label") in MOOD_LABELS else "calm"
        self._relabel(now)

    def trend(self, intent: str) -> float:
        """Share of `intent` in the fast window minus its share in the slow one (-1..1):
        positive means rising."""
        now = self._clock()
        self._fast.advance(now)
        self._slow.advance(now)
        fast = self._fast.shares().get(intent, 0.0)
        slow = self._slow.shares().get(intent, 0.0)
        return fast - slow

    def _score(self) -> float:
        w = self._fast
        return max(-1.0, min(1.0, w.score_sum / (w.volume + _PRIOR)))

    def _relabel(self, now: float) -> None:
        silent = self._last_comment is None or now - self._last_comment >= SILENCE
        volume = 0.0 if silent else self._fast.volume
        self._label = _next_label(self._label, self._score(), self._fast.shares(), volume)


def _next_label(current: str, score: float, shares: dict[str, float], volume: float) -> str:
    if volume < _VOLUME[1]:
        return "calm"
    enough = volume >= _VOLUME[0]
    complaint = shares.get("complaint", 0.0)
    purchase = shares.get("purchase", 0.0)

    def upset(i: int) -> bool:
        # a complaint share keeps the room upset only while the score is below zero: once
        # praise outweighs the complaints the label follows the new balance
        by_share = complaint >= _COMPLAINT_SHARE[i] and (i == 0 or score < 0.0)
        return score <= _UPSET_SCORE[i] or by_share

    def excited(i: int) -> bool:
        return score >= _EXCITED_SCORE[i] or (purchase >= _PURCHASE_SHARE[i] and score >= 0.0)

    def happy(i: int) -> bool:
        return score >= _HAPPY_SCORE[i]

    if current == "upset" and upset(1):
        return "upset"
    if enough and upset(0):
        return "upset"
    if current == "excited" and excited(1):
        return "excited"
    if enough and excited(0):
        return "excited"
    if current in ("happy", "excited") and happy(1):
        return "happy"
    if enough and happy(0):
        return "happy"
    return "calm"


_DELIVERY = {
    "calm": Delivery("neutral", 1.0, 1.0),
    "happy": Delivery("happy", 1.05, 1.04),
    "excited": Delivery("excited", 1.12, 1.08),
    "upset": Delivery("concerned", 0.9, 0.94),
}


def delivery_for(mood: Mood) -> Delivery:
    """Expression, rate and pitch for a room in `mood` (unknown labels speak calmly)."""
    d = _DELIVERY.get(mood.label, _DELIVERY["calm"])
    return Delivery(d.expression, min(1.25, max(0.8, d.rate)), min(1.2, max(0.85, d.pitch)))
