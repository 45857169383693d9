"""Draws a host (from its Design) in one pose: body, head, face features, arms and hands."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import skia

from avatars.art import props
from avatars.art.design import Design, Sprite, rasterise
from avatars.art.kit import argb, ellipse, fill, radial, shade, stroke
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
        self._heads: OrderedDict[float, tuple[Sprite, Sprite]] = OrderedDict()
        self._lock = threading.Lock()

    def head(self, tilt: float) -> tuple[Sprite, Sprite]:
        """(behind-the-features, in-front-of-the-features) layers rotated by `tilt`."""
        with self._lock:
            hit = self._heads.get(tilt)
            if hit is not None:
                self._heads.move_to_end(tilt)
                return hit
        d = self.design
        made = (
            rasterise([d.back, d.head], d.head_bounds, self.scale, tilt, PIVOT),
            rasterise([d.front], d.front_bounds, self.scale, tilt, PIVOT),
        )
        with self._lock:
            self._heads[tilt] = made
            while len(self._heads) > TILT_CACHE:
                self._heads.popitem(last=False)
        return made


def _sprite(c: skia.Canvas, s: Sprite) -> None:
    """Blit at a whole device pixel: skia's fast path (a filtered blit costs 10x more)."""
    pt = c.getTotalMatrix().mapXY(s.rect.left(), s.rect.top())
    c.save()
    c.resetMatrix()
    c.drawImage(s.image, round(pt.x()), round(pt.y()))
    c.restore()


def draw_host(c: skia.Canvas, d: Design, p: Pose, sprites: Sprites) -> None:
    b = p.body
    s = sprites.scale
    lift = round(-1.6 * b.breath * s) / s  # whole device pixels: sprites blit, never resample
    tilt = max(-MAX_TILT, min(MAX_TILT, round((p.face.tilt + b.tilt) / TILT_STEP) * TILT_STEP))
    hx, hy = round(b.head_dx * s) / s, round((b.head_dy + p.face.nod) * s) / s
    behind, front = sprites.head(tilt)
    # torso breathes: shoulders rise, chest widens a hair
    c.save()
    c.translate(0, lift)
    _sprite(c, sprites.torso)
    c.restore()
    # head
    c.save()
    c.translate(hx, hy)
    _sprite(c, behind)
    c.rotate(tilt, *PIVOT)
    _blush(c, d, p.face)
    _eyes(c, d, p)
    _brows(c, d, p.face)
    _mouth(c, d, p.face, p.mouth)
    c.restore()
    c.save()
    c.translate(hx, hy)
    _sprite(c, front)
    c.restore()
    # arms last: hands pass in front of the body
    other = p.other
    if d.rest_other and other.hand == "rest":
        up, fore, hand = d.rest_other
        other = ArmPose(up + (other.upper - 14.0), fore, hand)
    _arm(c, d, -1, other, lift, p)
    _arm(c, d, 1, p.near, lift, p)


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


# --- arms and hands ------------------------------------------------------------------------


def _dir(side: int, deg: float) -> tuple[float, float]:
    a = math.radians(deg)
    return side * math.sin(a), math.cos(a)


def _arm(c: skia.Canvas, d: Design, side: int, arm: ArmPose, lift: float, p: Pose) -> None:
    sx, sy = side * d.shoulder_x, d.shoulder_y + lift
    ux, uy = _dir(side, arm.upper)
    ex, ey = sx + ux * d.upper_len, sy + uy * d.upper_len
    fx, fy = _dir(side, arm.fore)
    wx, wy = ex + fx * d.fore_len, ey + fy * d.fore_len
    width = d.arm_width
    for (ax, ay, bx, by), color, wdt in (
        ((sx, sy, ex, ey), d.sleeve_upper, width),
        ((ex, ey, wx, wy), d.sleeve_fore, width * 0.8),
    ):
        seg = skia.Path()
        seg.moveTo(ax, ay)
        seg.lineTo(bx, by)
        c.drawPath(seg, stroke(shade(color, 0.62), wdt + 5))
        c.drawPath(seg, stroke(color, wdt))
    if d.cuff is not None:  # rolled sleeve or cuff band at the elbow
        seg = skia.Path()
        seg.moveTo(ex - ux * 16, ey - uy * 16)
        seg.lineTo(ex + fx * 6, ey + fy * 6)
        band = stroke(shade(d.cuff, 0.7), width + 6)
        band.setStrokeCap(skia.Paint.kButt_Cap)
        c.drawPath(seg, band)
        band = stroke(d.cuff, width + 1)
        band.setStrokeCap(skia.Paint.kButt_Cap)
        c.drawPath(seg, band)
    if arm.hand == "hold" and p.prop:  # the product sits upright on the raised palm
        props.draw(c, p.prop, wx + fx * 30, wy + fy * 30 - 34, 1.0)
    if arm.hand == "clip" and "clipboard" in d.extras:
        c.save()
        c.translate(wx + side * 18, wy - 30)
        c.rotate(side * 8)
        c.drawPicture(d.extras["clipboard"])
        c.restore()
    angle = math.degrees(math.atan2(fy, fx)) - 90  # hand's +y along the forearm
    c.save()
    c.translate(wx, wy)
    c.rotate(0 if arm.hand in ("thumb", "clip") else angle)
    _hand(c, d, arm.hand, side, p)
    c.restore()


def _hand(c: skia.Canvas, d: Design, kind: str, side: int, p: Pose) -> None:
    skin, ink = fill(d.skin), stroke(shade(d.skin_shade, 0.75), 2.4)

    def blob(path: skia.Path) -> None:
        c.drawPath(path, skin)
        c.drawPath(path, ink)

    def finger(x0: float, y0: float, x1: float, y1: float, wdt: float = 9.5) -> None:
        seg = skia.Path()
        seg.moveTo(x0, y0)
        seg.lineTo(x1, y1)
        c.drawPath(seg, stroke(shade(d.skin_shade, 0.75), wdt + 4.6))
        c.drawPath(seg, stroke(d.skin, wdt))

    if kind == "open":
        for i, a in enumerate((-24, -8, 8, 24)):
            r = math.radians(a)
            ln = (30, 34, 33, 27)[i]
            finger(math.sin(r) * 8, 16, math.sin(r) * ln, 14 + math.cos(r) * ln)
        finger(-side * 10, 8, -side * 26, 20)
        blob(ellipse(0, 12, 15, 15))
    elif kind == "point":
        blob(ellipse(0, 12, 14, 13))
        finger(2, 16, 3, 50, 9)
        finger(-side * 9, 8, -side * 16, 22, 8)
    elif kind == "thumb":
        blob(
            skia.Path().addRRect(skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(-15, -14, 15, 14), 9, 9))
        )
        for k in range(3):
            line = skia.Path()
            line.moveTo(side * 4 - 11, -6 + k * 7)
            line.lineTo(side * 4 + 11, -6 + k * 7)
            c.drawPath(line, stroke(shade(d.skin_shade, 0.8), 1.6))
        finger(side * 6, -10, side * 6, -36, 10)
    elif kind == "hold":
        blob(ellipse(0, 8, 16, 13))
        finger(-side * 12, 6, -side * 16, 26, 9)
    elif kind == "clip":
        blob(ellipse(0, 0, 15, 13))
        for k in range(3):
            finger(side * 10, -8 + k * 8, side * 22, -6 + k * 8, 7.5)
    else:  # relaxed hand resting on the counter
        blob(ellipse(0, 10, 16, 14))
        finger(-side * 10, 8, -side * 14, 20, 8.5)
