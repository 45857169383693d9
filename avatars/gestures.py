"""Gestures tied to what is said: plan them from an utterance's text, and pose the arms.

`plan_gestures` is pure: the Director calls it with the line, its spoken duration and the
product on show; the renderer turns the active cue into arm angles with `arm_pose`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

WAVE, POINT, PRESENT, THUMBS_UP = "wave", "point", "present", "thumbs_up"
GESTURES = (WAVE, POINT, PRESENT, THUMBS_UP)

# product categories of the catalogue and the words that name them in a line
CATEGORIES: dict[str, tuple[str, ...]] = {
    "jujube": ("大枣", "红枣", "枣"),
    "walnut": ("核桃",),
    "chestnut": ("板栗", "栗子"),
    "millet": ("小米",),
    "mushroom": ("香菇", "蘑菇"),
    "honey": ("蜂蜜", "蜜"),
    "apple": ("苹果",),
}
GREETING = re.compile(r"大家好|欢迎|来了")
POINTING = re.compile(r"看这里|看这边|[0-9０-９一二三四五六七八九十两百千]+\s*(?:元|块)|价")
THANKS = re.compile(r"谢谢|感谢")

# seconds a whole motion takes (raise, act, lower); never started unless it can finish
LENGTH = {WAVE: 1.6, POINT: 1.5, PRESENT: 2.6, THUMBS_UP: 1.3}
MIN_LENGTH = 0.9
LEAD = 0.25  # start the arm a little before the word it illustrates


@dataclass(frozen=True)
class GestureCue:
    """One gesture inside an utterance, in seconds from the utterance's start."""

    kind: str
    start: float
    duration: float
    category: str | None = None  # the product held up by PRESENT

    @property
    def end(self) -> float:
        return self.start + self.duration


def category_of(text: str) -> str | None:
    """The catalogue category a line names, if any (longest keyword wins)."""
    best: tuple[int, int, str] | None = None
    for cat, words in CATEGORIES.items():
        for w in words:
            i = text.find(w)
            if i >= 0 and (best is None or len(w) > best[0]):
                best = (len(w), i, cat)
    return best[2] if best else None


def plan_gestures(
    text: str, duration: float, product_category: str | None = None
) -> tuple[GestureCue, ...]:
    """Gestures for a line of `duration` seconds, in time order, never overlapping and
    always ending inside the line, so no motion is cut by the next sentence."""
    if not text or not math.isfinite(duration) or duration < MIN_LENGTH:
        return ()
    n = max(len(text), 1)

    def at(index: int) -> float:
        return index / n * duration

    wanted: list[tuple[int, GestureCue]] = []  # (priority, cue): lower priority wins overlaps
    if m := GREETING.search(text):
        wanted.append((1, GestureCue(WAVE, at(m.start()), LENGTH[WAVE])))
    if m := THANKS.search(text):
        wanted.append((2, GestureCue(THUMBS_UP, at(m.start()), LENGTH[THUMBS_UP])))
    if m := POINTING.search(text):
        wanted.append((3, GestureCue(POINT, at(m.start()), LENGTH[POINT])))
    category = product_category if product_category in CATEGORIES else None
    named = category_of(text)
    if named and (category is None or named == category):
        category = named
        word = next(w for w in CATEGORIES[named] if w in text)
        wanted.append((0, GestureCue(PRESENT, at(text.find(word)), LENGTH[PRESENT], category)))

    placed: list[GestureCue] = []
    for _, cue in sorted(wanted, key=lambda pc: pc[0]):
        length = min(cue.duration, duration)
        start = min(max(0.0, cue.start - LEAD), duration - length)
        fitted = GestureCue(cue.kind, start, length, cue.category)
        if any(fitted.start < o.end and o.start < fitted.end for o in placed):
            fitted = _shift_clear(fitted, placed, duration)
        if fitted is not None:
            placed.append(fitted)
    return tuple(sorted(placed, key=lambda c: c.start))


def _shift_clear(cue: GestureCue, placed: list[GestureCue], duration: float) -> GestureCue | None:
    """Move `cue` after the cues it collides with, or drop it if the line is too short."""
    start = max(o.end for o in placed if cue.start < o.end and o.start < cue.end)
    for _ in range(len(placed) + 1):
        moved = GestureCue(cue.kind, start, cue.duration, cue.category)
        if moved.end > duration:
            return None
        hits = [o for o in placed if moved.start < o.end and o.start < moved.end]
        if not hits:
            return moved
        start = max(o.end for o in hits)
    return None


def active_cue(cues: tuple[GestureCue, ...], t: float) -> tuple[GestureCue, float] | None:
    """The cue playing at `t` seconds into the utterance and its progress 0..1."""
    for cue in cues:
        if cue.start <= t < cue.end and cue.duration > 0:
            return cue, (t - cue.start) / cue.duration
    return None


# --- arm poses ------------------------------------------------------------------------------
# An arm is (upper, fore) angles in degrees from straight down, positive = away from the body.


@dataclass(frozen=True)
class ArmPose:
    upper: float
    fore: float
    hand: str  # "rest", "open", "point", "thumb", "hold"


REST = ArmPose(14.0, -72.0, "rest")


def envelope(progress: float, rise: float = 0.22, fall: float = 0.22) -> float:
    """0 → 1 → 0 over a gesture: ease in, hold, ease out."""
    p = max(0.0, min(1.0, progress))
    if p < rise:
        x = p / rise
    elif p > 1 - fall:
        x = (1 - p) / fall
    else:
        return 1.0
    return x * x * (3 - 2 * x)


def _blend(a: ArmPose, b: ArmPose, k: float, hand_at: float = 0.35) -> ArmPose:
    return ArmPose(
        a.upper + (b.upper - a.upper) * k,
        a.fore + (b.fore - a.fore) * k,
        b.hand if k > hand_at else a.hand,
    )


def arm_pose(
    kind: str | None, progress: float, t: float, point: ArmPose
) -> tuple[ArmPose, ArmPose]:
    """(near-card arm, other arm) for a gesture at `progress`; `point` aims at the card."""
    k = envelope(progress)
    idle = math.sin(t * 1.3) * 2.0  # arms never freeze
    rest = ArmPose(REST.upper + idle, REST.fore - idle, "rest")
    if kind == WAVE:
        wag = math.sin(progress * math.tau * 3.0) * 16.0 * k
        return rest, _blend(rest, ArmPose(100.0, 172.0 + wag, "open"), k)
    if kind == POINT:
        return _blend(rest, point, k), rest
    if kind == PRESENT:
        lift = math.sin(progress * math.pi) * 4.0
        return _blend(rest, ArmPose(22.0 + lift, 148.0, "hold"), k, 0.2), rest
    if kind == THUMBS_UP:
        return rest, _blend(rest, ArmPose(18.0, -140.0, "thumb"), k)
    return rest, rest
