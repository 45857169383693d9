"""Draws a host (from its Design) in one pose: body, head, face features, arms and hands."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import skia

from avatars.art.design import Design, Sprite, blit, rasterise
from avatars.art.face import FaceParts, draw_features
from avatars.art.limbs import HandCache, draw_arm
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


def draw_host(c: skia.Canvas, d: Design, p: Pose, sprites: Sprites, cached: bool = True) -> None:
    """Draw the host in pose `p`; `cached=False` draws the hands and face features from
    their paths every time (the reference the cached parts are compared with)."""
    b = p.body
    s = sprites.scale
    lift = round(-1.6 * b.breath * s) / s  # whole device pixels: sprites blit, never resample
    tilt = max(-MAX_TILT, min(MAX_TILT, round((p.face.tilt + b.tilt) / TILT_STEP) * TILT_STEP))
    hx, hy = round(b.head_dx * s) / s, round((b.head_dy + p.face.nod) * s) / s
    behind, front = sprites.head(tilt)
    # torso breathes: shoulders rise, chest widens a hair
    c.save()
    c.translate(0, lift)
    blit(c, sprites.torso)
    c.restore()
    # head
    c.save()
    c.translate(hx, hy)
    blit(c, behind)
    c.rotate(tilt, *PIVOT)
    face = sprites.face if cached else None
    draw_features(c, d, p.face, p.mouth, p.closure, p.gaze, tilt, face)
    c.restore()
    c.save()
    c.translate(hx, hy)
    blit(c, front)
    c.restore()
    # arms last: hands pass in front of the body
    other = p.other
    if d.rest_other and other.hand == "rest":
        up, fore, hand = d.rest_other
        other = ArmPose(up + (other.upper - 14.0), fore, hand)
    hands = sprites.hands if cached else None
    draw_arm(c, d, -1, other, lift, p.prop, hands)
    draw_arm(c, d, 1, p.near, lift, p.prop, hands)
