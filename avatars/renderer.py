"""The live 2D host, drawn with skia: an illustrated character in its own scene that
breathes, blinks, looks around, changes expression, gestures and moves its lips.

The scene, banner and product card are drawn once into a cached BGRA layer. Each frame
copies only the host's region (where it is now and where it was last frame, from the
bounds of its parts) from that layer, draws the host into it with skia and converts that
region into the reused BGR frame. Captions and countdowns are pasted from small
caches keyed by their text, so changing them every frame stays cheap and bounded.

A live room, which only encodes its frames, uses `draw` + `take_patches` instead: the
host's region is handed to the encoder as the BGRA pixels skia drew, and converted into
the BGR frame only when someone asks for that frame (`render`).
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
import skia

from avatars import overlays
from avatars.art import hosts
from avatars.art.host import (
    TILT_CACHE,
    Placement,
    Pose,
    draw_host,
    host_bounds,
    paint_host,
    place,
)
from avatars.art.scenes import draw_scene
from avatars.cardlayer import FACE_CACHE, PART_CACHE, CardLayer, draw_into, intersects
from avatars.cardlayer import bgra_surface as _bgra_surface
from avatars.gestures import POINT, PRESENT, arm_pose
from avatars.layout import LANDSCAPE, Box, Layout, layout_for
from avatars.motion import ExpressionBlend, MouthBlend, blink, body_motion, saccade
from avatars.personas import Persona

WIDTH, HEIGHT = LANDSCAPE.width, LANDSCAPE.height
MOUTH_INTERIOR = (34, 22, 104)  # BGR; used nowhere else in the scene (tests look for it)
STAMP_BITS = 16
STAMP_BLOCK = 16
HEAD_CX, HEAD_CY = LANDSCAPE.head
CHAR_X0, CHAR_Y0, CHAR_X1, CHAR_Y1 = LANDSCAPE.char_box
TEXT_CACHE = 48  # rendered captions / countdowns kept per renderer
HOST_MARGIN = 3  # device px around the host's computed bounds (whole-pixel blits, AA)


@dataclass
class AvatarState:
    """What the host looks like at one instant."""

    t: float  # seconds on the media clock
    viseme: str = "rest"
    openness: float = 0.0  # 0..1
    expression: str = "neutral"
    speaking: bool = False
    gesture: str | None = None  # "wave", "point", "present", "thumbs_up"
    gesture_progress: float = 0.0  # 0..1 through the gesture
    gaze: tuple[float, float] | None = None  # -1..1 each; None: the host's own glances
    stress: float = 0.0  # 0..1 on stressed syllables: a small nod
    presenting: bool = False  # eyes go to the product card
    product: str | None = None  # catalogue category held up by "present"


@dataclass
class Card:
    """Product card drawn beside the host."""

    title: str
    price: str
    unit: str
    lines: tuple[str, ...] = ()
    badge: str = "讲解中"
    category: str | None = None  # catalogue category: picks the product illustration
    countdown: str = ""  # promotion countdown, e.g. "02:59"; empty hides it


class AvatarRenderer:
    """Renders one persona at 1280×720, 720×1280 or their 480p sizes (854×480, 480×854)
    into a reused BGR buffer."""

    mouth_box = LANDSCAPE.mouth_box()  # x0, y0, x1, y1 of the landscape layout

    def __init__(
        self,
        persona: Persona,
        stamp: bool = False,
        width: int = WIDTH,
        height: int = HEIGHT,
        cached: bool = True,
    ) -> None:
        self.persona = persona
        self.cached = cached  # False: every part drawn from paths each frame (the reference)
        self.stamp = stamp
        self.layout: Layout = layout_for(width, height)
        self.width, self.height = width, height
        self.mouth_box = self.layout.mouth_box()
        self.design = hosts.design(persona.id)
        self._sprites = hosts.sprites(persona.id, self.layout.scale)
        self._seed = zlib.crc32(persona.id.encode()) % 100_000
        self._expr = ExpressionBlend()
        self._mouth = MouthBlend()
        self._card: Card | None = None
        self._caption = ""
        self._countdown: str | None = ""  # None: unknown, the card was redrawn under it
        self._captions: OrderedDict[str, np.ndarray] = OrderedDict()
        self._countdowns: OrderedDict[str, np.ndarray] = OrderedDict()
        self._text_hits = {"captions": 0, "countdowns": 0}
        self._text_misses = {"captions": 0, "countdowns": 0}
        self._frames = 0  # frames composited over the cached scene and card
        # boxes changed since take_dirty()/take_patches(), each with True when it is the host's
        # region (its pixels are in the BGRA box); None: the whole frame
        self._dirty: list[tuple[Box, bool]] | None = None
        # the part of the character box drawn (BGRA) but not yet converted into the BGR frame
        self._unsynced: Box | None = None
        # the BGRA box can go to an encoder as it is when its edges are even (a converted
        # region is widened to whole 2×2 chroma blocks, which must lie inside it)
        self._even_box = all(v % 2 == 0 for v in self.layout.char_box)
        # layers: scene (static) -> base (+ card) -> frame (+ caption, countdown, host)
        self._scene = self._draw_scene()
        self._chrome = self._scene.copy()  # the scene with an empty card on it
        lay, d = self.layout, self.layout.base
        self._scale = (lay.sx, lay.sy)  # frame pixels per design unit (1, 1 at 720p)
        draw_into(self._chrome, (0, 0), lambda c: overlays.card_chrome(c, d.card), self._scale)
        # the caption and countdown pills without words: each new text only draws its words
        self._caption_pill = self._blank(self._scene, self.layout.caption, overlays.caption_pill)
        self._pill = self._blank(self._chrome, self.layout.countdown, overlays.countdown_pill)
        self._card_layer = CardLayer(
            lay.card,
            lay.countdown,
            self._scene,
            self._chrome,
            design=(d.card, d.countdown),
            scale=self._scale,
        )
        self._base = self._scene.copy()
        self._base_surface = _bgra_surface(self._base)
        self._frame = np.ascontiguousarray(self._base[:, :, :3])
        x0, y0, x1, y1 = self.layout.char_box
        self._box = np.empty((y1 - y0, x1 - x0, 4), np.uint8)
        self._box_surface = _bgra_surface(self._box)
        self._box_in_frame = self._frame[y0:y1, x0:x1]  # a view: converted into in place
        self._last_host: Box | None = None  # last frame's host region in the box (None: unknown)
        self._host_pixels = 0  # pixels redrawn for the host, over all frames

    def take_dirty(self) -> list[Box] | None:
        """The boxes of the frame changed since the last call (None: the whole frame), so an
        encoder converts only those; the next call starts from nothing changed."""
        dirty, self._dirty = self._dirty, []
        return None if dirty is None else [box for box, _ in dirty]

    def take_patches(self) -> list[tuple[Box, np.ndarray, tuple[int, int]]]:
        """What changed since the last call, in the order it changed, as (box, pixels, origin):
        frame box `box` is found in `pixels` (BGR, or BGRA for the host's region) at
        `box - origin`. The first call covers the whole frame. For `draw`, which leaves the
        host's region in BGRA; the next call starts from nothing changed."""
        dirty, self._dirty = self._dirty, []
        cx0, cy0 = self.layout.char_box[:2]
        if dirty is None:
            whole = [((0, 0, self.width, self.height), self._frame, (0, 0))]
            if not self._even_box:
                return whole
            return [*whole, (self.layout.char_box, self._box, (cx0, cy0))]
        return [
            (box, self._box, (cx0, cy0)) if host and self._even_box else (box, self._frame, (0, 0))
            for box, host in dirty
        ]

    def _touch(self, box: Box, host: bool = False) -> None:
        if self._dirty is not None:
            self._dirty.append((box, host))

    # --- static layers -------------------------------------------------------------
    def _draw_scene(self) -> np.ndarray:
        d = self.layout.base  # drawn in the design's coordinates, scaled to this frame
        img = np.zeros((self.height, self.width, 4), np.uint8)
        surface = _bgra_surface(img)
        c = surface.getCanvas()
        c.scale(self.layout.sx, self.layout.sy)
        draw_scene(c, self.persona.id, d.width, d.height, d.table_y, d.head[0])
        overlays.banner(c, d.width, self.persona.name, self.persona.role)
        surface.flushAndSubmit()
        return img

    @property
    def cache_sizes(self) -> dict[str, int]:
        """Entries in the text caches (bounded by TEXT_CACHE each)."""
        return {"captions": len(self._captions), "countdowns": len(self._countdowns)}

    @property
    def cache_stats(self) -> dict[str, dict[str, int]]:
        """Per cached layer: entries kept (`size`, with its bound `limit`), reuses (`hits`)
        and draws (`misses`). The scene is drawn once and reused by every frame; head, hand
        and face parts are shared by every renderer of this persona at this size in the
        process."""
        hands, sp = self._sprites.hands, self._sprites
        out = {
            "scene": {"size": 1, "limit": 1, "hits": self._frames, "misses": 1},
            "card": {
                "size": self._card_layer.cached,
                "limit": PART_CACHE + FACE_CACHE,
                "hits": self._card_layer.hits,
                "misses": self._card_layer.redraws,
            },
            "heads": {
                "size": sp.head_count,
                "limit": TILT_CACHE,
                "hits": sp.head_hits,
                "misses": sp.head_misses,
            },
            "hands": {
                "size": len(hands),
                "limit": hands.size,
                "hits": hands.hits,
                "misses": hands.misses,
            },
        }
        face = sp.face
        for name, parts in (
            ("eyes", face.eyes),
            ("brows", face.brows),
            ("cheeks", face.cheeks),
            ("mouths", face.mouths),
        ):
            out[name] = parts.stats
        for name, cache in (("captions", self._captions), ("countdowns", self._countdowns)):
            out[name] = {
                "size": len(cache),
                "limit": TEXT_CACHE,
                "hits": self._text_hits[name],
                "misses": self._text_misses[name],
            }
        return out

    def set_card(self, card: Card | None) -> None:
        """Show `card` (None: no card); only the parts whose words changed are redrawn."""
        for box, patch in self._card_layer.update(card):
            x0, y0, x1, y1 = box
            self._base[y0:y1, x0:x1, :3] = patch
            self._paste(box, patch)
            self._touch(box)
            if intersects(box, self.layout.countdown):
                self._countdown = None  # painted over: draw or clear it again below
        self._card = card
        self._set_countdown(card.countdown if card else "")

    def set_caption(self, caption: str) -> None:
        if caption == self._caption:
            return
        self._caption = caption
        x0, y0, x1, y1 = self.layout.caption
        self._touch(self.layout.caption)
        if not caption:  # no pill either: the scene shows through
            self._paste(self.layout.caption, self._base[y0:y1, x0:x1, :3])
            return
        self._paste(
            self.layout.caption,
            self._cached(
                self._captions,
                caption,
                self.layout.caption,
                overlays.caption_text,
                self._caption_pill,
            ),
        )

    def _set_countdown(self, value: str) -> None:
        if value == self._countdown:
            return
        x0, y0, x1, y1 = self.layout.countdown
        self._touch(self.layout.countdown)
        box = self.layout.countdown
        if value:  # drawn over the empty pill, so one cache serves every card
            self._paste(
                box, self._cached(self._countdowns, value, box, overlays.countdown_text, self._pill)
            )
        elif self._countdown is None or self._countdown:
            self._paste(box, self._base[y0:y1, x0:x1, :3])
        self._countdown = value

    def _design(self, box: Box) -> Box:
        """The design box drawn into the layout's pixel `box` (itself at 720p)."""
        lay = self.layout
        for name in ("caption", "countdown", "card"):
            if getattr(lay, name) == box:
                return getattr(lay.base, name)
        raise ValueError(f"not a layout box: {box}")

    def _paste(self, box: Box, patch: np.ndarray) -> None:
        """BGR `patch` into the frame at `box`."""
        x0, y0, x1, y1 = box
        self._frame[y0:y1, x0:x1] = patch
        self._mirror(box)

    def _mirror(self, box: Box) -> None:
        """The BGRA character box stays the truth for its area (`draw` leaves the host's
        pixels there): a write into the BGR frame that reaches it goes into it too."""
        cx0, cy0, cx1, cy1 = self.layout.char_box
        x0, y0, x1, y1 = max(box[0], cx0), max(box[1], cy0), min(box[2], cx1), min(box[3], cy1)
        if x0 < x1 and y0 < y1:
            self._box[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0, :3] = self._frame[y0:y1, x0:x1]

    def _blank(self, under: np.ndarray, box: tuple[int, int, int, int], draw) -> np.ndarray:
        """The BGRA tile of `box` over `under` (full frame) with `draw(c, box)` on it."""
        x0, y0, x1, y1 = box
        tile = np.ascontiguousarray(under[y0:y1, x0:x1])
        design = self._design(box)
        return draw_into(tile, (x0, y0), lambda c: draw(c, design), self._scale)

    def _cached(
        self,
        cache: OrderedDict,
        value: str,
        box: tuple[int, int, int, int],
        draw,
        under: np.ndarray,
    ) -> np.ndarray:
        """The BGR patch of `box` showing `value` over `under` (the box's tile), rasterised once."""
        name = "captions" if cache is self._captions else "countdowns"
        patch = cache.get(value)
        if patch is not None:
            self._text_hits[name] += 1
            cache.move_to_end(value)
            return patch
        self._text_misses[name] += 1
        x0, y0 = box[0], box[1]
        tile = under.copy()
        if value:
            design = self._design(box)
            draw_into(tile, (x0, y0), lambda c: draw(c, design, value), self._scale)
        patch = np.ascontiguousarray(tile[:, :, :3])
        cache[value] = patch
        if len(cache) > TEXT_CACHE:
            cache.popitem(last=False)
        return patch

    # --- per frame ----------------------------------------------------------------
    def render(self, state: AvatarState, frame_index: int = 0) -> np.ndarray:
        """Draw the frame for `state`; returns the shared BGR buffer (copy it to keep it)."""
        self._draw_host(state)
        rx0, ry0, rx1, ry1 = self._unsynced
        self._unsynced = None
        cv2.cvtColor(
            self._box[ry0:ry1, rx0:rx1],
            cv2.COLOR_BGRA2BGR,
            dst=self._box_in_frame[ry0:ry1, rx0:rx1],
        )
        self._finish(frame_index)
        return self._frame

    def draw(self, state: AvatarState, frame_index: int = 0) -> None:
        """Draw the frame for `state` as `render` does, but leave the host's region in BGRA
        for `take_patches` (a live room only encodes its frames): `render` converts it into
        the BGR frame when someone asks for that."""
        if not self._even_box:  # its 2×2 chroma blocks would reach outside the BGRA box
            self.render(state, frame_index)
            return
        self._draw_host(state)
        self._finish(frame_index)

    def _finish(self, frame_index: int) -> None:
        if self.stamp:
            self._draw_stamp(self._frame, frame_index)
            box = (0, self.height - STAMP_BLOCK, STAMP_BITS * STAMP_BLOCK, self.height)
            self._mirror(box)
            self._touch(box)
        self._frames += 1

    def _draw_host(self, state: AvatarState) -> None:
        """The host for `state` into the BGRA character box, over the cached layers."""
        x0, y0, x1, y1 = self.layout.char_box
        placed = place(self.design, self.pose(state), self._sprites, self.cached)
        rx0, ry0, rx1, ry1 = self._host_region(placed)
        region = self._box[ry0:ry1, rx0:rx1]
        np.copyto(region, self._base[y0 + ry0 : y0 + ry1, x0 + rx0 : x0 + rx1])
        c = self._box_surface.getCanvas()
        c.save()
        hx, hy = self.layout.head
        c.translate(hx - x0, hy - y0)
        s = self.layout.scale
        if s != 1.0:
            c.scale(s, s)
        c.clipRect(skia.Rect.MakeLTRB(-1000, -1000, 1000, (self.layout.table_y - hy) / s))
        paint_host(c, self.design, placed, self._sprites, self.cached)
        c.restore()
        self._box_surface.flushAndSubmit()
        u = self._unsynced
        self._unsynced = (
            (rx0, ry0, rx1, ry1)
            if u is None
            else (min(rx0, u[0]), min(ry0, u[1]), max(rx1, u[2]), max(ry1, u[3]))
        )
        self._touch((x0 + rx0, y0 + ry0, x0 + rx1, y0 + ry1), host=True)
        self._host_pixels += (rx1 - rx0) * (ry1 - ry0)

    def _host_region(self, placed: Placement) -> Box:
        """The character box's part (box coordinates) redrawn this frame: where the host is
        now and where it was last frame (its old pixels go back to the background). The
        reference renderer redraws the whole box."""
        x0, y0, x1, y1 = self.layout.char_box
        w, h = x1 - x0, y1 - y0
        if not self.cached:
            return (0, 0, w, h)
        b = host_bounds(self.design, placed, self._sprites)
        hx, hy = self.layout.head
        s = self.layout.scale
        now = (
            max(0, math.floor(b.left() * s + hx - x0) - HOST_MARGIN),
            max(0, math.floor(b.top() * s + hy - y0) - HOST_MARGIN),
            min(w, math.ceil(b.right() * s + hx - x0) + HOST_MARGIN),
            min(h, math.ceil(b.bottom() * s + hy - y0) + HOST_MARGIN),
        )
        last, self._last_host = self._last_host, now
        if last is None:
            return (0, 0, w, h)
        return (
            min(now[0], last[0]),
            min(now[1], last[1]),
            max(now[2], last[2]),
            max(now[3], last[3]),
        )

    @property
    def host_region_share(self) -> float:
        """The mean share of the frame's pixels redrawn for the host, over the frames so far
        (everything else is served from the cached layers)."""
        if not self._frames:
            return 0.0
        return round(self._host_pixels / (self._frames * self.width * self.height), 4)

    def character_mask(self, state: AvatarState) -> np.ndarray:
        """Boolean mask (frame-sized) of the pixels the host covers: the silhouette."""
        x0, y0, x1, y1 = self.layout.char_box
        alpha = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
        surface = _bgra_surface(alpha)
        c = surface.getCanvas()
        hx, hy = self.layout.head
        c.translate(hx - x0, hy - y0)
        c.scale(self.layout.scale, self.layout.scale)
        c.clipRect(
            skia.Rect.MakeLTRB(-1000, -1000, 1000, (self.layout.table_y - hy) / self.layout.scale)
        )
        draw_host(c, self.design, self.pose(state), self._sprites)
        surface.flushAndSubmit()
        mask = np.zeros((self.height, self.width), bool)
        mask[y0:y1, x0:x1] = alpha[:, :, 3] > 128
        return mask

    def pose(self, s: AvatarState) -> Pose:
        """Everything that moves, for state `s` (blends expressions and lip shapes in time)."""
        t = _finite(s.t, 0.0)
        d = self.design
        face = self._expr.at(str(s.expression), t)
        mouth = self._mouth.at(str(s.viseme), _finite(s.openness, 0.0), bool(s.speaking), t)
        stress = max(0.0, min(1.0, _finite(s.stress, 0.0)))
        body = body_motion(t, self._seed, stress, s.speaking, d.lively)
        presenting = s.presenting or s.gesture in (PRESENT, POINT)
        if s.gaze is not None:
            gaze = (_finite(s.gaze[0], 0.0), _finite(s.gaze[1], 0.0))
        elif presenting:
            gaze = self.layout.card_gaze
        else:
            gaze = saccade(t, self._seed)
        near, other = arm_pose(s.gesture, _finite(s.gesture_progress, 0.0), t, self.layout.point)
        product = s.product or (self._card.category if self._card else None)
        return Pose(face, mouth, blink(t, self._seed), gaze, body, near, other, product, t)

    def _draw_stamp(self, img: np.ndarray, value: int) -> None:
        y0 = img.shape[0] - STAMP_BLOCK
        for bit in range(STAMP_BITS):
            on = (value >> bit) & 1
            x0 = bit * STAMP_BLOCK
            img[y0:, x0 : x0 + STAMP_BLOCK] = 255 if on else 0


def _finite(x: float, default: float) -> float:
    """A bad number from upstream (NaN, inf, None) must not stop the stream."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def read_stamp(bgr_or_gray: np.ndarray) -> int:
    """Read the frame index stamped by `AvatarRenderer(stamp=True)` from a decoded frame."""
    img = bgr_or_gray if bgr_or_gray.ndim == 2 else bgr_or_gray.mean(axis=2)
    y = img.shape[0] - STAMP_BLOCK // 2
    value = 0
    for bit in range(STAMP_BITS):
        x = bit * STAMP_BLOCK + STAMP_BLOCK // 2
        if img[y - 3 : y + 3, x - 3 : x + 3].mean() > 128:
            value |= 1 << bit
    return value


def mouth_pixels(bgr: np.ndarray, tolerance: int = 40) -> int:
    """Count mouth-interior pixels in the mouth box (how open the lips are in a decoded frame)."""
    try:
        lay = layout_for(bgr.shape[1], bgr.shape[0])
    except ValueError:  # a frame of another size: read it as the landscape room's
        lay = LANDSCAPE
    x0, y0, x1, y1 = lay.mouth_box()
    roi = bgr[y0:y1, x0 - 10 : x1 + 10].astype(np.int16)
    diff = np.abs(roi - np.array(MOUTH_INTERIOR, np.int16)).max(axis=2)
    return int((diff < tolerance).sum())
