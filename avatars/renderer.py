"""The live 2D host, drawn with OpenCV: a farm stall scene, a character that breathes,
blinks, changes expression and moves its lips from the speech timeline.

The static scene (background, product card, caption) is drawn into a persistent frame
only when it changes; each video frame restores and redraws just the character's box.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from avatars.personas import Persona
from avatars.text import draw_text, font

WIDTH, HEIGHT = 1280, 720
MOUTH_INTERIOR = (34, 22, 104)  # BGR; used nowhere else in the scene (tests look for it)
STAMP_BITS = 16
STAMP_BLOCK = 16

# character box (restored from the background each frame)
CHAR_X0, CHAR_X1, CHAR_Y0, CHAR_Y1 = 190, 670, 90, 620
HEAD_CX, HEAD_CY = 430, 270


@dataclass
class AvatarState:
    """What the host looks like at one instant."""

    t: float  # seconds on the media clock
    viseme: str = "rest"
    openness: float = 0.0  # 0..1
    expression: str = "neutral"
    speaking: bool = False


@dataclass
class Card:
    """Product card text drawn on the right of the scene."""

    title: str
    price: str
    unit: str
    lines: tuple[str, ...] = ()
    badge: str = "讲解中"


class AvatarRenderer:
    """Renders one persona at 1280×720 into a reused BGR buffer."""

    mouth_box = (HEAD_CX - 45, HEAD_CY + 40, HEAD_CX + 45, HEAD_CY + 95)  # x0, y0, x1, y1

    def __init__(self, persona: Persona, stamp: bool = False) -> None:
        self.persona = persona
        self.stamp = stamp
        self._scene = self._draw_scene()
        self._frame = self._scene.copy()
        self._card: Card | None = None
        self._caption = ""
        self._blink_seed = (zlib.crc32(persona.id.encode()) % 1000) / 1000.0  # same every run

    # --- static layers -------------------------------------------------------------
    def _draw_scene(self) -> np.ndarray:
        img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        sky_top, sky_bottom = np.array([235, 215, 170]), np.array([250, 240, 215])
        ramp = np.linspace(0, 1, HEIGHT)[:, None]
        img[:] = (sky_top * (1 - ramp) + sky_bottom * ramp).astype(np.uint8)[:, None, :]
        hills = [
            np.array(
                [
                    [0, 420],
                    [200, 330],
                    [420, 390],
                    [650, 300],
                    [900, 380],
                    [1280, 310],
                    [1280, 720],
                    [0, 720],
                ]
            ),
            np.array(
                [[0, 480], [300, 420], [600, 470], [950, 410], [1280, 460], [1280, 720], [0, 720]]
            ),
        ]
        cv2.fillPoly(img, [hills[0]], (110, 160, 110), cv2.LINE_AA)
        cv2.fillPoly(img, [hills[1]], (80, 140, 90), cv2.LINE_AA)
        # jujube trees on the far hill
        for x in range(40, 1280, 140):
            y = 420 - (x % 280) // 7
            cv2.line(img, (x, y), (x, y + 40), (40, 70, 100), 4)
            cv2.circle(img, (x, y - 8), 24, (60, 120, 70), -1, cv2.LINE_AA)
            for dx, dy in ((-10, -12), (8, -4), (-2, 6)):
                cv2.circle(img, (x + dx, y - 8 + dy), 4, (40, 40, 190), -1, cv2.LINE_AA)
        # stall table
        cv2.rectangle(img, (0, 600), (WIDTH, HEIGHT), (60, 100, 150), -1)
        cv2.rectangle(img, (0, 600), (WIDTH, 612), (45, 80, 125), -1)
        # banner
        cv2.rectangle(img, (0, 0), (WIDTH, 56), (40, 60, 170), -1)
        draw_text(img, "云链销通 · 阜平好物直播间", (24, 8), 32, (255, 255, 255))
        draw_text(
            img, f"主播 {self.persona.name} · {self.persona.role}", (700, 14), 24, (220, 235, 255)
        )
        return img

    def set_card(self, card: Card | None) -> None:
        if card == self._card:
            return
        self._card = card
        self._redraw_static()

    def set_caption(self, caption: str) -> None:
        if caption != self._caption:
            self._caption = caption
            self._redraw_caption()

    def _redraw_static(self) -> None:
        self._frame[:] = self._scene
        if self._card:
            self._draw_card(self._frame, self._card)
        self._redraw_caption()

    def _draw_card(self, img: np.ndarray, card: Card) -> None:
        x0, y0, x1, y1 = 760, 90, 1240, 560
        cv2.rectangle(img, (x0 + 6, y0 + 6), (x1 + 6, y1 + 6), (150, 150, 150), -1)
        cv2.rectangle(img, (x0, y0), (x1, y1), (250, 252, 255), -1)
        cv2.rectangle(img, (x0, y0), (x1, y0 + 50), (30, 120, 240), -1)
        draw_text(img, card.badge, (x0 + 16, y0 + 8), 28, (255, 255, 255))
        draw_text(img, card.title, (x0 + 24, y0 + 70), 44, (30, 30, 30), max_width=440, max_lines=1)
        price = f"¥{card.price}"
        draw_text(img, price, (x0 + 24, y0 + 140), 64, (20, 40, 220))
        unit_x = x0 + 36 + int(font(64).getlength(price))
        draw_text(img, f"/{card.unit}", (unit_x, y0 + 172), 30, (90, 90, 90))
        for i, line in enumerate(card.lines[:4]):
            draw_text(
                img,
                f"· {line}",
                (x0 + 24, y0 + 250 + i * 48),
                28,
                (60, 60, 60),
                max_width=430,
                max_lines=1,
            )

    def _redraw_caption(self) -> None:
        band = self._frame[640:700]
        band[:] = self._scene[640:700]
        if self._caption:
            overlay = band.copy()
            cv2.rectangle(overlay, (140, 0), (WIDTH - 140, 60), (20, 20, 20), -1)
            cv2.addWeighted(overlay, 0.6, band, 0.4, 0, dst=band)
            draw_text(
                self._frame,
                self._caption,
                (WIDTH // 2, 648),
                30,
                (255, 255, 255),
                max_width=980,
                max_lines=1,
                anchor="ma",
            )

    # --- per frame ----------------------------------------------------------------
    def render(self, state: AvatarState, frame_index: int = 0) -> np.ndarray:
        """Draw the frame for `state`; returns the shared BGR buffer (copy it to keep it)."""
        img = self._frame
        img[CHAR_Y0:CHAR_Y1, CHAR_X0:CHAR_X1] = self._scene[CHAR_Y0:CHAR_Y1, CHAR_X0:CHAR_X1]
        self._draw_character(img, state)
        if self.stamp:
            self._draw_stamp(img, frame_index)
        return img

    def _draw_character(self, img: np.ndarray, s: AvatarState) -> None:
        p = self.persona
        breath = math.sin(2 * math.pi * s.t / 3.6)
        sway = math.sin(2 * math.pi * s.t / 7.3) * (3 if s.speaking else 1.5)
        by = int(round(2.5 * breath))
        hx, hy = HEAD_CX + int(round(sway)), HEAD_CY + by
        # body
        cv2.ellipse(
            img, (HEAD_CX, 600 + by // 2), (190, 150 + by), 0, 180, 360, p.shirt, -1, cv2.LINE_AA
        )
        cv2.rectangle(img, (HEAD_CX - 190, 598), (HEAD_CX + 190, CHAR_Y1), p.shirt, -1)
        cv2.ellipse(img, (HEAD_CX, 470 + by), (60, 30), 0, 0, 180, p.accent, -1, cv2.LINE_AA)
        # neck
        cv2.rectangle(
            img, (HEAD_CX - 32, 360 + by), (HEAD_CX + 32, 450 + by), _shade(p.skin, 0.9), -1
        )
        # hair back, head, ears
        cv2.ellipse(img, (hx, hy - 20), (118, 128), 0, 0, 360, p.hair, -1, cv2.LINE_AA)
        cv2.circle(img, (hx - 108, hy + 10), 20, _shade(p.skin, 0.95), -1, cv2.LINE_AA)
        cv2.circle(img, (hx + 108, hy + 10), 20, _shade(p.skin, 0.95), -1, cv2.LINE_AA)
        cv2.ellipse(img, (hx, hy + 10), (105, 125), 0, 0, 360, p.skin, -1, cv2.LINE_AA)
        cv2.ellipse(img, (hx, hy - 85), (108, 50), 0, 180, 360, p.hair, -1, cv2.LINE_AA)
        if p.id == "xiaowang":  # straw hat
            cv2.ellipse(img, (hx, hy - 95), (160, 28), 0, 0, 360, (90, 190, 225), -1, cv2.LINE_AA)
            cv2.ellipse(img, (hx, hy - 110), (95, 60), 0, 180, 360, (80, 175, 215), -1, cv2.LINE_AA)
            cv2.line(img, (hx - 95, hy - 110), (hx + 95, hy - 110), (40, 60, 170), 8, cv2.LINE_AA)
        elif p.id == "xiaoli":  # headscarf knot
            cv2.ellipse(img, (hx, hy - 95), (112, 45), 0, 180, 360, p.accent, -1, cv2.LINE_AA)
            cv2.circle(img, (hx + 100, hy - 70), 18, p.accent, -1, cv2.LINE_AA)
        else:  # glasses added with the eyes
            pass
        self._draw_eyes(img, hx, hy, s)
        # cheeks
        blush = 0.35 if s.expression in ("happy", "excited") else 0.15
        for cx in (hx - 62, hx + 62):
            roi = img[hy + 35 : hy + 55, cx - 20 : cx + 20]
            roi[:] = (roi * (1 - blush) + np.array([120, 120, 235]) * blush).astype(np.uint8)
        # nose
        cv2.ellipse(img, (hx, hy + 30), (9, 6), 0, 0, 180, _shade(p.skin, 0.8), 2, cv2.LINE_AA)
        self._draw_mouth(img, hx, hy + 68, s)

    def _draw_eyes(self, img: np.ndarray, hx: int, hy: int, s: AvatarState) -> None:
        period = 3.7 + self._blink_seed
        phase = (s.t + self._blink_seed * 2) % period
        closed = phase < 0.14
        wide = 1.25 if s.expression == "excited" else 1.0
        brow_lift = {"happy": 6, "excited": 10, "sorry": -4, "thinking": 4}.get(s.expression, 0)
        look_up = -5 if s.expression == "thinking" else 0
        for side in (-1, 1):
            ex, ey = hx + side * 42, hy - 8
            if closed:
                cv2.line(img, (ex - 16, ey), (ex + 16, ey), (40, 40, 40), 3, cv2.LINE_AA)
            else:
                cv2.ellipse(
                    img, (ex, ey), (16, int(12 * wide)), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA
                )
                cv2.circle(img, (ex, ey + look_up), int(8 * wide), (50, 35, 30), -1, cv2.LINE_AA)
                cv2.circle(img, (ex + 3, ey - 3 + look_up), 3, (255, 255, 255), -1, cv2.LINE_AA)
            tilt = 6 * side if s.expression == "sorry" else 0
            cv2.line(
                img,
                (ex - 20, ey - 28 - brow_lift + tilt),
                (ex + 20, ey - 30 - brow_lift - tilt),
                self.persona.hair,
                5,
                cv2.LINE_AA,
            )
            if self.persona.id == "xiaozhang":
                cv2.circle(img, (ex, ey), 26, (40, 40, 40), 3, cv2.LINE_AA)
        if self.persona.id == "xiaozhang":
            cv2.line(img, (hx - 16, hy - 8), (hx + 16, hy - 8), (40, 40, 40), 3, cv2.LINE_AA)

    def _draw_mouth(self, img: np.ndarray, mx: int, my: int, s: AvatarState) -> None:
        lips = (80, 80, 185)
        o = max(0.0, min(1.0, s.openness)) if s.speaking else 0.0
        vis = s.viseme if o > 0.05 else "rest"
        if vis in ("rest", "closed"):
            smile = 14 if s.expression in ("happy", "excited") else 6
            if s.expression == "sorry":
                cv2.ellipse(img, (mx, my + 8), (26, 8), 0, 200, 340, lips, 4, cv2.LINE_AA)
            else:
                cv2.ellipse(img, (mx, my - 4), (30, smile), 0, 20, 160, lips, 4, cv2.LINE_AA)
            return
        w, h = {
            "open": (34, 6 + 26 * o),
            "round": (20, 8 + 18 * o),
            "spread": (40, 4 + 12 * o),
            "mid": (30, 5 + 18 * o),
        }.get(vis, (30, 5 + 18 * o))
        axes = (int(w), max(3, int(h)))
        cv2.ellipse(img, (mx, my), axes, 0, 0, 360, MOUTH_INTERIOR, -1, cv2.LINE_AA)
        if axes[1] > 10:  # teeth
            cv2.ellipse(
                img, (mx, my - axes[1] + 4), (int(w * 0.7), 5), 0, 0, 180, (245, 245, 245), -1
            )
        cv2.ellipse(img, (mx, my), axes, 0, 0, 360, lips, 3, cv2.LINE_AA)

    def _draw_stamp(self, img: np.ndarray, value: int) -> None:
        y0 = HEIGHT - STAMP_BLOCK
        for bit in range(STAMP_BITS):
            on = (value >> bit) & 1
            x0 = bit * STAMP_BLOCK
            img[y0:HEIGHT, x0 : x0 + STAMP_BLOCK] = 255 if on else 0


def read_stamp(bgr_or_gray: np.ndarray) -> int:
    """Read the frame index stamped by `AvatarRenderer(stamp=True)` from a decoded frame."""
    img = bgr_or_gray if bgr_or_gray.ndim == 2 else bgr_or_gray.mean(axis=2)
    y = HEIGHT - STAMP_BLOCK // 2
    value = 0
    for bit in range(STAMP_BITS):
        x = bit * STAMP_BLOCK + STAMP_BLOCK // 2
        if img[y - 3 : y + 3, x - 3 : x + 3].mean() > 128:
            value |= 1 << bit
    return value


def mouth_pixels(bgr: np.ndarray, tolerance: int = 40) -> int:
    """Count mouth-interior pixels in the mouth box (how open the lips are in a decoded frame)."""
    x0, y0, x1, y1 = AvatarRenderer.mouth_box
    roi = bgr[y0:y1, x0 - 10 : x1 + 10].astype(np.int16)
    diff = np.abs(roi - np.array(MOUTH_INTERIOR, np.int16)).max(axis=2)
    return int((diff < tolerance).sum())


def _shade(color: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(int(c * k) for c in color)  # type: ignore[return-value]
