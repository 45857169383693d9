"""The host's face features: cheeks, eyes, brows and mouth, drawn in the head's tilted frame.

Each feature is either drawn from its paths (the reference) or blitted from a bounded cache
of parts rasterised per quantised pose. The steps keep every feature within a fraction of a
pixel of the path it replaces: half a step of a part's own rotation (0.75°) moves an eye's
corner 0.25 px and a wide mouth's 0.5 px.
An open mouth follows the speech envelope and is almost never the same twice, so it is
always drawn from its paths; a closed one (rest, pressed lips, a grin) is cached.
"""

from __future__ import annotations

from collections.abc import Callable

import skia

from avatars.art.design import Design
from avatars.art.kit import argb, ellipse, fill, radial, shade, stroke
from avatars.art.parts import PartCache, rasterise_part, stamp
from avatars.motion import Face, Mouth

MOUTH_RGB = 0x681622  # BGR (34, 22, 104): the renderer's MOUTH_INTERIOR, nowhere else
SCLERA = 0xFCFAF6

PART_TILT = 1.5  # degrees: a cached feature's own rotation (its place follows the head exactly)
LID_STEP = 0.04  # eye openness (0.3 px of the upper lid)
GAZE_STEP = 0.05  # gaze (0.4 px of the iris)
SHAPE_STEP = 0.05  # squint, blush, pressed lips
BROW_STEP = 0.25  # design px of a brow's ends and arch
SMILE_STEP = 0.02  # a closed mouth's smile (0.14 px at its corners)
WIDTH_STEP = 0.02  # a closed mouth's width multiplier (0.5 px)
# entries kept per host and size: a frame uses 2 cheeks, 2 eyes, 2 brows and 1 mouth
EYE_CACHE = 192  # about 3-6 kB each
BROW_CACHE = 96
CHEEK_CACHE = 64
MOUTH_CACHE = 64


def _q(x: float, step: float) -> int:
    return round(x / step)


class FaceParts:
    """Bounded caches of one host's face features at one output scale."""

    def __init__(self, d: Design, scale: float) -> None:
        self.design, self.scale = d, scale
        self.cheeks = PartCache(CHEEK_CACHE)
        self.eyes = PartCache(EYE_CACHE)
        self.brows = PartCache(BROW_CACHE)
        self.mouths = PartCache(MOUTH_CACHE)

    def put(
        self,
        c: skia.Canvas,
        cache: PartCache,
        key: tuple,
        tilt: float,
        anchor: tuple[float, float],
        bounds: tuple[float, float, float, float],
        draw: Callable[[skia.Canvas], None],
    ) -> None:
        """Blit the part of `key` at `anchor` (head coordinates), drawing it on a miss with
        `draw` (head coordinates) rotated by the part's own quantised tilt."""
        ax, ay = anchor

        def make():
            def local(pc: skia.Canvas) -> None:
                pc.translate(-ax, -ay)
                draw(pc)

            return rasterise_part(local, bounds, self.scale, tilt)

        stamp(c, cache.get((tilt, *key), make), ax, ay)


def draw_features(
    c: skia.Canvas,
    d: Design,
    f: Face,
    m: Mouth,
    closure: float,
    gaze: tuple[float, float],
    tilt: float,
    parts: FaceParts | None,
) -> None:
    """Cheeks, eyes, brows and mouth on a canvas already in the head's tilted frame; with
    `parts`, from its caches (`tilt` is the head's, for the parts' own rotation)."""
    t = round(tilt / PART_TILT) * PART_TILT
    blush = max(0.0, min(1.0, f.blush))
    if blush >= 0.02:
        for side in (-1, 1):
            x, y = side * (d.eye_x + 14), d.eye_y + 34
            if parts is None:
                cheek(c, d, x, y, blush)
                continue
            a = _q(blush, SHAPE_STEP / 2)  # both cheeks: one part, the same oval about it
            parts.put(
                c,
                parts.cheeks,
                (a,),
                t,
                (x, y),
                (-28, -18, 28, 18),
                lambda pc, x=x, y=y, a=a: cheek(pc, d, x, y, a * SHAPE_STEP / 2),
            )
    openness = max(0.0, f.lid * (1 - closure))
    gx = max(-1.0, min(1.0, gaze[0] + f.gaze_x))
    gy = max(-1.0, min(1.0, gaze[1] + f.gaze_y))
    crescent = f.smile > 0.4
    for side in (-1, 1):
        if parts is None:
            eye(c, d, side, openness, gx, gy, f.squint, crescent)
            continue
        if openness < 0.14:  # closed: only the lid's curve matters
            key = (side, 0, 0, 0, _q(f.squint, SHAPE_STEP) if crescent else 0, crescent)
        else:
            key = (side, _q(openness, LID_STEP), _q(gx, GAZE_STEP), _q(gy, GAZE_STEP))
            key += (_q(f.squint, SHAPE_STEP), False)
        w, h = d.eye_w, d.eye_h
        parts.put(
            c,
            parts.eyes,
            key,
            t,
            (side * d.eye_x, d.eye_y),
            (-w - 10, -1.6 * h - 8, w + 10, h + 8),
            lambda pc, k=key: eye(
                pc,
                d,
                k[0],
                k[1] * LID_STEP,
                k[2] * GAZE_STEP,
                k[3] * GAZE_STEP,
                k[4] * SHAPE_STEP,
                k[5],
            ),
        )
    for side in (-1, 1):
        inner_y, outer_y, mid_y = _brow_shape(d, f, side)
        if parts is None:
            brow(c, d, side, inner_y, outer_y, mid_y)
            continue
        key = (side, _q(inner_y, BROW_STEP), _q(outer_y, BROW_STEP), _q(mid_y, BROW_STEP))
        bw = d.brow_width
        parts.put(
            c,
            parts.brows,
            key,
            t,
            (side * (d.eye_x + 2), d.brow_y),
            (-28 - bw, -40 - bw, 28 + bw, 24 + bw),
            lambda pc, k=key: brow(
                pc, d, k[0], k[1] * BROW_STEP, k[2] * BROW_STEP, k[3] * BROW_STEP
            ),
        )
    smile = max(-1.0, min(1.2, f.smile + d.smile_bias))
    if parts is None or m.open > 0.02:
        mouth(c, d, smile, f.grin, m)
        return
    key = (_q(m.width, WIDTH_STEP), _q(smile, SMILE_STEP), _q(f.grin, SHAPE_STEP))
    key += (_q(m.press, SHAPE_STEP),)
    reach = 1.6 * d.mouth_w + 10
    parts.put(
        c,
        parts.mouths,
        key,
        t,
        (0.0, d.mouth_y),
        (-reach, -24, reach, 34),
        lambda pc, k=key: mouth(
            pc,
            d,
            k[1] * SMILE_STEP,
            k[2] * SHAPE_STEP,
            Mouth(k[0] * WIDTH_STEP, 0.0, 0.0, k[3] * SHAPE_STEP),
        ),
    )


