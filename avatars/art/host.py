"""Draws a host (from its Design) in one pose: body, head, face features, arms and hands."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import skia

from avatars.art.design import Design, Sprite, blit, rasterise
from avatars.art.kit import argb, ellipse, fill, radial, shade, stroke
from avatars.art.limbs import HandCache, draw_arm
from avatars.gestures import ArmPose
from avatars.motion import Body, Face, Mouth

PIVOT = (0.0, 120.0)  # the head tilts about the top of the neck
MOUTH_RGB = 0x681622  # BGR (34, 22, 104): the renderer's MOUTH_INTERIOR, nowhere else
SCLERA = 0xFCFAF6
INK = 0x3A2A26


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
    """A design's static layers rasterised at one output scale: the torso once (it only
    translates), the head's layers once per tilt step (rotating a bitmap costs more than
    replaying its paths; blitting a pre-rotated one costs almost nothing)."""

    def __init__(self, d: Design, scale: float) -> None:
        self.design, self.scale = d, scale
        self.torso = rasterise([d.torso], d.torso_bounds, scale)
        self.hands = HandCache(d, scale)
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


def draw_host(
    c: skia.Canvas, d: Design, p: Pose, sprites: Sprites, cached_hands: bool = True
) -> None:
    """Draw the host in pose `p`; `cached_hands=False` draws the hands' paths every time."""
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
    _blush(c, d, p.face)
    _eyes(c, d, p)
    _brows(c, d, p.face)
    _mouth(c, d, p.face, p.mouth)
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
    hands = sprites.hands if cached_hands else None
    draw_arm(c, d, -1, other, lift, p.prop, hands)
    draw_arm(c, d, 1, p.near, lift, p.prop, hands)


# --- face -------------------------------------------------------------------------------------


def _blush(c: skia.Canvas, d: Design, f: Face) -> None:
    a = max(0.0, min(1.0, f.blush))
    if a < 0.02:
        return
    for side in (-1, 1):
        x, y = side * (d.eye_x + 14), d.eye_y + 34
        c.drawPath(
            ellipse(x, y, 24, 14),
            radial((x, y), 24, [argb(d.blush_color, 0.55 * a), argb(d.blush_color, 0)]),
        )


def _eyes(c: skia.Canvas, d: Design, p: Pose) -> None:
    f = p.face
    openness = max(0.0, f.lid * (1 - p.closure))
    gx = max(-1.0, min(1.0, p.gaze[0] + f.gaze_x))
    gy = max(-1.0, min(1.0, p.gaze[1] + f.gaze_y))
    w, h = d.eye_w, d.eye_h
    lid_ink = shade(d.hair, 0.7)
    for side in (-1, 1):
        ex, ey = side * d.eye_x, d.eye_y
        top = ey - h * openness * 1.25
        bottom = ey + h * (0.75 - 0.55 * f.squint) * min(1.0, openness * 1.6)
        if openness < 0.14:  # closed: a soft lid line (a crescent when smiling)
            lid = skia.Path()
            lid.moveTo(ex - w, ey)
            curve = -6 * f.squint if f.smile > 0.4 else 3.0
            lid.quadTo(ex, ey + curve + 2, ex + w, ey)
            c.drawPath(lid, stroke(lid_ink, 3.4))
            continue
        eye = skia.Path()
        inner, outer = ex - side * w, ex + side * w
        eye.moveTo(inner, ey + 1)
        eye.cubicTo(inner + side * w * 0.4, top, outer - side * w * 0.5, top, outer, ey - 1)
        eye.cubicTo(outer - side * w * 0.3, bottom, inner + side * w * 0.4, bottom, inner, ey + 1)
        c.drawPath(eye, fill(SCLERA))
        c.save()
        c.clipPath(eye, doAntiAlias=True)
        ix, iy = ex + gx * w * 0.45, ey + gy * h * 0.45 + 1
        r = h * 0.78
        c.drawCircle(
            ix,
            iy,
            r,
            radial(
                (ix, iy + r * 0.3),
                r,
                [argb(shade(d.iris, 1.35)), argb(d.iris), argb(shade(d.iris, 0.5))],
            ),
        )
        c.drawCircle(ix, iy, r * 0.45, fill(0x120C0A))
        c.drawCircle(ix + r * 0.35, iy - r * 0.4, r * 0.28, fill(0xFFFFFF))
        c.drawCircle(ix - r * 0.35, iy + r * 0.35, r * 0.12, fill(0xFFFFFF, 0.8))
        # the upper lid casts a soft shadow on the eyeball
        c.drawRect(skia.Rect.MakeLTRB(ex - w, top - 4, ex + w, top + 2), fill(0x6B4A40, 0.18))
        c.restore()
        lid = skia.Path()
        lid.moveTo(inner - side * 1, ey + 1)
        lid.cubicTo(
            inner + side * w * 0.4, top, outer - side * w * 0.5, top, outer + side * 2, ey - 2
        )
        c.drawPath(lid, stroke(lid_ink, 3.6))
        if d.lashes:
            lash = skia.Path()
            lash.moveTo(outer, ey - 2)
            lash.lineTo(outer + side * 6, ey - 7)
            c.drawPath(lash, stroke(lid_ink, 2.6))
        low = skia.Path()
        low.moveTo(inner + side * 3, ey + 2)
        low.quadTo(ex, bottom + 1.5, outer - side * 3, ey + 1)
        c.drawPath(low, stroke(shade(d.skin_shade, 0.85), 1.6, 0.8))


