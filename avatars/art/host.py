"""Draws a host (from its Design) in one pose: body, head, face features, arms and hands."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import skia

from avatars.art.design import Design, Sprite, blit, rasterise
from avatars.art.face import FaceParts, draw_features
from avatars.art.limbs import HandCache, arm_bounds, draw_arm
from avatars.gestures import ArmPose
from avatars.motion import Body, Face, Mouth

PIVOT = (0.0, 120.0)  # the head tilts about the top of the neck


@dataclass(frozen=True)
class Pose:
    face: Face
    mouth: Mouth
    closure: float  # blink 0..1
    gaze: tuple[float, float]
    body: Body
    near: ArmPose  # arm on the card's side (+x)
    other: ArmPose
    prop: str | None
    t: float


TILT_STEP = 0.5  # degrees: head layers are cached per step of tilt
MAX_TILT = 10.0
TILT_CACHE = 41  # every step in ±MAX_TILT: about 0.5-0.9 MB each, filled as used


class Sprites:
    """A design's layers rasterised at one output scale: the torso once (it only
    translates), the head's layers once per tilt step (rotating a bitmap costs more than
    replaying its paths; blitting a pre-rotated one costs almost nothing), and bounded
    caches of the moving parts: hands and face features."""

    def __init__(self, d: Design, scale: float) -> None:
        self.design, self.scale = d, scale
        self.torso = rasterise([d.torso], d.torso_bounds, scale)
        self.hands = HandCache(d, scale)
        self.face = FaceParts(d, scale)
        self._heads: OrderedDict[float, tuple[Sprite, Sprite]] = OrderedDict()
        self._lock = threading.Lock()
        self.head_hits = 0
        self.head_misses = 0

    @property
    def head_count(self) -> int:
        return len(self._heads)

    def head(self, tilt: float) -> tuple[Sprite, Sprite]:
        """(behind-the-features, in-front-of-the-features) layers rotated by `tilt`."""
        with self._lock:
            hit = self._heads.get(tilt)
            if hit is not None:
                self._heads.move_to_end(tilt)
                self.head_hits += 1
                return hit
        d = self.design
        made = (
            rasterise([d.back, d.head], d.head_bounds, self.scale, tilt, PIVOT),
            rasterise([d.front], d.front_bounds, self.scale, tilt, PIVOT),
        )
        with self._lock:
            self.head_misses += 1
            self._heads[tilt] = made
            while len(self._heads) > TILT_CACHE:
                self._heads.popitem(last=False)
        return made


@dataclass(frozen=True)
class Placement:
    """Where the parts of pose `p` go: what `draw_host` draws, known before it draws."""

    pose: Pose
    lift: float  # the torso's breathing, whole device pixels
    tilt: float  # the head's, quantised to TILT_STEP
    head: tuple[float, float]  # the head's offset, whole device pixels
    behind: Sprite
    front: Sprite
    # (side, arm pose, its hand from the cache or None: drawn from paths), in drawing order
    arms: tuple[tuple[int, ArmPose, Sprite | None], ...]


def place(d: Design, p: Pose, sprites: Sprites, cached: bool = True) -> Placement:
    """Quantise pose `p` to whole pixels and cached steps, and take its cached layers."""
    b = p.body
    s = sprites.scale
    lift = round(-1.6 * b.breath * s) / s  # whole device pixels: sprites blit, never resample
    tilt = max(-MAX_TILT, min(MAX_TILT, round((p.face.tilt + b.tilt) / TILT_STEP) * TILT_STEP))
    hx, hy = round(b.head_dx * s) / s, round((b.head_dy + p.face.nod) * s) / s
    behind, front = sprites.head(tilt)
    other = p.other
    if d.rest_other and other.hand == "rest":
        up, fore, hand = d.rest_other
        other = ArmPose(up + (other.upper - 14.0), fore, hand)
    arms = []
    for side, arm in ((-1, other), (1, p.near)):  # arms last: hands pass in front of the body
        hand = sprites.hands.hand(side, arm.hand, p.prop, arm.fore) if cached else None
        arms.append((side, arm, hand))
    return Placement(p, lift, tilt, (hx, hy), behind, front, tuple(arms))


def host_bounds(d: Design, pl: Placement, sprites: Sprites) -> skia.Rect:
    """Design coordinates `paint_host(pl)` may change (the face lies inside the head)."""
    hx, hy = pl.head
    rect = sprites.torso.covers.makeOffset(0, pl.lift)
    rect.join(pl.behind.covers.makeOffset(hx, hy))
    rect.join(pl.front.covers.makeOffset(hx, hy))
    for side, arm, hand in pl.arms:
        rect.join(arm_bounds(d, side, arm, pl.lift, hand))
    return rect


def paint_host(
    c: skia.Canvas, d: Design, pl: Placement, sprites: Sprites, cached: bool = True
) -> None:
    """Draw the host as placed by `place` (with the same `cached`)."""
    p = pl.pose
    hx, hy = pl.head
    # torso breathes: shoulders rise, chest widens a hair
    c.save()
    c.translate(0, pl.lift)
    blit(c, sprites.torso)
    c.restore()
    # head
    c.save()
    c.translate(hx, hy)
    blit(c, pl.behind)
    c.rotate(pl.tilt, *PIVOT)
    face = sprites.face if cached else None
    draw_features(c, d, p.face, p.mouth, p.closure, p.gaze, pl.tilt, face)
    c.restore()
    c.save()
    c.translate(hx, hy)
    blit(c, pl.front)
    c.restore()
    for side, arm, hand in pl.arms:
        draw_arm(c, d, side, arm, pl.lift, p.prop, None, hand)


def draw_host(c: skia.Canvas, d: Design, p: Pose, sprites: Sprites, cached: bool = True) -> None:
    """Draw the host in pose `p`; `cached=False` draws the hands and face features from
    their paths every time (the reference the cached parts are compared with)."""
    paint_host(c, d, place(d, p, sprites, cached), sprites, cached)