def cheek(c: skia.Canvas, d: Design, x: float, y: float, a: float) -> None:
    c.drawPath(
        ellipse(x, y, 24, 14),
        radial((x, y), 24, [argb(d.blush_color, 0.55 * a), argb(d.blush_color, 0)]),
    )


def eye(
    c: skia.Canvas,
    d: Design,
    side: int,
    openness: float,
    gx: float,
    gy: float,
    squint: float,
    crescent: bool,
) -> None:
    """One eye open by `openness` (under 0.14: closed, a crescent when `crescent`)."""
    w, h = d.eye_w, d.eye_h
    lid_ink = shade(d.hair, 0.7)
    ex, ey = side * d.eye_x, d.eye_y
    top = ey - h * openness * 1.25
    bottom = ey + h * (0.75 - 0.55 * squint) * min(1.0, openness * 1.6)
    if openness < 0.14:  # closed: a soft lid line (a crescent when smiling)
        lid = skia.Path()
        lid.moveTo(ex - w, ey)
        curve = -6 * squint if crescent else 3.0
        lid.quadTo(ex, ey + curve + 2, ex + w, ey)
        c.drawPath(lid, stroke(lid_ink, 3.4))
        return
    ball = skia.Path()
    inner, outer = ex - side * w, ex + side * w
    ball.moveTo(inner, ey + 1)
    ball.cubicTo(inner + side * w * 0.4, top, outer - side * w * 0.5, top, outer, ey - 1)
    ball.cubicTo(outer - side * w * 0.3, bottom, inner + side * w * 0.4, bottom, inner, ey + 1)
    c.drawPath(ball, fill(SCLERA))
    c.save()
    c.clipPath(ball, doAntiAlias=True)
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
    lid.cubicTo(inner + side * w * 0.4, top, outer - side * w * 0.5, top, outer + side * 2, ey - 2)
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


def _brow_shape(d: Design, f: Face, side: int) -> tuple[float, float, float]:
    """A brow's inner end, outer end and arch heights for expression `f`."""
    base = d.brow_y - 7 * f.brow_raise
    inner_y = base - 9 * f.brow_worry + 6 * f.brow_frown
    outer_y = base + 5 * f.brow_worry + 1 * f.brow_frown
    if f.brow_frown and side > 0:  # thinking: one brow higher
        outer_y -= 6 * f.brow_frown
        inner_y -= 6 * f.brow_frown
    mid_y = min(inner_y, outer_y) - d.brow_arch * (1 - 0.6 * f.brow_worry)
    return inner_y, outer_y, mid_y


def brow(
    c: skia.Canvas, d: Design, side: int, inner_y: float, outer_y: float, mid_y: float
) -> None:
    x_in, x_out = side * (d.eye_x - 20), side * (d.eye_x + 20)
    path = skia.Path()
    path.moveTo(x_in, inner_y)
    path.quadTo(side * (d.eye_x + 2), mid_y, x_out, outer_y + 3)
    c.drawPath(path, stroke(d.brow, d.brow_width))


def mouth(c: skia.Canvas, d: Design, smile: float, grin: float, m: Mouth) -> None:
    """The mouth in shape `m`; `smile` includes the host's own bias, clamped."""
    y0 = d.mouth_y
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
    if grin > 0.3 and smile > 0.5:
        g = 5 + 9 * min(1.0, grin)
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
