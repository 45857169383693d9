"""Each host's backdrop, drawn once per room: 小王's vegetable plot, 小李's orchard and
小张's field station, with Taihang hills behind and a counter in front."""

from __future__ import annotations

import math

import skia

from avatars.art.kit import argb, ellipse, fill, linear, radial, shade, soft, stroke, svg


def _rng(seed: int):
    state = seed

    def nxt() -> float:
        nonlocal state
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        return state / 0x7FFFFFFF

    return nxt


def _sky(c: skia.Canvas, w: int, h: int, top: int, bottom: int, sun: tuple[float, float]) -> None:
    c.drawRect(skia.Rect.MakeWH(w, h), linear((0, 0), (0, h * 0.6), [top, bottom]))
    c.drawCircle(*sun, 260, radial(sun, 260, [argb(0xFFF4C8, 0.85), argb(0xFFF4C8, 0)]))
    c.drawCircle(*sun, 46, fill(0xFFF8E0))
    r = _rng(7)
    for _ in range(4):  # soft clouds
        x, y = r() * w, 60 + r() * h * 0.18
        for k in range(4):
            c.drawPath(ellipse(x + k * 34, y + (k % 2) * 6, 46, 22), fill(0xFFFFFF, 0.55))


def _hills(c: skia.Canvas, w: int, base: float, colors: tuple[int, int]) -> None:
    for i, color in enumerate(colors):
        y = base - 110 + i * 55
        p = skia.Path()
        p.moveTo(0, y + 40)
        r = _rng(11 + i)
        x = 0.0
        while x < w:
            nx = x + 140 + r() * 140
            p.quadTo((x + nx) / 2, y - 40 - r() * 70, nx, y + r() * 30)
            x = nx
        p.lineTo(w, base + 400)
        p.lineTo(0, base + 400)
        p.close()
        c.drawPath(p, fill(color))


def _ground(c: skia.Canvas, w: int, h: int, y: float, near: int, far: int) -> None:
    c.drawRect(skia.Rect.MakeLTRB(0, y, w, h), linear((0, y), (0, h), [far, near]))


def _vegetable_plot(c: skia.Canvas, w: int, h: int, horizon: float, table: float) -> None:
    _ground(c, w, h, horizon, 0x6B4A2E, 0x8E6A44)
    vx = w * 0.5
    for i in range(-12, 13):  # furrows converging on the horizon
        c.drawPath(
            svg(f"M {vx + i * 30} {horizon} L {vx + i * 260} {table}"), stroke(0x5A3C22, 5, 0.6)
        )
    r = _rng(3)
    for row in range(6):
        t = (row + 1) / 7
        y = horizon + (table - horizon) * t * t
        size = 8 + 40 * t * t
        for k in range(-14, 15):
            x = vx + k * (30 + 230 * t * t) + (r() - 0.5) * 6
            if -size < x < w + size:
                c.drawPath(ellipse(x, y, size, size * 0.7), fill(0x4E8F3A))
                c.drawPath(
                    ellipse(x - size * 0.2, y - size * 0.2, size * 0.6, size * 0.42), fill(0x8CC46A)
                )
                c.drawPath(
                    ellipse(x + size * 0.3, y - size * 0.1, size * 0.3, size * 0.25), fill(0xB8DE8A)
                )
    # bamboo trellis with climbing beans on one side
    for k in range(5):
        x = 40 + k * 60
        c.drawPath(svg(f"M {x} {horizon + 90} L {x + 20} {horizon - 90}"), stroke(0xC9A26A, 6))
        for j in range(6):
            c.drawCircle(x + 4 + j * 3, horizon + 60 - j * 26, 9, fill(0x3F8A36, 0.9))
    c.drawPath(svg(f"M 20 {horizon - 40} L {w * 0.28} {horizon - 60}"), stroke(0xC9A26A, 5))


def _orchard(c: skia.Canvas, w: int, h: int, horizon: float, table: float) -> None:
    _ground(c, w, h, horizon, 0x6FA046, 0x9CC266)
    r = _rng(5)
    for row, (scale, y) in enumerate(
        ((0.55, horizon + 10), (0.8, horizon + 60), (1.2, horizon + 150))
    ):
        step = 170 * scale
        x = -40 + (row % 2) * step / 2
        while x < w + 80:
            trunk = svg(
                f"M {x - 6 * scale} {y} L {x - 9 * scale} {y - 70 * scale} L {x + 9 * scale} {y - 70 * scale} L {x + 6 * scale} {y} Z"
            )
            c.drawPath(trunk, fill(0x6A4A30))
            c.drawPath(ellipse(x, y + 2, 50 * scale, 10 * scale), fill(0x3E6A2A, 0.35))
            for dx, dy, rr in ((-34, -96, 46), (30, -100, 48), (0, -130, 54), (-10, -86, 40)):
                c.drawCircle(
                    x + dx * scale,
                    y + dy * scale,
                    rr * scale,
                    fill(shade(0x4F9A3E, 0.85 + 0.3 * r())),
                )
            c.drawCircle(x - 14 * scale, y - 136 * scale, 28 * scale, fill(0x7DBE5A, 0.8))
            for _ in range(7):  # ripe fruit
                fx = x + (r() - 0.5) * 120 * scale
                fy = y - 80 * scale - r() * 80 * scale
                c.drawCircle(fx, fy, 7 * scale, fill(0xD8352A))
                c.drawCircle(fx - 2 * scale, fy - 2 * scale, 2.5 * scale, fill(0xFFB0A0))
            x += step + r() * 30
    # a basket of picked fruit on the grass
    bx, by = w * 0.93, table - 40
    c.drawPath(ellipse(bx, by - 20, 60, 18), fill(0xB0302A))
    c.drawPath(
        svg(
            f"M {bx - 62} {by - 24} L {bx + 62} {by - 24} L {bx + 50} {by + 30} L {bx - 50} {by + 30} Z"
        ),
        fill(0xB8864A),
    )


