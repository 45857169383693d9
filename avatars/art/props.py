"""Product illustrations, one per catalogue category, drawn around a centre point."""

from __future__ import annotations

import functools

import skia

from avatars.art.design import record
from avatars.art.kit import argb, ellipse, fill, linear, radial, stroke, svg


def _shine(c: skia.Canvas, x: float, y: float, r: float) -> None:
    c.drawPath(ellipse(x - r * 0.35, y - r * 0.4, r * 0.28, r * 0.16), fill(0xFFFFFF, 0.55))


def _bowl(c: skia.Canvas) -> None:
    """A woven basket the round products sit in."""
    body = svg("M -52 0 L 52 0 C 48 30 30 44 0 44 C -30 44 -48 30 -52 0 Z")
    c.drawPath(body, linear((0, 0), (0, 44), [0xC8924E, 0x8C5A2A]))
    for y in (10, 22, 33):
        c.drawPath(svg(f"M -46 {y} Q 0 {y + 8} 46 {y}"), stroke(0x6E4420, 2, 0.8))
    c.drawPath(body, stroke(0x5C3818, 2.5))
    c.drawPath(ellipse(0, 0, 54, 9), stroke(0x5C3818, 4))


def _pile(c: skia.Canvas, draw_one, spots) -> None:
    for x, y, r in spots:
        draw_one(c, x, y, r)
    _bowl(c)


def _jujube(c: skia.Canvas, x: float, y: float, r: float) -> None:
    p = ellipse(x, y, r * 0.8, r)
    c.drawPath(
        p,
        radial(
            (x - r * 0.3, y - r * 0.3), r * 1.4, [argb(0xD8443A), argb(0xA4221C), argb(0x6A1410)]
        ),
    )
    c.drawPath(p, stroke(0x501008, 1.8))
    _shine(c, x, y, r)


def _walnut(c: skia.Canvas, x: float, y: float, r: float) -> None:
    p = ellipse(x, y, r, r * 0.92)
    c.drawPath(
        p,
        radial(
            (x - r * 0.3, y - r * 0.3), r * 1.4, [argb(0xD9B07A), argb(0xB0834C), argb(0x7A5428)]
        ),
    )
    c.drawPath(p, stroke(0x5A3C1C, 2))
    for k in (-0.5, 0, 0.5):
        c.drawPath(
            svg(f"M {x + k * r} {y - r * 0.8} q {r * 0.3} {r * 0.8} 0 {r * 1.6}"),
            stroke(0x7A5428, 1.6),
        )


def _chestnut(c: skia.Canvas, x: float, y: float, r: float) -> None:
    p = svg(
        f"M {x} {y - r} C {x + r} {y - r * 0.6} {x + r * 1.1} {y + r * 0.8} {x} {y + r * 0.8}"
        f" C {x - r * 1.1} {y + r * 0.8} {x - r} {y - r * 0.6} {x} {y - r} Z"
    )
    c.drawPath(
        p,
        radial(
            (x - r * 0.3, y - r * 0.3), r * 1.5, [argb(0x9A4E24), argb(0x6E3214), argb(0x3E1A08)]
        ),
    )
    c.drawPath(ellipse(x, y + r * 0.55, r * 0.8, r * 0.3), fill(0xD8B888))
    c.drawPath(p, stroke(0x301404, 1.8))
    _shine(c, x, y, r)


def _apple(c: skia.Canvas, x: float, y: float, r: float) -> None:
    p = svg(
        f"M {x} {y - r * 0.7} C {x + r * 0.6} {y - r * 1.1} {x + r * 1.15} {y - r * 0.5} {x + r} {y + r * 0.2}"
        f" C {x + r * 0.9} {y + r} {x + r * 0.3} {y + r * 1.05} {x} {y + r * 0.9}"
        f" C {x - r * 0.3} {y + r * 1.05} {x - r * 0.9} {y + r} {x - r} {y + r * 0.2}"
        f" C {x - r * 1.15} {y - r * 0.5} {x - r * 0.6} {y - r * 1.1} {x} {y - r * 0.7} Z"
    )
    c.drawPath(
        p,
        radial(
            (x - r * 0.35, y - r * 0.3), r * 1.6, [argb(0xF2604A), argb(0xD22A26), argb(0x8A1414)]
        ),
    )
    c.drawPath(p, stroke(0x6A1010, 2))
    c.drawPath(
        svg(f"M {x} {y - r * 0.65} q 2 {-r * 0.4} {r * 0.1} {-r * 0.55}"), stroke(0x5A3A1A, 3)
    )
    c.drawPath(
        svg(
            f"M {x + 3} {y - r * 0.9} q {r * 0.5} {-r * 0.5} {r * 0.8} {-r * 0.1} q {-r * 0.4} {r * 0.3} {-r * 0.8} {r * 0.1} Z"
        ),
        fill(0x5C9E3A),
    )
    _shine(c, x, y, r)


