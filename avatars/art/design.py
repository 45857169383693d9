"""What differs between the three hosts, as data: palettes, proportions and layered artwork."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import skia

from avatars.art.kit import Color

Painter = Callable[[skia.Canvas], None]


def record(
    paint: Painter, bounds: tuple[float, float, float, float] = (-400, -400, 400, 500)
) -> skia.Picture:
    """Record static artwork once; replaying a Picture costs no Python per path."""
    rec = skia.PictureRecorder()
    canvas = rec.beginRecording(skia.Rect.MakeLTRB(*bounds))
    paint(canvas)
    return rec.finishRecordingAsPicture()


@dataclass
class Design:
    """One host. Coordinates: origin at the head's centre at rest, y down, px at scale 1.

    Layers are recorded Pictures: `back` (behind the head, moves with it), `torso` (moves
    with breathing), `head` (face, ears, nose), `front` (hair fringe, hat, glasses)."""

    id: str
    skin: Color
    skin_shade: Color
    lips: Color
    hair: Color
    brow: Color
    iris: Color
    back: skia.Picture
    torso: skia.Picture
    head: skia.Picture
    front: skia.Picture
    sleeve_upper: Color
    sleeve_fore: Color  # = skin for rolled-up sleeves
    cuff: Color | None
    shoulder_x: float = 112.0
    shoulder_y: float = 186.0
    upper_len: float = 118.0
    fore_len: float = 104.0
    arm_width: float = 44.0
    eye_x: float = 42.0
    eye_y: float = -6.0
    eye_w: float = 17.0
    eye_h: float = 11.5
    brow_width: float = 6.0
    brow_y: float = -36.0
    brow_arch: float = 4.0
    mouth_y: float = 67.0
    mouth_w: float = 25.0
    lashes: bool = False
    glasses: bool = False
    smile_bias: float = 0.0  # a warm host smiles a little more at rest
    smirk: float = 0.0  # a cheeky host's smile is lopsided
    lively: float = 1.0  # scales sway and nods
    blush_color: Color = 0xF08A7A
    rest_other: tuple[float, float, str] | None = None  # e.g. a clipboard held at the chest
    extras: dict[str, skia.Picture] = field(default_factory=dict)
    # the part of design space each layer covers (rasterised once at the layout's scale)
    head_bounds: tuple[float, float, float, float] = (-190, -190, 190, 130)
    front_bounds: tuple[float, float, float, float] = (-190, -190, 190, 0)
    torso_bounds: tuple[float, float, float, float] = (-165, 60, 165, 390)


@dataclass(frozen=True)
class Sprite:
    image: skia.Image
    rect: skia.Rect  # where it goes, in design coordinates
    ink: skia.Rect | None = None  # the part of `rect` with any paint on it (None: all of it)

    @property
    def covers(self) -> skia.Rect:
        """Design coordinates of the pixels this sprite can change when blitted."""
        return self.ink if self.ink is not None else self.rect


def rasterise(
    pictures: list[skia.Picture],
    bounds: tuple[float, float, float, float],
    scale: float,
    tilt: float = 0.0,
    pivot: tuple[float, float] = (0.0, 0.0),
) -> Sprite:
    """Flatten static layers, rotated by `tilt` degrees about `pivot`, into one image at the
    output scale: one blit a frame instead of dozens of gradient paths."""
    m = skia.Matrix.RotateDeg(tilt, skia.Point(*pivot))
    box = m.mapRect(skia.Rect.MakeLTRB(*bounds))
    x0, t, r, b = box.left(), box.top(), box.right(), box.bottom()
    x0, t = math.floor(x0 * scale) / scale, math.floor(t * scale) / scale  # whole device pixels
    surface = skia.Surface(int((r - x0) * scale) + 2, int((b - t) * scale) + 2)
    c = surface.getCanvas()
    c.scale(scale, scale)
    c.translate(-x0, -t)
    c.concat(m)
    for pic in pictures:
        c.drawPicture(pic)
    surface.flushAndSubmit()
    image = surface.makeImageSnapshot()
    # trimmed to its painted pixels: a blit blends every pixel of the image, and a head's
    # layers were up to 60 % transparent margin (a tilted head's bounds are wide)
    left, top, right, bottom = _ink(image)
    if (left, top, right, bottom) != (0, 0, image.width(), image.height()):
        image = image.makeSubset(skia.IRect.MakeLTRB(left, top, right, bottom))
        image = image.makeRasterImage()  # its own pixels: the snapshot is let go
    x0, t = x0 + left / scale, t + top / scale
    rect = skia.Rect.MakeLTRB(x0, t, x0 + (right - left) / scale, t + (bottom - top) / scale)
    return Sprite(image, rect)


def _ink(image: skia.Image) -> tuple[int, int, int, int]:
    """The pixel box (left, top, right, bottom) of `image`'s painted pixels (one transparent
    pixel when nothing is painted)."""
    alpha = image.toarray()[:, :, 3]
    rows, cols = alpha.any(axis=1), alpha.any(axis=0)
    if not rows.any():
        return 0, 0, 1, 1
    top, bottom = int(rows.argmax()), len(rows) - int(rows[::-1].argmax())
    left, right = int(cols.argmax()), len(cols) - int(cols[::-1].argmax())
    return left, top, right, bottom


def blit(c: skia.Canvas, s: Sprite) -> None:
    """Blit at a whole device pixel: skia's fast path (a filtered blit costs 10x more)."""
    pt = c.getTotalMatrix().mapXY(s.rect.left(), s.rect.top())
    c.save()
    c.resetMatrix()
    c.drawImage(s.image, round(pt.x()), round(pt.y()))
    c.restore()
