"""小李: a warm, quick middle-aged farm woman. Round face, red polka-dot headscarf tied at
the back, a floral blouse under a work apron, blue oversleeves, a rounder build."""

from __future__ import annotations

import skia

from avatars.art import common
from avatars.art.design import Design, record
from avatars.art.kit import argb, fill, linear, radial, shade, stroke, svg

SKIN, SKIN_SHADE = 0xF0BE96, 0xD39A74
HAIR = 0x3A2620
SCARF = 0xD23A3E
BLOUSE = 0xE58C8E
APRON = 0x2F6E86
OVERSLEEVE = 0x3F6FB2

FACE = (
    "M -96 -24 C -98 -92 -56 -120 0 -120 C 56 -120 98 -92 96 -24 C 96 40 80 80 52 100"
    " C 36 111 18 115 0 115 C -18 115 -36 111 -52 100 C -80 80 -96 40 -96 -24 Z"
)
SCARF_FRONT = (
    "M -116 18 C -128 -70 -92 -146 0 -148 C 92 -146 128 -70 116 18 C 112 34 104 44 96 48"
    " C 100 0 92 -52 62 -76 C 30 -94 -30 -94 -62 -76 C -92 -52 -100 0 -96 48 C -104 44 -112 34 -116 18 Z"
)
TORSO = (
    "M -32 138 C -96 144 -128 160 -140 200 C -152 250 -158 310 -162 390 L 162 390"
    " C 158 310 152 250 140 200 C 128 160 96 144 32 138 Z"
)


def _dots(c: skia.Canvas, path: skia.Path) -> None:
    c.save()
    c.clipPath(path, doAntiAlias=True)
    for row in range(12):
        for col in range(14):
            x, y = -130 + col * 20 + (row % 2) * 10, -160 + row * 18
            c.drawCircle(x, y, 3.2, fill(0xFFF4E8, 0.9))
    c.restore()


def _back(c: skia.Canvas) -> None:
    # the scarf's knot and tails at the back of the head, peeking out on one side
    tails = svg("M 92 -60 C 132 -50 158 -10 164 40 L 138 46 C 132 10 118 -20 96 -30 Z")
    c.drawPath(tails, fill(shade(SCARF, 0.85)))
    _dots(c, tails)
    c.drawPath(tails, stroke(shade(SCARF, 0.55), 2.5))
    c.drawPath(
        svg("M -104 -20 C -110 -100 -54 -140 0 -140 C 54 -140 110 -100 104 -20 Z"), fill(HAIR)
    )


def _torso(c: skia.Canvas) -> None:
    common.neck(c, 30, 70, 156, SKIN, SKIN_SHADE)
    body = svg(TORSO)
    c.drawPath(body, linear((0, 140), (0, 390), [shade(BLOUSE, 1.05), BLOUSE, shade(BLOUSE, 0.82)]))
    c.save()
    c.clipPath(body, doAntiAlias=True)
    for row in range(9):  # small printed flowers on the blouse
        for col in range(11):
            x, y = -160 + col * 32 + (row % 2) * 16, 150 + row * 30
            for dx, dy in ((0, -4), (4, 0), (0, 4), (-4, 0)):
                c.drawCircle(x + dx, y + dy, 3.2, fill(0xFFF2F0, 0.85))
            c.drawCircle(x, y, 2.2, fill(0xF2B83A))
    c.restore()
    c.drawPath(body, stroke(shade(BLOUSE, 0.55), 3))
    # rounded collar
    for side in (-1, 1):
        collar = svg(
            f"M 0 168 C {side * 20} 150 {side * 36} 142 {side * 44} 140 C {side * 52} 156 {side * 44} 176 0 176 Z"
        )
        c.drawPath(collar, fill(0xFFF6F0))
        c.drawPath(collar, stroke(shade(BLOUSE, 0.6), 2))
    # the apron: bib, straps, pocket with a towel in it
    apron = svg("M -66 220 L 66 220 C 70 270 86 320 104 390 L -104 390 C -86 320 -70 270 -66 220 Z")
    c.drawPath(apron, linear((0, 220), (0, 390), [shade(APRON, 1.1), APRON]))
    c.drawPath(apron, stroke(shade(APRON, 0.55), 3))
    for side in (-1, 1):
        c.drawPath(svg(f"M {side * 62} 222 L {side * 86} 152"), stroke(shade(APRON, 0.9), 12))
    c.drawPath(svg("M -60 232 L 60 232"), stroke(0xF4EEE4, 3, 0.8))
    pocket = svg("M -52 296 L 52 296 L 50 350 Q 0 360 -50 350 Z")
    c.drawPath(pocket, fill(shade(APRON, 0.9)))
    c.drawPath(pocket, stroke(0xF4EEE4, 2.4, 0.9))
    c.drawPath(svg("M -20 296 L -26 274 L -4 270 L 0 296 Z"), fill(0xF6E08A))


