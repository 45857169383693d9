"""小张: a calm agronomist. Long oval face, neat side-parted hair, glasses, a white lab coat
over a shirt and tie, narrow shoulders, a clipboard held to the chest."""

from __future__ import annotations

import skia

from avatars.art import common
from avatars.art.design import Design, record
from avatars.art.kit import fill, linear, shade, stroke, svg

SKIN, SKIN_SHADE = 0xEDC3A0, 0xCFA07C
HAIR = 0x1E1E26
COAT = 0xF3F5F7
SHIRT = 0xBFD8EE
TIE = 0x2F5E4E
FRAME = 0x2A2F3A

FACE = (
    "M -82 -40 C -84 -102 -46 -128 0 -128 C 46 -128 84 -102 82 -40 C 82 22 76 64 56 92"
    " C 40 112 20 120 0 120 C -20 120 -40 112 -56 92 C -76 64 -82 22 -82 -40 Z"
)
TORSO = (
    "M -30 150 C -84 156 -118 168 -128 204 C -136 240 -136 300 -138 390 L 138 390"
    " C 136 300 136 240 128 204 C 118 168 84 156 30 150 Z"
)


def _back(c: skia.Canvas) -> None:
    c.drawPath(svg("M -92 -10 C -100 -112 -50 -152 8 -150 C 66 -148 100 -112 92 -10 Z"), fill(HAIR))


def _torso(c: skia.Canvas) -> None:
    common.neck(c, 27, 76, 166, SKIN, SKIN_SHADE)
    body = svg(TORSO)
    c.drawPath(body, fill(SHIRT))
    c.drawPath(svg("M 0 172 L -12 184 L -6 300 L 0 312 L 6 300 L 12 184 Z"), fill(TIE))
    c.drawPath(svg("M -14 160 L 0 176 L 14 160 L 10 154 L -10 154 Z"), fill(TIE))
    for side in (-1, 1):  # the coat's two fronts with lapels, open over shirt and tie
        front = svg(
            f"M {side * 30} 150 C {side * 84} 156 {side * 118} 168 {side * 128} 204"
            f" C {side * 136} 240 {side * 136} 300 {side * 138} 390 L {side * 28} 390"
            f" L {side * 30} 300 L {side * 40} 230 L {side * 26} 180 Z"
        )
        c.drawPath(front, linear((side * 30, 150), (side * 138, 390), [COAT, shade(COAT, 0.86)]))
        c.drawPath(front, stroke(0x9AA4AE, 2.6))
        lapel = svg(
            f"M {side * 26} 154 L {side * 58} 176 L {side * 48} 200 L {side * 60} 214 L {side * 38} 262 Z"
        )
        c.drawPath(lapel, fill(shade(COAT, 0.93)))
        c.drawPath(lapel, stroke(0x9AA4AE, 2))
    c.drawPath(body, stroke(0x8A949E, 3))
    # breast pocket with pens, and an ID badge
    c.drawPath(svg("M 64 262 L 108 262 L 108 306 L 64 306 Z"), stroke(0xAEB6BE, 2))
    for i, color in enumerate((0x2A5BD7, 0xD33A3A, 0x333333)):
        c.drawPath(svg(f"M {72 + i * 11} 262 L {72 + i * 11} 242"), stroke(color, 5))
    c.drawRect(skia.Rect.MakeLTRB(-104, 262, -62, 316), fill(0xFFFFFF))
    c.drawRect(skia.Rect.MakeLTRB(-104, 262, -62, 274), fill(0x2F8A5E))
    c.drawRect(skia.Rect.MakeLTRB(-98, 280, -84, 298), fill(0xB8C8D8))
    for y in (284, 292, 304):
        c.drawPath(svg(f"M -80 {y} L -68 {y}"), stroke(0x8A949E, 2))
    for y in (330, 370):
        c.drawCircle(36, y, 5, fill(0xDADFE4))


def _head(c: skia.Canvas) -> None:
    common.ears(c, 82, 4, SKIN, SKIN_SHADE, 13, 22)
    common.face(c, FACE, SKIN, SKIN_SHADE)
    common.nose(c, SKIN_SHADE, 1.12)


def _front(c: skia.Canvas) -> None:
    # neat side part: a swoop of hair across the forehead from the left
    hair = svg(
        "M -88 -30 C -94 -112 -34 -146 16 -142 C 68 -138 96 -104 88 -30 C 84 -66 68 -90 40 -98"
        " C 6 -84 -42 -86 -66 -72 C -78 -62 -84 -48 -88 -30 Z"
    )
    c.drawPath(hair, linear((-60, -140), (60, -60), [shade(HAIR, 1.3), HAIR]))
    c.drawPath(svg("M -40 -118 C -10 -132 30 -130 60 -112"), stroke(0x5A5A6A, 3, 0.7))
    c.drawPath(svg("M -30 -104 C 0 -114 24 -112 44 -102"), stroke(0x5A5A6A, 2, 0.6))
    # glasses: thin dark frames with a lens glint
    for side in (-1, 1):
        x = side * 42
        rim = skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(x - 30, -28, x + 30, 16), 14, 14)
        c.drawRRect(rim, fill(0xDDEEFF, 0.12))
        glint = svg(f"M {x - 20} 8 L {x - 6} -22 L {x + 2} -22 L {x - 12} 8 Z")
        c.drawPath(glint, fill(0xFFFFFF, 0.22))
        c.drawRRect(rim, stroke(FRAME, 3.6))
        c.drawPath(svg(f"M {side * 72} -14 L {side * 84} -10"), stroke(FRAME, 3.6))
    c.drawPath(svg("M -12 -12 Q 0 -20 12 -12"), stroke(FRAME, 3.4))


def _clipboard(c: skia.Canvas) -> None:
    board = skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(-46, -64, 46, 64), 6, 6)
    c.drawRRect(board, fill(0xA0703A))
    c.drawRRect(board, stroke(0x6A4420, 2.5))
    c.drawRect(skia.Rect.MakeLTRB(-38, -50, 38, 58), fill(0xFCFCF8))
    for i in range(7):
        c.drawPath(
            svg(f"M -30 {-30 + i * 12} L {20 - (i % 3) * 12} {-30 + i * 12}"), stroke(0x9AAAB8, 2)
        )
    c.drawPath(svg("M 14 30 l 6 8 l 14 -18"), stroke(0x2F9A5E, 3))
    c.drawRRect(skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(-18, -72, 18, -52), 4, 4), fill(0xB8C0C8))
    c.drawRRect(
        skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(-18, -72, 18, -52), 4, 4), stroke(0x6A7480, 2)
    )


def design() -> Design:
    return Design(
        id="xiaozhang",
        skin=SKIN,
        skin_shade=SKIN_SHADE,
        lips=0xB06458,
        hair=HAIR,
        brow=HAIR,
        iris=0x3A2A20,
        back=record(_back),
        torso=record(_torso),
        head=record(_head),
        front=record(_front),
        sleeve_upper=COAT,
        sleeve_fore=COAT,
        cuff=None,
        shoulder_x=104,
        shoulder_y=200,
        upper_len=120,
        fore_len=108,
        arm_width=40,
        eye_x=42,
        eye_y=-6,
        eye_w=15,
        eye_h=10,
        brow_width=5.0,
        brow_y=-40,
        brow_arch=3.0,
        mouth_w=22,
        glasses=True,
        lively=0.7,
        rest_other=(10.0, -128.0, "clip"),
        extras={"clipboard": record(_clipboard, (-60, -80, 60, 80))},
        head_bounds=(-110, -160, 110, 130),
        front_bounds=(-100, -150, 100, 20),
    )