def _field_station(c: skia.Canvas, w: int, h: int, horizon: float, table: float) -> None:
    _ground(c, w, h, horizon, 0xD7B450, 0xE6CC78)
    r = _rng(9)
    for _ in range(500):  # millet heads in the field
        x, t = r() * w, r()
        y = horizon + (table - horizon) * t * t
        c.drawPath(
            svg(f"M {x} {y} q 3 -{6 + 14 * t} 6 -{10 + 20 * t}"),
            stroke(shade(0xC8962E, 0.8 + 0.3 * r()), 1 + 3 * t),
        )
    # polytunnel greenhouses
    for _i, x in enumerate((w * 0.08, w * 0.32)):
        gw, gh, y = 230, 120, horizon + 20
        tunnel = svg(f"M {x} {y} C {x} {y - gh} {x + gw} {y - gh} {x + gw} {y} Z")
        c.drawPath(tunnel, linear((x, y - gh), (x, y), [0xF4F8FA, 0xC8D8E0]))
        for k in range(1, 6):
            c.drawPath(
                svg(f"M {x + gw * k / 6} {y} L {x + gw * k / 6} {y - gh * 0.78 + abs(k - 3) * 12}"),
                stroke(0x9AB0BA, 2),
            )
        c.drawPath(tunnel, stroke(0x8AA0AA, 2.5))
    # weather station: mast, anemometer cups, solar panel
    mx = w * 0.9
    c.drawPath(svg(f"M {mx} {horizon + 60} L {mx} {horizon - 170}"), stroke(0x7A8690, 6))
    for a in (0, 120, 240):
        ax = mx + 28 * math.cos(math.radians(a))
        c.drawPath(svg(f"M {mx} {horizon - 170} L {ax} {horizon - 176}"), stroke(0x7A8690, 3))
        c.drawCircle(ax, horizon - 176, 8, fill(0xE8ECEE))
    c.drawPath(
        svg(
            f"M {mx - 50} {horizon - 80} L {mx + 4} {horizon - 100} L {mx + 4} {horizon - 60} L {mx - 50} {horizon - 44} Z"
        ),
        fill(0x2E4A78),
    )
    c.drawPath(
        svg(
            f"M {mx - 40} {horizon + 40} L {mx + 40} {horizon + 40} L {mx + 40} {horizon - 10} L {mx - 40} {horizon - 10} Z"
        ),
        fill(0xF2F4F6),
    )


SCENES = {
    "xiaowang": (_vegetable_plot, (0x8EC3EA, 0xE8F2F4), (0x9FB7C4, 0x7F9DA6), 0x8A5A36, 0x6E4428),
    "xiaoli": (_orchard, (0xF6C89A, 0xFCEBD2), (0xC9B0A0, 0xA89A84), 0xB8463A, 0x8E3028),
    "xiaozhang": (_field_station, (0xA8D0EC, 0xEEF4F6), (0xA6B8C0, 0x8CA2A8), 0xE8ECEE, 0xB8C2C8),
}


def draw_scene(
    c: skia.Canvas, persona_id: str, w: int, h: int, table: float, host_x: float
) -> None:
    painter, (top, bottom), hills, counter, counter_edge = SCENES.get(
        persona_id, SCENES["xiaowang"]
    )
    horizon = table - (250 if h > w else 190)
    _sky(c, w, h, top, bottom, (w * 0.8, h * 0.18))
    _hills(c, w, horizon, hills)
    painter(c, w, h, horizon, table)
    # a soft shadow behind the host lifts them off the scene (blurred once, cached)
    c.drawPath(ellipse(host_x, table - 120, 230, 230), soft(0x1A1008, 0.18, 40))
    # the counter the host stands behind
    c.drawRect(
        skia.Rect.MakeLTRB(0, table, w, h),
        linear((0, table), (0, h), [counter, shade(counter, 0.7)]),
    )
    c.drawRect(skia.Rect.MakeLTRB(0, table, w, table + 10), fill(counter_edge))
    c.drawRect(skia.Rect.MakeLTRB(0, table + 10, w, table + 22), fill(0x000000, 0.12))
