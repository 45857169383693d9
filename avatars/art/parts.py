"""Small moving parts (eyes, brows, cheeks, a closed mouth) rasterised once per quantised
pose and blitted at a whole device pixel, so a frame replays few paths.

Only small parts pay: a sleeve blitted from a cache (about 150×250 px of alpha blending)
cost as much as the six strokes it replaced, so the sleeves are still drawn every frame,
which also keeps the arms' idle sway continuous.

A part is drawn around its anchor (a point in the canvas's coordinates, e.g. an eye's
centre) and pre-rotated by the head's tilt: skia's rotated image draw costs
several times the paths it would replace, an unrotated blit almost nothing.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import skia

Painter = Callable[[skia.Canvas], None]


@dataclass(frozen=True)
class Part:
    """A rasterised part: its image and the offset (device px) of its top-left from the
    anchor's device pixel."""

    image: skia.Image
    dx: int
    dy: int


def rasterise_part(
    draw: Painter,
    bounds: tuple[float, float, float, float],
    scale: float,
    tilt: float = 0.0,
) -> Part:
    """Rasterise `draw` (design coordinates, the anchor at the origin, inside `bounds`) at
    `scale`, rotated by `tilt` degrees about the anchor, with the anchor on a pixel corner;
    trimmed to the pixels it covers."""
    m = skia.Matrix.RotateDeg(tilt)
    box = m.mapRect(skia.Rect.MakeLTRB(*bounds))
    left, top = math.floor(box.left() * scale) - 2, math.floor(box.top() * scale) - 2
    w = math.ceil(box.right() * scale) + 3 - left
    h = math.ceil(box.bottom() * scale) + 3 - top
    img = np.zeros((h, w, 4), np.uint8)
    info = skia.ImageInfo.Make(
        w, h, skia.ColorType.kBGRA_8888_ColorType, skia.AlphaType.kPremul_AlphaType
    )
    surface = skia.Surface.MakeRasterDirect(info, img, img.strides[0])
    c = surface.getCanvas()
    c.translate(-left, -top)
    c.scale(scale, scale)
    c.rotate(tilt)
    draw(c)
    surface.flushAndSubmit()
    alpha = img[:, :, 3]
    rows, cols = alpha.any(axis=1), alpha.any(axis=0)
    if not rows.any():  # nothing drawn: keep one transparent pixel
        rows[0] = cols[0] = True
    y0, y1 = int(rows.argmax()), h - int(rows[::-1].argmax())
    x0, x1 = int(cols.argmax()), w - int(cols[::-1].argmax())
    image = skia.Image.fromarray(
        np.ascontiguousarray(img[y0:y1, x0:x1]),
        colorType=skia.ColorType.kBGRA_8888_ColorType,
        alphaType=skia.kPremul_AlphaType,
    )
    return Part(image, left + x0, top + y0)


def stamp(c: skia.Canvas, part: Part, x: float, y: float) -> None:
    """Blit `part` with its anchor at (x, y) of the canvas, rounded to a whole device pixel."""
    pt = c.getTotalMatrix().mapXY(x, y)
    c.save()
    c.resetMatrix()
    c.drawImage(part.image, round(pt.x()) + part.dx, round(pt.y()) + part.dy)
    c.restore()


class PartCache:
    """Parts keyed by a quantised pose, least recently used dropped first beyond `limit`.
    Shared by every renderer of one host at one size, so it is thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: OrderedDict[Hashable, Part] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._parts)

    def get(self, key: Hashable, make: Callable[[], Part]) -> Part:
        with self._lock:
            hit = self._parts.get(key)
            if hit is not None:
                self._parts.move_to_end(key)
                self.hits += 1
                return hit
        made = make()
        with self._lock:
            self.misses += 1
            self._parts[key] = made
            while len(self._parts) > self.limit:
                self._parts.popitem(last=False)
        return made

    @property
    def stats(self) -> dict[str, int]:
        return {"size": len(self), "limit": self.limit, "hits": self.hits, "misses": self.misses}
