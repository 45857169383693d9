"""The product card as cached layers, so a change redraws only the part that changed.

A card is a face (paper, badge, product picture) plus three parts stacked in a column:
title, price and bullet lines. Faces are cached by (badge, category) and each part by its
own words and box, so a price or a title that changes every frame costs one small patch."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import skia

from avatars import overlays
from avatars.layout import scale_box
from avatars.overlays import Box, CardGeometry

PART_CACHE = 48  # rendered part patches kept per card layer
FACE_CACHE = 8
SHADOW = 24  # the card's soft shadow reaches this far past its box


def bgra_surface(arr: np.ndarray) -> skia.Surface:
    info = skia.ImageInfo.Make(
        arr.shape[1],
        arr.shape[0],
        skia.ColorType.kBGRA_8888_ColorType,
        skia.AlphaType.kPremul_AlphaType,
    )
    return skia.Surface.MakeRasterDirect(info, arr, arr.strides[0])


def draw_into(
    tile: np.ndarray,
    origin: tuple[int, int],
    draw: Callable[[skia.Canvas], None],
    scale: tuple[float, float] = (1.0, 1.0),
):
    """Run `draw` on a BGRA tile whose top-left is `origin` in frame pixels; `draw` works in
    design coordinates, which are frame pixels times `scale`."""
    surface = bgra_surface(tile)
    c = surface.getCanvas()
    c.translate(-origin[0], -origin[1])
    if scale != (1.0, 1.0):
        c.scale(*scale)
    draw(c)
    surface.flushAndSubmit()
    return tile


class CardLayer:
    """Patches that turn the frame's card area into a given `Card`, only what changed."""

    def __init__(
        self,
        box: Box,
        countdown: Box,
        scene: np.ndarray,
        chrome: np.ndarray,
        design: tuple[Box, Box] | None = None,
        scale: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        """`box` and `countdown` are in frame pixels; a scaled frame (480p) passes the
        design's card and countdown boxes (`design`), which the card is drawn in, and the
        frame's `scale` against them."""
        self.box, self.countdown = box, countdown
        self._design_box, self._design_countdown = design or (box, countdown)
        self.scale = scale
        self._scene, self._chrome = scene, chrome  # full-frame BGRA: no card / empty card
        h, w = scene.shape[:2]
        x0, y0, x1, y1 = box
        shadow = math.ceil(SHADOW * max(scale))
        self.shadow_box: Box = (
            max(0, x0 - shadow),
            max(0, y0 - shadow),
            min(w, x1 + shadow),
            min(h, y1 + shadow),
        )
        self._faces: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._parts: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._shown: dict[str, tuple | None] = {}
        self.redraws = 0  # parts rasterised (not served from the cache)
        self.hits = 0  # faces and parts pasted from the cache, not rasterised again

    @property
    def cached(self) -> int:
        return len(self._faces) + len(self._parts)

    def update(self, card) -> list[tuple[Box, np.ndarray]]:
        """(frame box, BGR patch) pairs to paste, in order, to show `card` (None: no card)."""
        out: list[tuple[Box, np.ndarray]] = []
        if card is None:
            if self._shown:
                self._shown = {}
                out.append((self.shadow_box, _crop(self._scene, self.shadow_box)[:, :, :3]))
            return out
        if not self._shown:
            out.append((self.shadow_box, _crop(self._chrome, self.shadow_box)[:, :, :3]))
        face_key = (card.badge, card.category)
        face = self._face(face_key)
        if self._shown.get("face") != face_key:
            self._shown = {"face": face_key}
            out.append((self.box, face[:, :, :3]))
        cd = self._design_countdown if card.countdown else None
        g = overlays.card_geometry(self._design_box, card.title, cd)
        parts = (
            ("title", g.title, (card.title, g.title_lines), overlays.card_title, (card.title,)),
            (
                "price",
                g.price,
                (card.price, card.unit),
                overlays.card_price,
                (card.price, card.unit),
            ),
            (
                "lines",
                g.lines,
                (tuple(card.lines), g.line_limit),
                overlays.card_lines,
                (tuple(card.lines),),
            ),
        )
        for name, box, words, draw, args in parts:
            key = (name, face_key, box, words)
            if self._shown.get(name) == key or box[3] <= box[1]:
                continue
            self._shown[name] = key
            patch = self._parts.get(key)
            if patch is None:
                patch = self._draw_part(face, box, g, draw, args)
                self._parts[key] = patch
                if len(self._parts) > PART_CACHE:
                    self._parts.popitem(last=False)
            else:
                self.hits += 1
                self._parts.move_to_end(key)
            out.append((self._pixels(box), patch))
        return out

    def _pixels(self, box: Box) -> Box:
        """A design box of the card in frame pixels, inside the card."""
        if self.scale == (1.0, 1.0):
            return box
        x0, y0, x1, y1 = scale_box(box, *self.scale)
        cx0, cy0, cx1, cy1 = self.box
        return (max(x0, cx0), max(y0, cy0), min(x1, cx1), min(y1, cy1))

    def _face(self, key: tuple) -> np.ndarray:
        face = self._faces.get(key)
        if face is not None:
            self.hits += 1
            self._faces.move_to_end(key)
            return face
        x0, y0, _, _ = self.box
        tile = np.ascontiguousarray(_crop(self._chrome, self.box))
        face = draw_into(
            tile, (x0, y0), lambda c: overlays.card_face(c, self._design_box, *key), self.scale
        )
        self.redraws += 1
        self._faces[key] = face
        if len(self._faces) > FACE_CACHE:
            self._faces.popitem(last=False)
        return face

    def _draw_part(self, face: np.ndarray, box: Box, g: CardGeometry, draw, args) -> np.ndarray:
        cx, cy = self.box[0], self.box[1]
        x0, y0, x1, y1 = self._pixels(box)
        tile = np.ascontiguousarray(face[y0 - cy : y1 - cy, x0 - cx : x1 - cx])
        draw_into(tile, (x0, y0), lambda c: draw(c, g, *args), self.scale)
        self.redraws += 1
        return np.ascontiguousarray(tile[:, :, :3])


def _crop(img: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return img[y0:y1, x0:x1]


def intersects(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