def _honey(c: skia.Canvas) -> None:
    jar = svg(
        "M -34 -38 L 34 -38 C 44 -30 46 -20 46 -6 L 46 40 C 46 50 38 56 28 56 L -28 56 C -38 56 -46 50 -46 40 L -46 -6 C -46 -20 -44 -30 -34 -38 Z"
    )
    c.drawPath(jar, linear((-46, 0), (46, 0), [0xF6B73C, 0xE0901A, 0xB0640C]))
    c.drawPath(jar, stroke(0x7A4408, 2.5))
    c.drawRect(skia.Rect.MakeLTRB(-34, -54, 34, -36), fill(0xC8452E))
    c.drawRect(skia.Rect.MakeLTRB(-34, -54, 34, -36), stroke(0x7A2A1A, 2))
    label = skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(-32, -4, 32, 36), 6, 6)
    c.drawRRect(label, fill(0xFFF6DA))
    c.drawRRect(label, stroke(0x9A6A20, 1.5))
    hexa = svg("M 0 2 L 12 9 L 12 23 L 0 30 L -12 23 L -12 9 Z")
    c.drawPath(hexa, fill(0xF0A020))
    c.drawPath(svg("M -36 -24 Q -40 10 -36 44"), stroke(0xFFFFFF, 5, 0.45))


def _millet(c: skia.Canvas) -> None:
    sack = svg(
        "M -44 -30 C -52 0 -54 40 -42 56 L 42 56 C 54 40 52 0 44 -30 C 20 -22 -20 -22 -44 -30 Z"
    )
    c.drawPath(sack, linear((-50, 0), (50, 0), [0xE8D7B0, 0xD0BA8A, 0xA8925E]))
    c.drawPath(sack, stroke(0x7A6438, 2.5))
    c.drawPath(ellipse(0, -28, 44, 12), fill(0xF2C230))
    for i in range(14):
        c.drawCircle(-34 + (i * 37) % 68, -30 + (i * 13) % 8, 3, fill(0xFFD84A))
    c.drawPath(svg("M -38 -18 Q 0 -8 38 -18"), stroke(0x8A3A2A, 4))
    c.drawPath(svg("M -22 10 L 22 10 L 22 38 L -22 38 Z"), fill(0xC8372E))


def _mushroom(c: skia.Canvas, x: float, y: float, r: float) -> None:
    c.drawPath(
        svg(
            f"M {x - r * 0.3} {y} L {x + r * 0.3} {y} L {x + r * 0.25} {y + r * 0.9} L {x - r * 0.25} {y + r * 0.9} Z"
        ),
        fill(0xF0E4CC),
    )
    cap = svg(
        f"M {x - r} {y + r * 0.1} C {x - r} {y - r * 0.9} {x + r} {y - r * 0.9} {x + r} {y + r * 0.1} Q {x} {y + r * 0.35} {x - r} {y + r * 0.1} Z"
    )
    c.drawPath(
        cap,
        radial(
            (x - r * 0.2, y - r * 0.4), r * 1.4, [argb(0xA0663A), argb(0x7A4322), argb(0x4A2410)]
        ),
    )
    c.drawPath(cap, stroke(0x3A1A08, 1.8))
    for dx, dy in ((-0.4, -0.3), (0.2, -0.45), (0.45, -0.1), (-0.1, -0.05)):
        c.drawPath(
            svg(f"M {x + dx * r} {y + dy * r} l {r * 0.15} {r * 0.08} l {r * 0.1} {-r * 0.1}"),
            stroke(0xF2E8D4, 1.8),
        )


def _icon(category: str) -> skia.Picture:
    def paint(c: skia.Canvas) -> None:
        if category == "jujube":
            _pile(
                c,
                _jujube,
                ((-26, -4, 15), (2, -10, 16), (28, -4, 15), (-12, -18, 14), (16, -20, 14)),
            )
        elif category == "walnut":
            _pile(c, _walnut, ((-26, -4, 16), (4, -8, 17), (30, -4, 15), (-8, -22, 15)))
        elif category == "chestnut":
            _pile(
                c,
                _chestnut,
                ((-28, -2, 15), (0, -8, 16), (28, -2, 15), (-12, -20, 14), (16, -22, 14)),
            )
        elif category == "apple":
            _apple(c, 0, 0, 40)
        elif category == "honey":
            _honey(c)
        elif category == "millet":
            _millet(c)
        elif category == "mushroom":
            _mushroom(c, -16, 4, 30)
            _mushroom(c, 22, 14, 24)
        else:  # an unknown category: a gift box
            c.drawRect(skia.Rect.MakeLTRB(-40, -30, 40, 40), fill(0xD8443A))
            c.drawRect(skia.Rect.MakeLTRB(-6, -30, 6, 40), fill(0xF2C230))

    return record(paint, (-80, -80, 80, 80))


@functools.lru_cache(maxsize=16)
def picture(category: str) -> skia.Picture:
    return _icon(category)


def draw(c: skia.Canvas, category: str, x: float, y: float, scale: float = 1.0) -> None:
    """Draw the product of `category` centred on (x, y), about 110 px wide at scale 1."""
    c.save()
    c.translate(x, y)
    if scale != 1.0:
        c.scale(scale, scale)
    c.drawPicture(picture(category))
    c.restore()
