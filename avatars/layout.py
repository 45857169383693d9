"""Where things go in a landscape (1280×720) or a portrait (720×1280) frame, and in their
480p versions (854×480, 480×854): the same layout scaled by about 2/3.

A scaled layout keeps its design layout (`design`): the scene, card, caption and banner are
drawn in the design's coordinates on a canvas scaled by (`sx`, `sy`), so text and shapes
keep their proportions; its boxes are the design's boxes in the frame's own pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from avatars.gestures import ArmPose

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    head: tuple[int, int]  # the host's head centre at rest, frame px
    scale: float
    char_box: Box  # redrawn every frame; everything else is cached
    table_y: int  # the counter's top edge: the host is cut at the waist here
    card: Box
    countdown: Box  # inside the card
    caption: Box
    point: ArmPose  # the near arm aimed at the card
    card_gaze: tuple[float, float]  # where the eyes go while presenting
    design: Layout | None = None  # the layout this one is scaled from (None: itself)

    @property
    def base(self) -> Layout:
        """The layout whose coordinates the static layers are drawn in."""
        return self.design or self

    @property
    def sx(self) -> float:
        return self.width / self.base.width

    @property
    def sy(self) -> float:
        return self.height / self.base.height

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    def mouth_box(self) -> Box:
        hx, hy = self.head
        s = self.scale
        return (int(hx - 45 * s), int(hy + 40 * s), int(hx + 45 * s), int(hy + 95 * s))


LANDSCAPE = Layout(
    width=1280,
    height=720,
    head=(410, 262),
    scale=1.0,
    char_box=(100, 60, 756, 612),
    table_y=612,
    card=(760, 90, 1240, 560),
    countdown=(776, 486, 1224, 546),
    caption=(140, 640, 1140, 700),
    point=ArmPose(45.0, 105.0, "point"),
    card_gaze=(0.9, 0.05),
)

PORTRAIT = Layout(
    width=720,
    height=1280,
    head=(360, 440),
    scale=1.1,
    char_box=(16, 236, 716, 826),
    table_y=826,
    # card and caption stay inside x 56..664: a phone shows this frame full-screen
    # (object-fit: cover) and a 9:19.5 screen crops about 64 px off each side
    card=(56, 836, 664, 1106),
    countdown=(330, 1044, 648, 1096),
    caption=(56, 1120, 664, 1186),
    # elbow out, forearm down: the finger points at the card below, inside the frame
    point=ArmPose(80.0, 18.0, "point"),
    card_gaze=(0.45, 0.8),
)


def scale_box(box: Box, sx: float, sy: float) -> Box:
    """A design box in a scaled frame's pixels: the smallest whole-pixel box holding it."""
    x0, y0, x1, y1 = box
    return (
        math.floor(x0 * sx),
        math.floor(y0 * sy),
        math.ceil(x1 * sx),
        math.ceil(y1 * sy),
    )


def scaled(design: Layout, width: int, height: int) -> Layout:
    """`design` drawn into a `width`×`height` frame of the same shape."""
    sx, sy = width / design.width, height / design.height
    k = min(sx, sy)  # the host is drawn with one scale; sx and sy differ by under 0.1 %
    return replace(
        design,
        width=width,
        height=height,
        head=(round(design.head[0] * sx), round(design.head[1] * sy)),
        scale=design.scale * k,
        char_box=scale_box(design.char_box, sx, sy),
        table_y=round(design.table_y * sy),
        card=scale_box(design.card, sx, sy),
        countdown=scale_box(design.countdown, sx, sy),
        caption=scale_box(design.caption, sx, sy),
        design=design,
    )


LANDSCAPE_480 = scaled(LANDSCAPE, 854, 480)
PORTRAIT_480 = scaled(PORTRAIT, 480, 854)
LAYOUTS = {
    (lay.width, lay.height): lay for lay in (LANDSCAPE, PORTRAIT, LANDSCAPE_480, PORTRAIT_480)
}
# the frame sizes a room offers: resolution name -> (landscape, portrait) sizes
RESOLUTIONS = {
    "720p": ((1280, 720), (720, 1280)),
    "480p": ((854, 480), (480, 854)),
}


def frame_size(resolution: str, portrait: bool) -> tuple[int, int]:
    """(width, height) of a room's frame; ValueError names the resolutions offered."""
    try:
        sizes = RESOLUTIONS[resolution]
    except KeyError:
        raise ValueError(
            f"unknown resolution {resolution!r}; use one of {', '.join(RESOLUTIONS)}"
        ) from None
    return sizes[1] if portrait else sizes[0]


def layout_for(width: int, height: int) -> Layout:
    try:
        return LAYOUTS[(width, height)]
    except KeyError:
        sizes = ", ".join(f"{w}x{h}" for w, h in LAYOUTS)
        raise ValueError(f"unsupported frame size {width}x{height}; use {sizes}") from None
