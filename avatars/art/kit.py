"""Small drawing kit over skia: SVG path data, colours, fills with outlines and gradients."""

from __future__ import annotations

import functools
import re

import skia

Color = int  # 0xRRGGBB

_TOKEN = re.compile(r"[MmLlHhVvCcQqSsZz]|-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?")


def argb(rgb: Color, alpha: float = 1.0) -> int:
    return (int(max(0.0, min(1.0, alpha)) * 255) << 24) | (rgb & 0xFFFFFF)


def shade(rgb: Color, k: float) -> Color:
    """Darken (k < 1) or lighten towards white (k > 1) an 0xRRGGBB colour."""
    out = 0
    for shift in (16, 8, 0):
        c = (rgb >> shift) & 0xFF
        c = c * k if k <= 1 else c + (255 - c) * (k - 1)
        out |= int(max(0, min(255, c))) << shift
    return out


def mix(a: Color, b: Color, t: float) -> Color:
    out = 0
    for shift in (16, 8, 0):
        ca, cb = (a >> shift) & 0xFF, (b >> shift) & 0xFF
        out |= int(ca + (cb - ca) * t) << shift
    return out


@functools.lru_cache(maxsize=512)
def svg(d: str) -> skia.Path:
    """Parse SVG path data (M L H V C Q S Z, absolute and relative) into a skia.Path."""
    path = skia.Path()
    toks = _TOKEN.findall(d)
    i, cmd = 0, "M"
    x = y = sx = sy = 0.0
    last_c: tuple[float, float] | None = None

    def nums(n: int) -> list[float]:
        nonlocal i
        vals = [float(v) for v in toks[i : i + n]]
        i += n
        return vals

    while i < len(toks):
        if toks[i].isalpha():
            cmd = toks[i]
            i += 1
            if cmd in "Zz":
                path.close()
                x, y = sx, sy
                continue
        rel = cmd.islower()
        ox, oy = (x, y) if rel else (0.0, 0.0)
        c = cmd.upper()
        if c == "M":
            x, y = (a + b for a, b in zip(nums(2), (ox, oy), strict=False))
            path.moveTo(x, y)
            sx, sy = x, y
            cmd = "l" if rel else "L"
            last_c = None
        elif c == "L":
            x, y = (a + b for a, b in zip(nums(2), (ox, oy), strict=False))
            path.lineTo(x, y)
            last_c = None
        elif c == "H":
            x = nums(1)[0] + ox
            path.lineTo(x, y)
        elif c == "V":
            y = nums(1)[0] + oy
            path.lineTo(x, y)
        elif c == "C":
            x1, y1, x2, y2, x3, y3 = nums(6)
            pts = (x1 + ox, y1 + oy, x2 + ox, y2 + oy, x3 + ox, y3 + oy)
            path.cubicTo(*pts)
            last_c, (x, y) = (pts[2], pts[3]), (pts[4], pts[5])
        elif c == "S":
            x2, y2, x3, y3 = nums(4)
            x1, y1 = (2 * x - last_c[0], 2 * y - last_c[1]) if last_c else (x, y)
            pts = (x1, y1, x2 + ox, y2 + oy, x3 + ox, y3 + oy)
            path.cubicTo(*pts)
            last_c, (x, y) = (pts[2], pts[3]), (pts[4], pts[5])
        elif c == "Q":
            x1, y1, x2, y2 = nums(4)
            path.quadTo(x1 + ox, y1 + oy, x2 + ox, y2 + oy)
            x, y = x2 + ox, y2 + oy
            last_c = None
    return path


def mirror(d: str) -> skia.Path:
    """The path of `d` reflected about x = 0 (artwork is drawn around the body's midline)."""
    p = skia.Path(svg(d))
    p.transform(skia.Matrix.Scale(-1, 1))
    return p


def fill(rgb: Color, alpha: float = 1.0) -> skia.Paint:
    return skia.Paint(AntiAlias=True, Color=argb(rgb, alpha))


def stroke(rgb: Color, width: float, alpha: float = 1.0) -> skia.Paint:
    return skia.Paint(
        AntiAlias=True,
        Color=argb(rgb, alpha),
        Style=skia.Paint.kStroke_Style,
        StrokeWidth=width,
        StrokeCap=skia.Paint.kRound_Cap,
        StrokeJoin=skia.Paint.kRound_Join,
    )


def linear(p0: tuple[float, float], p1: tuple[float, float], colors: list[Color]) -> skia.Paint:
    shader = skia.GradientShader.MakeLinear(
        [skia.Point(*p0), skia.Point(*p1)], [argb(c) for c in colors]
    )
    return skia.Paint(AntiAlias=True, Shader=shader)


def radial(c: tuple[float, float], r: float, colors: list[int]) -> skia.Paint:
    """Radial gradient; `colors` are ARGB ints (use argb() for transparency)."""
    shader = skia.GradientShader.MakeRadial(skia.Point(*c), r, colors)
    return skia.Paint(AntiAlias=True, Shader=shader)


def soft(rgb: Color, alpha: float, sigma: float) -> skia.Paint:
    """A blurred fill for soft shadows and glows (costly: use on cached layers)."""
    p = fill(rgb, alpha)
    p.setMaskFilter(skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, sigma))
    return p


def inked(
    canvas: skia.Canvas, path: skia.Path, body: skia.Paint, ink: Color, width: float = 3.0
) -> None:
    """Fill `path` and outline it with a darker line of its own colour (illustration style)."""
    canvas.drawPath(path, body)
    canvas.drawPath(path, stroke(ink, width))


def ellipse(cx: float, cy: float, rx: float, ry: float) -> skia.Path:
    p = skia.Path()
    p.addOval(skia.Rect.MakeLTRB(cx - rx, cy - ry, cx + rx, cy + ry))
    return p
