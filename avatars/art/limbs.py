"""The host's arms and hands. The sleeves are drawn from their pose every frame (the arms
sway a little even at rest, so no two frames are alike); the hand, with the product or
clipboard it holds, is blitted from a bounded cache of hands already drawn at that angle."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np
import skia

from avatars.art import props
from avatars.art.design import Design, Sprite, blit
from avatars.art.kit import ellipse, fill, shade, stroke
from avatars.gestures import ArmPose

HAND_STEP = 1.0  # degrees: a cached hand's angle is rounded to this step
HAND_CACHE = 96  # hands kept per host and size (about 20-120 kB each)
HAND_REACH = 130  # design px around the wrist that a hand, its prop or clipboard may cover


class HandCache:
    """Rasterised hands keyed by (side, hand, prop, angle), least recently used dropped first."""

    def __init__(self, design: Design, scale: float, size: int = HAND_CACHE) -> None:
        self.design, self.scale, self.size = design, scale, size
        self._hands: OrderedDict[tuple, Sprite] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._hands)

    def hand(self, side: int, kind: str, prop: str | None, fore: float) -> Sprite:
        """The hand at the end of a forearm at `fore` degrees, wrist at the origin."""
        key = (side, kind, prop if kind == "hold" else None, round(fore / HAND_STEP) * HAND_STEP)
        with self._lock:
            hit = self._hands.get(key)
            if hit is not None:
                self._hands.move_to_end(key)
                self.hits += 1
                return hit
        made = self._draw(*key)
        with self._lock:
            self.misses += 1
            self._hands[key] = made
            while len(self._hands) > self.size:
                self._hands.popitem(last=False)
        return made

    def _draw(self, side: int, kind: str, prop: str | None, fore: float) -> Sprite:
        d, s = self.design, self.scale
        n = int(2 * HAND_REACH * s) + 2
        img = np.zeros((n, n, 4), np.uint8)
        info = skia.ImageInfo.Make(
            n, n, skia.ColorType.kBGRA_8888_ColorType, skia.AlphaType.kPremul_AlphaType
        )
        surface = skia.Surface.MakeRasterDirect(info, img, img.strides[0])
        c = surface.getCanvas()
        origin = math.floor(HAND_REACH * s)  # the wrist on a whole device pixel
        c.translate(origin, origin)
        c.scale(s, s)
        draw_hand(c, d, side, kind, prop, *_dir(side, fore))
        surface.flushAndSubmit()
        alpha = img[:, :, 3]
        rows, cols = alpha.any(axis=1), alpha.any(axis=0)
        if not rows.any():  # nothing drawn: keep one transparent pixel
            rows[0] = cols[0] = True
        top, bottom = int(rows.argmax()), n - int(rows[::-1].argmax())
        left, right = int(cols.argmax()), n - int(cols[::-1].argmax())
        image = skia.Image.fromarray(
            np.ascontiguousarray(img[top:bottom, left:right]),
            colorType=skia.ColorType.kBGRA_8888_ColorType,
            alphaType=skia.kPremul_AlphaType,
        )
        x0, y0 = (left - origin) / s, (top - origin) / s
        return Sprite(
            image, skia.Rect.MakeLTRB(x0, y0, x0 + (right - left) / s, y0 + (bottom - top) / s)
        )


def _dir(side: int, deg: float) -> tuple[float, float]:
    a = math.radians(deg)
    return side * math.sin(a), math.cos(a)


def _joints(d: Design, side: int, arm: ArmPose, lift: float):
    """Shoulder, elbow and wrist points, and the upper arm's and forearm's directions."""
    sx, sy = side * d.shoulder_x, d.shoulder_y + lift
    ux, uy = _dir(side, arm.upper)
    ex, ey = sx + ux * d.upper_len, sy + uy * d.upper_len
    fx, fy = _dir(side, arm.fore)
    wx, wy = ex + fx * d.fore_len, ey + fy * d.fore_len
    return (sx, sy), (ex, ey), (wx, wy), (ux, uy), (fx, fy)


def arm_bounds(
    d: Design,
    side: int,
    arm: ArmPose,
    lift: float,
    hand: Sprite | None = None,
) -> skia.Rect:
    """Design coordinates that `draw_arm` may paint (a little more) with `hand` at the
    wrist (None: a hand drawn from its paths, anywhere within HAND_REACH)."""
    (sx, sy), (ex, ey), (wx, wy), (ux, uy), (fx, fy) = _joints(d, side, arm, lift)
    reach = (d.arm_width + 6) / 2 + 2  # the widest stroke (the cuff's shade) and its AA
    xs = (sx, ex, wx, ex - ux * 16, ex + fx * 6)
    ys = (sy, ey, wy, ey - uy * 16, ey + fy * 6)
    rect = skia.Rect.MakeLTRB(min(xs) - reach, min(ys) - reach, max(xs) + reach, max(ys) + reach)
    if hand is None:
        covers = skia.Rect.MakeLTRB(-HAND_REACH, -HAND_REACH, HAND_REACH, HAND_REACH)
    else:
        covers = hand.covers
    rect.join(covers.makeOffset(wx, wy))
    return rect


_ARM_PAINTS: dict[tuple, tuple] = {}  # a design's sleeve and cuff paints, made once


def _arm_paints(d: Design) -> tuple[tuple[skia.Paint, ...], ...]:
    """(upper sleeve, forearm, cuff band) paints, each shade then colour; never mutated."""
    key = (d.id, d.sleeve_upper, d.sleeve_fore, d.cuff, d.arm_width)
    made = _ARM_PAINTS.get(key)
    if made is None:
        width = d.arm_width
        sleeves = tuple(
            (stroke(shade(color, 0.62), wdt + 5), stroke(color, wdt))
            for color, wdt in ((d.sleeve_upper, width), (d.sleeve_fore, width * 0.8))
        )
        cuff: tuple[skia.Paint, ...] = ()
        if d.cuff is not None:
            cuff = (stroke(shade(d.cuff, 0.7), width + 6), stroke(d.cuff, width + 1))
            for band in cuff:
                band.setStrokeCap(skia.Paint.kButt_Cap)
        made = _ARM_PAINTS[key] = (*sleeves, cuff)
    return made


def draw_arm(
    c: skia.Canvas,
    d: Design,
    side: int,
    arm: ArmPose,
    lift: float,
    prop: str | None,
    hands: HandCache | None = None,
    hand: Sprite | None = None,
) -> None:
    """One arm with its hand (and the product when it holds one), shoulder lifted by `lift`;
    with `hands`, the hand comes from that cache instead of being drawn (or is `hand`, when
    the caller has already taken it from there)."""
    (sx, sy), (ex, ey), (wx, wy), (ux, uy), (fx, fy) = _joints(d, side, arm, lift)
    upper, fore, cuff = _arm_paints(d)
    for (ax, ay, bx, by), paints in (((sx, sy, ex, ey), upper), ((ex, ey, wx, wy), fore)):
        seg = skia.Path()
        seg.moveTo(ax, ay)
        seg.lineTo(bx, by)
        for paint in paints:
            c.drawPath(seg, paint)
    if cuff:  # rolled sleeve or cuff band at the elbow
        seg = skia.Path()
        seg.moveTo(ex - ux * 16, ey - uy * 16)
        seg.lineTo(ex + fx * 6, ey + fy * 6)
        for paint in cuff:
            c.drawPath(seg, paint)
    if hand is None and hands is None:
        c.save()
        c.translate(wx, wy)
        draw_hand(c, d, side, arm.hand, prop, fx, fy)
        c.restore()
        return
    c.save()
    c.translate(wx, wy)
    blit(c, hand if hand is not None else hands.hand(side, arm.hand, prop, arm.fore))
    c.restore()


def draw_hand(
    c: skia.Canvas, d: Design, side: int, kind: str, prop: str | None, fx: float, fy: float
) -> None:
    """The hand (and what it holds) with the wrist at the origin, forearm along (fx, fy)."""
    if kind == "hold" and prop:  # the product sits upright on the raised palm
        props.draw(c, prop, fx * 30, fy * 30 - 34, 1.0)
    if kind == "clip" and "clipboard" in d.extras:
        c.save()
        c.translate(side * 18, -30)
        c.rotate(side * 8)
        c.drawPicture(d.extras["clipboard"])
        c.restore()
    angle = math.degrees(math.atan2(fy, fx)) - 90  # hand's +y along the forearm
    c.save()
    c.rotate(0 if kind in ("thumb", "clip") else angle)
    _hand(c, d, kind, side)
    c.restore()


def _hand(c: skia.Canvas, d: Design, kind: str, side: int) -> None:
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
