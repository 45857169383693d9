"""Parts every host is built from: a shaded face, ears, a neck, a nose."""

from __future__ import annotations

import skia

from avatars.art.kit import Color, argb, ellipse, fill, linear, radial, shade, stroke, svg


def face(c: skia.Canvas, outline: str, skin: Color, skin_shade: Color) -> None:
    path = svg(outline)
    c.drawPath(
        path, radial((-18, -25), 150, [argb(shade(skin, 1.12)), argb(skin), argb(skin_shade)])
    )
    c.drawPath(path, stroke(shade(skin_shade, 0.72), 3.0))


def ears(
    c: skia.Canvas,
    x: float,
    y: float,
    skin: Color,
    skin_shade: Color,
    rx: float = 15,
    ry: float = 23,
) -> None:
    for side in (-1, 1):
        ear = ellipse(side * x, y, rx, ry)
        c.drawPath(ear, fill(skin))
        c.drawPath(ear, stroke(shade(skin_shade, 0.72), 3.0))
        inner = skia.Path()
        inner.moveTo(side * (x - 2), y - ry * 0.55)
        inner.quadTo(side * (x + rx * 0.6), y - 2, side * (x - 2), y + ry * 0.5)
        c.drawPath(inner, stroke(skin_shade, 3.0))


def neck(
    c: skia.Canvas, half: float, top: float, bottom: float, skin: Color, skin_shade: Color
) -> None:
    path = svg(
        f"M {-half} {top} L {half} {top} C {half} {bottom - 30} {half + 6} {bottom - 10} {half + 14} {bottom}"
        f" L {-half - 14} {bottom} C {-half - 6} {bottom - 10} {-half} {bottom - 30} {-half} {top} Z"
    )
    c.drawPath(path, linear((0, top), (0, bottom), [skin_shade, skin]))
    c.drawPath(path, stroke(shade(skin_shade, 0.72), 2.5))
    # the chin's shadow on the neck
    c.drawPath(ellipse(0, top + 22, half + 2, 20), fill(shade(skin_shade, 0.85), 0.55))


def nose(c: skia.Canvas, skin_shade: Color, length: float = 1.0) -> None:
    bridge = skia.Path()
    bridge.moveTo(6, 2)
    bridge.quadTo(10, 18 * length, 9, 28 * length)
    c.drawPath(bridge, stroke(skin_shade, 2.4, 0.7))
    tip = skia.Path()
    tip.moveTo(-9, 30 * length)
    tip.quadTo(0, 38 * length, 10, 29 * length)
    c.drawPath(tip, stroke(shade(skin_shade, 0.8), 3.0))
    c.drawCircle(-2, 26 * length, 4, fill(0xFFFFFF, 0.35))


def drop_shadow(c: skia.Canvas, path: skia.Path, dx: float, dy: float, alpha: float = 0.22) -> None:
    """A cheap hard-edged offset shade (no blur, so it is free to replay every frame)."""
    c.save()
    c.translate(dx, dy)
    c.drawPath(path, fill(0x2A1A10, alpha))
    c.restore()


def buttons(c: skia.Canvas, x: float, ys: tuple[float, ...], color: Color) -> None:
    for y in ys:
        c.drawCircle(x, y, 4.5, fill(color))
        c.drawCircle(x, y, 4.5, stroke(shade(color, 0.6), 1.4))
