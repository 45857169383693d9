"""What makes the host alive: expression targets and their blending, blinks, saccades,
breathing, head motion, and co-articulated mouth shapes. Pure functions of time."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, fields

BLEND_SECONDS = 0.3  # expression transitions (spec: 200-400 ms)
BLINK_WINDOW = 3.4  # one blink somewhere in every window: irregular, never > 2 windows apart
BLINK_SECONDS = 0.16


@dataclass(frozen=True)
class Face:
    """Blendable expression parameters (all roughly -1..1)."""

    brow_raise: float = 0.0  # both brows up
    brow_worry: float = 0.0  # inner ends up, outer down (concern, apology)
    brow_frown: float = 0.0  # inner ends down (focus)
    lid: float = 1.0  # upper-lid openness multiplier
    squint: float = 0.0  # lower lid up (smiling eyes)
    smile: float = 0.2  # mouth corners up (<0: down)
    grin: float = 0.0  # teeth shown in a closed smile
    blush: float = 0.15
    tilt: float = 0.0  # head roll, degrees
    nod: float = 0.0  # head down, px
    gaze_x: float = 0.0  # -1..1
    gaze_y: float = 0.0


EXPRESSIONS: dict[str, Face] = {
    "neutral": Face(),
    "happy": Face(brow_raise=0.35, squint=0.55, smile=0.85, grin=0.35, blush=0.5, tilt=3.0),
    "excited": Face(brow_raise=1.0, lid=1.18, smile=1.0, grin=1.0, blush=0.75, tilt=-2.0, nod=-4.0),
    "concerned": Face(
        brow_worry=0.85, brow_raise=0.1, lid=0.9, smile=-0.45, tilt=-4.0, nod=2.0, gaze_y=0.1
    ),
    "apologetic": Face(
        brow_worry=1.0,
        lid=0.62,
        smile=-0.3,
        tilt=6.0,
        nod=9.0,
        gaze_y=0.75,
        gaze_x=-0.2,
        blush=0.35,
    ),
    "thinking": Face(
        brow_raise=0.3, brow_frown=0.45, lid=0.85, smile=-0.05, tilt=-5.0, gaze_x=0.55, gaze_y=-0.7
    ),
}
ALIASES = {"sorry": "apologetic", "calm": "neutral", "smile": "happy"}
EXPRESSION_NAMES = ("neutral", "happy", "excited", "concerned", "apologetic")


def face_for(name: str) -> Face:
    return EXPRESSIONS.get(ALIASES.get(name, name), EXPRESSIONS["neutral"])


def lerp_face(a: Face, b: Face, k: float) -> Face:
    return Face(
        **{f.name: getattr(a, f.name) * (1 - k) + getattr(b, f.name) * k for f in fields(Face)}
    )


def smoothstep(x: float) -> float:
    x = max(0.0, min(1.0, x))
    return x * x * (3 - 2 * x)


class ExpressionBlend:
    """Remembers the previous expression and blends to a new one over BLEND_SECONDS."""

    def __init__(self) -> None:
        self.name: str | None = None
        self._from = self._to = EXPRESSIONS["neutral"]
        self._t0 = -1e9

    def at(self, name: str, t: float) -> Face:
        target = face_for(name)
        if self.name is None or t < self._t0:  # first frame, or the clock went back: no blend
            self._from, self._to, self._t0, self.name = target, target, t, name
        if name != self.name:
            self._from, self._to, self._t0, self.name = self.current(t), target, t, name
        return self.current(t)

    def current(self, t: float) -> Face:
        k = smoothstep((t - self._t0) / BLEND_SECONDS)
        return self._to if k >= 1.0 else lerp_face(self._from, self._to, k)  # mostly settled


def _rand(seed: int, i: int) -> float:
    """Deterministic 0..1 noise for window `i` (same every run, differs per persona)."""
    return (zlib.crc32(f"{seed}:{i}".encode()) % 10_000) / 10_000.0


def blink(t: float, seed: int) -> float:
    """Eyelid closure 0..1 at `t`: one quick blink at an irregular point of each window,
    sometimes a double blink."""
    closure = 0.0
    w = math.floor(t / BLINK_WINDOW)
    for i in (w - 1, w):
        start = i * BLINK_WINDOW + 0.15 + _rand(seed, i) * (BLINK_WINDOW - 0.5)
        starts = [start] + ([start + 0.32] if _rand(seed + 7, i) < 0.2 else [])
        for s in starts:
            x = (t - s) / BLINK_SECONDS
            if 0 <= x < 1:
                closure = max(closure, 1 - abs(2 * x - 1) ** 1.5)
    return closure


def saccade(t: float, seed: int) -> tuple[float, float]:
    """Small gaze jumps held for 0.6-2 s, the way eyes rest on one point then another."""
    i = math.floor(t / 0.9)
    r = _rand(seed + 3, i)
    if r < 0.45:  # hold the previous fixation: irregular dwell times
        i -= 1
    return ((_rand(seed + 11, i) - 0.5) * 0.5, (_rand(seed + 13, i) - 0.5) * 0.3)


@dataclass(frozen=True)
class Body:
    """Per-frame body motion: breathing and head pose in px / degrees."""

    breath: float  # -1..1
    head_dx: float
    head_dy: float
    tilt: float


def body_motion(t: float, seed: int, stress: float, speaking: bool, lively: float) -> Body:
    """Breathing, a slow non-repeating sway, and a nod on stressed syllables."""
    ph = (seed % 97) / 97 * math.tau
    breath = math.sin(math.tau * t / 3.9 + ph)
    sway = math.sin(t * 0.83 + ph) + 0.5 * math.sin(t * 2.07 + 2 * ph)
    amp = lively * (1.6 if speaking else 1.0)
    return Body(
        breath=breath,
        head_dx=2.0 * amp * sway,
        head_dy=-1.2 * breath + 5.0 * lively * stress,
        tilt=amp * (1.6 * math.sin(t * 0.61 + ph) + 0.8 * math.sin(t * 1.73))
        - 2.0 * stress * lively,
    )


# --- mouth ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mouth:
    """Mouth shape: width multiplier, opening 0..1, roundness 0..1, lips pressed 0..1."""

    width: float
    open: float
    round: float
    press: float


VISEME_SHAPES: dict[str, Mouth] = {
    "rest": Mouth(1.0, 0.0, 0.0, 0.0),
    "closed": Mouth(0.92, 0.0, 0.0, 1.0),  # m b p f: lips pressed together
    "open": Mouth(1.08, 1.0, 0.1, 0.0),  # a
    "round": Mouth(0.72, 0.85, 1.0, 0.0),  # o u w
    "spread": Mouth(1.25, 0.55, 0.0, 0.0),  # i e j y
    "mid": Mouth(0.95, 0.68, 0.3, 0.0),  # the rest of the consonants
}


class MouthBlend:
    """Co-articulation: the lip shape eases toward each viseme (never ahead of the audio);
    the opening follows the speech envelope directly, so it cannot lag it either."""

    TAU = 0.045  # seconds

    def __init__(self) -> None:
        self._shape = VISEME_SHAPES["rest"]
        self._t = -1e9

    def at(self, viseme: str, openness: float, speaking: bool, t: float) -> Mouth:
        o = max(0.0, min(1.0, openness)) if speaking else 0.0
        name = viseme if speaking and o > 0.03 else "rest"
        target = VISEME_SHAPES.get(name, VISEME_SHAPES["mid"])
        dt = t - self._t
        k = 1.0 if not 0 < dt < 0.5 else 1 - math.exp(-dt / self.TAU)
        s = self._shape
        self._shape = Mouth(
            s.width + (target.width - s.width) * k,
            target.open,
            s.round + (target.round - s.round) * k,
            target.press,
        )
        self._t = t
        return Mouth(self._shape.width, target.open * o, self._shape.round, target.press)