def _head(c: skia.Canvas) -> None:
    common.face(c, FACE, SKIN, SKIN_SHADE)
    common.nose(c, SKIN_SHADE, 0.95)
    for side in (-1, 1):  # smile lines of a face that laughs a lot
        c.drawPath(
            svg(f"M {side * 40} 52 Q {side * 52} 72 {side * 44} 92"), stroke(SKIN_SHADE, 2.2, 0.55)
        )
        c.drawPath(
            svg(f"M {side * 64} -8 l {side * 8} -3 M {side * 64} 0 l {side * 9} 2"),
            stroke(SKIN_SHADE, 1.6, 0.6),
        )


def _front(c: skia.Canvas) -> None:
    # fringe parted to one side, showing under the scarf
    c.drawPath(
        svg(
            "M -72 -58 C -60 -80 -20 -86 6 -76 C -14 -70 -36 -58 -50 -40 C -60 -44 -68 -50 -72 -58 Z"
        ),
        fill(HAIR),
    )
    c.drawPath(svg("M 6 -76 C 30 -86 66 -78 74 -56 C 60 -60 40 -62 22 -58 Z"), fill(HAIR))
    scarf = svg(SCARF_FRONT)
    c.drawPath(
        scarf,
        radial((-30, -110), 200, [argb(shade(SCARF, 1.15)), argb(SCARF), argb(shade(SCARF, 0.78))]),
    )
    _dots(c, scarf)
    for d in (
        "M -80 -110 Q -40 -96 -20 -130",
        "M 40 -136 Q 70 -100 96 -92",
        "M -104 -20 Q -96 -50 -84 -64",
    ):
        c.drawPath(svg(d), stroke(shade(SCARF, 0.7), 2.4, 0.8))
    c.drawPath(scarf, stroke(shade(SCARF, 0.5), 3))


def design() -> Design:
    return Design(
        id="xiaoli",
        skin=SKIN,
        skin_shade=SKIN_SHADE,
        lips=0xC0505A,
        hair=HAIR,
        brow=0x4A3028,
        iris=0x5A3A24,
        back=record(_back),
        torso=record(_torso),
        head=record(_head),
        front=record(_front),
        sleeve_upper=BLOUSE,
        sleeve_fore=OVERSLEEVE,
        cuff=0x2E5690,
        shoulder_x=112,
        shoulder_y=190,
        upper_len=112,
        fore_len=100,
        arm_width=48,
        eye_x=42,
        eye_y=-4,
        eye_w=17,
        eye_h=12,
        brow_width=4.5,
        brow_y=-34,
        brow_arch=6.0,
        mouth_w=24,
        lashes=True,
        smile_bias=0.25,
        lively=1.2,
        blush_color=0xF0706E,
        head_bounds=(-130, -160, 175, 125),
        front_bounds=(-130, -160, 130, 50),
    )
