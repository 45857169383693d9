"""小王: a young farmer. Straw hat, chambray work shirt with rolled sleeves, a towel round
the neck, broad shoulders, a squarer jaw and a lopsided, cheeky grin."""

from __future__ import annotations

import skia

from avatars.art import common
from avatars.art.design import Design, record
from avatars.art.kit import argb, ellipse, fill, linear, radial, shade, stroke, svg

SKIN, SKIN_SHADE = 0xE9AE84, 0xC98A62
HAIR = 0x221A16
SHIRT = 0x4F7DB3
STRAW = 0xE8C46C
BAND = 0xC7372F

FACE = (
    "M -90 -30 C -92 -92 -52 -122 0 -122 C 52 -122 92 -92 90 -30 C 90 22 84 60 64 88"
    " C 46 108 24 115 0 115 C -24 115 -46 108 -64 88 C -84 60 -90 22 -90 -30 Z"
)
TORSO = (
    "M -34 150 C -92 156 -132 168 -144 206 C -154 244 -150 300 -150 380 L 150 380"
    " C 150 300 154 244 144 206 C 132 168 92 156 34 150 Z"
)


def _back(c: skia.Canvas) -> None:
    c.drawPath(svg("M -100 -10 C -108 -96 -52 -134 0 -134 C 52 -134 108 -96 100 -10 Z"), fill(HAIR))


def _torso(c: skia.Canvas) -> None:
    common.neck(c, 31, 70, 168, SKIN, SKIN_SHADE)
    body = svg(TORSO)
    c.drawPath(body, linear((0, 150), (0, 380), [shade(SHIRT, 1.08), SHIRT, shade(SHIRT, 0.8)]))
    c.drawPath(body, stroke(shade(SHIRT, 0.55), 3))
    # open collar showing the neck, placket, pocket with flap
    c.drawPath(svg("M -30 156 L 0 214 L 30 156 Z"), fill(SKIN_SHADE))
    c.drawPath(svg("M 0 214 L 0 380"), stroke(shade(SHIRT, 0.7), 2.5))
    common.buttons(c, 7, (240, 290, 340), 0xE8E2D0)
    pocket = svg("M 40 236 L 92 236 L 90 290 Q 66 298 42 290 Z")
    c.drawPath(pocket, fill(shade(SHIRT, 0.92)))
    c.drawPath(pocket, stroke(shade(SHIRT, 0.6), 2.2))
    c.drawPath(svg("M 38 232 L 94 232 L 92 250 Q 66 256 40 250 Z"), fill(shade(SHIRT, 0.85)))
    c.drawPath(svg("M 58 222 L 60 236"), stroke(0xE0A030, 4))  # a pencil stub in the pocket
    # fabric folds
    for d in (
        "M -110 260 Q -96 300 -104 340",
        "M 118 300 Q 104 330 112 370",
        "M -60 330 Q -40 345 -20 340",
    ):
        c.drawPath(svg(d), stroke(shade(SHIRT, 0.7), 2.2, 0.7))
    # towel round the neck, the farmer's badge
    towel = svg(
        "M -58 150 C -40 176 40 176 58 150 C 66 160 70 172 62 182 C 30 206 -30 206 -62 182 C -70 172 -66 160 -58 150 Z"
    )
    c.drawPath(towel, fill(0xF4F1EA))
    c.drawPath(towel, stroke(0xB9B2A4, 2.4))
    c.drawPath(svg("M -60 170 C -30 192 30 192 60 170"), stroke(0x3E78C2, 4))
    tail = svg("M -54 178 C -60 214 -58 250 -48 276 L -24 272 C -30 246 -34 214 -30 190 Z")
    c.drawPath(tail, fill(0xF4F1EA))
    c.drawPath(tail, stroke(0xB9B2A4, 2.4))
    c.drawPath(svg("M -52 262 L -26 258"), stroke(0x3E78C2, 4))


def _head(c: skia.Canvas) -> None:
    common.ears(c, 90, 8, SKIN, SKIN_SHADE)
    common.face(c, FACE, SKIN, SKIN_SHADE)
    common.nose(c, SKIN_SHADE)
    # sideburns and a sun-tanned jaw line
    for side in (-1, 1):
        c.drawPath(
            svg(f"M {side * 90} -40 L {side * 80} -40 L {side * 84} 12 L {side * 90} 4 Z"),
            fill(HAIR),
        )
    c.drawPath(svg("M -40 100 Q 0 120 40 100"), stroke(SKIN_SHADE, 2.5, 0.5))


def _front(c: skia.Canvas) -> None:
    # messy fringe under the hat
    for d in (
        "M -70 -66 L -50 -42 L -40 -66 Z",
        "M -44 -68 L -24 -40 L -14 -68 Z",
        "M -18 -68 L 2 -44 L 12 -68 Z",
        "M 14 -68 L 34 -46 L 42 -68 Z",
        "M 44 -66 L 66 -48 L 72 -64 Z",
    ):
        c.drawPath(svg(d), fill(HAIR))
    c.drawPath(svg("M -84 -60 C -60 -74 60 -74 84 -60 L 84 -70 L -84 -70 Z"), fill(HAIR))
    # straw hat, tipped back and to one side
    c.save()
    c.rotate(-7, 0, -86)
    c.drawPath(ellipse(0, -58, 150, 20), fill(0x3A2010, 0.16))  # shade on the forehead
    brim = ellipse(0, -86, 168, 30)
    c.drawPath(
        brim,
        radial((0, -86), 168, [argb(shade(STRAW, 1.1)), argb(STRAW), argb(shade(STRAW, 0.78))]),
    )
    for r in (150, 128, 108):
        c.drawPath(ellipse(0, -86, r, r * 0.18), stroke(shade(STRAW, 0.78), 1.6, 0.8))
    c.drawPath(brim, stroke(shade(STRAW, 0.55), 3))
    crown = svg(
        "M -82 -88 C -86 -150 -44 -172 0 -172 C 44 -172 86 -150 82 -88 C 50 -80 -50 -80 -82 -88 Z"
    )
    c.drawPath(
        crown, linear((-80, -170), (80, -90), [shade(STRAW, 1.12), STRAW, shade(STRAW, 0.8)])
    )
    for y in (-150, -134, -118):
        c.drawPath(svg(f"M -76 {y} Q 0 {y - 10} 76 {y}"), stroke(shade(STRAW, 0.78), 1.6, 0.7))
    c.drawPath(crown, stroke(shade(STRAW, 0.55), 3))
    c.drawPath(
        svg("M -82 -104 C -50 -96 50 -96 82 -104 L 82 -90 C 50 -82 -50 -82 -82 -90 Z"), fill(BAND)
    )
    c.restore()


def design() -> Design:
    return Design(
        id="xiaowang",
        skin=SKIN,
        skin_shade=SKIN_SHADE,
        lips=0xB85A4E,
        hair=HAIR,
        brow=HAIR,
        iris=0x4A2E1C,
        back=record(_back),
        torso=record(_torso),
        head=record(_head),
        front=record(_front),
        sleeve_upper=SHIRT,
        sleeve_fore=SKIN,
        cuff=0x86A9D2,
        shoulder_x=116,
        shoulder_y=198,
        upper_len=116,
        fore_len=104,
        arm_width=46,
        eye_x=41,
        eye_w=18,
        eye_h=12.5,
        brow_width=7.5,
        brow_y=-34,
        brow_arch=2.0,
        mouth_w=25,
        smirk=0.8,
        lively=1.35,
    )