def _brows(c: skia.Canvas, d: Design, f: Face) -> None:
    paint = stroke(d.brow, d.brow_width)
    for side in (-1, 1):
        base = d.brow_y - 7 * f.brow_raise
        inner_y = base - 9 * f.brow_worry + 6 * f.brow_frown
        outer_y = base + 5 * f.brow_worry + 1 * f.brow_frown
        if f.brow_frown and side > 0:  # thinking: one brow higher
            outer_y -= 6 * f.brow_frown
            inner_y -= 6 * f.brow_frown
        x_in, x_out = side * (d.eye_x - 20), side * (d.eye_x + 20)
        brow = skia.Path()
        brow.moveTo(x_in, inner_y)
        mid_y = min(inner_y, outer_y) - d.brow_arch * (1 - 0.6 * f.brow_worry)
        brow.quadTo(side * (d.eye_x + 2), mid_y, x_out, outer_y + 3)
        c.drawPath(brow, paint)


def _mouth(c: skia.Canvas, d: Design, f: Face, m: Mouth) -> None:
    y0 = d.mouth_y
    smile = max(-1.0, min(1.2, f.smile + d.smile_bias))
    w = d.mouth_w * m.width * (1 + 0.18 * max(0.0, smile))
    lift_l = -smile * 7 - d.smirk * 3
    lift_r = -smile * 7 + d.smirk * 3
    lip = d.lips
    if m.open > 0.02:
        h = 4 + 40 * m.open
        top = y0 - h * (0.35 + 0.15 * m.round)
        bottom = y0 + h * (0.65 - 0.1 * m.round)
        spread = 0.72 + 0.25 * m.round
        path = skia.Path()
        path.moveTo(-w, y0 + lift_l * 0.6)
        path.cubicTo(-w * spread, top, w * spread, top, w, y0 + lift_r * 0.6)
        path.cubicTo(w * spread, bottom, -w * spread, bottom, -w, y0 + lift_l * 0.6)
        path.close()
        c.drawPath(path, fill(MOUTH_RGB))
        c.save()
        c.clipPath(path, doAntiAlias=True)
        teeth = min(5.0, h * 0.2) * (1 - m.round)
        c.drawRect(skia.Rect.MakeLTRB(-w, top - 2, w, top + teeth), fill(0xF7F3EE))
        if h > 24:
            c.drawPath(ellipse(0, bottom + 3, w * 0.45, h * 0.2), fill(0xB8444E))
        c.restore()
        c.drawPath(path, stroke(lip, 3.2 + 1.5 * m.round))
        c.drawPath(ellipse(0, bottom + 4.5, w * 0.35, 2.2), fill(0xFFFFFF, 0.25))
        return
    # closed: a smile, a frown or pressed lips; a grin shows teeth (no mouth interior)
    k = -smile * 9
    if f.grin > 0.3 and smile > 0.5:
        g = 5 + 9 * min(1.0, f.grin)
        path = skia.Path()
        path.moveTo(-w - 2, y0 + lift_l)
        path.cubicTo(-w * 0.5, y0 - 3, w * 0.5, y0 - 3, w + 2, y0 + lift_r)
        path.cubicTo(w * 0.6, y0 + g + 6, -w * 0.6, y0 + g + 6, -w - 2, y0 + lift_l)
        path.close()
        c.drawPath(path, fill(0xF7F3EE))
        c.drawPath(path, stroke(lip, 3.0))
        seam = skia.Path()
        seam.moveTo(-w * 0.8, y0 + 2)
        seam.quadTo(0, y0 + 6, w * 0.8, y0 + 2)
        c.drawPath(seam, stroke(0xD9CFC4, 1.5))
        return
    path = skia.Path()
    path.moveTo(-w, y0 + lift_l)
    path.cubicTo(-w * 0.4, y0 + 2 - k * 0.2, w * 0.4, y0 + 2 - k * 0.2, w, y0 + lift_r)
    c.drawPath(path, stroke(shade(lip, 0.75), 3.4 + 1.6 * m.press))
    under = skia.Path()
    under.moveTo(-w * 0.35, y0 + 9 + m.press)
    under.quadTo(0, y0 + 12 + m.press, w * 0.35, y0 + 9 + m.press)
    c.drawPath(under, stroke(shade(d.skin_shade, 0.95), 2.2, 0.7))
