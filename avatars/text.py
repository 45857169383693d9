"""Chinese text onto BGR images with Pillow (captions, product cards).

Uses a CJK font from the system (Debian's fonts-noto-cjk) when one is installed; without
one it still draws, with Pillow's default font, so a missing font never stops a room.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

LINE_BREAKS = re.compile(r"[\r\n\v\f\u0085\u2028\u2029]+")


@functools.lru_cache(maxsize=16)
def font(size: int) -> ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def has_cjk_font() -> bool:
    return any(Path(p).exists() for p in FONT_CANDIDATES)


def draw_text(
    img: np.ndarray,
    text: str,
    xy: tuple[int, int],
    size: int,
    color: tuple[int, int, int],
    max_width: int | None = None,
    max_lines: int = 2,
    anchor: str = "la",
) -> None:
    """Draw `text` (BGR colour) into `img` in place, wrapping by characters to `max_width`."""
    text = LINE_BREAKS.sub(" ", text)  # Pillow's layout engine refuses raw line breaks
    x, y = xy
    f = font(size)
    lines = wrap(text, f, max_width) if max_width else [text]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    # draw onto a crop to keep the Pillow conversion small
    h = int(size * 1.35) * len(lines) + 4
    w = max_width or int(f.getlength(text)) + 4
    if anchor == "ma":
        x -= w // 2
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, img.shape[1]), min(y + h, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    crop = Image.fromarray(img[y0:y1, x0:x1][:, :, ::-1])
    d = ImageDraw.Draw(crop)
    rgb = (color[2], color[1], color[0])
    for i, line in enumerate(lines):
        lx = x - x0
        if anchor == "ma":
            lx += (w - int(f.getlength(line))) // 2
        d.text((lx, y - y0 + i * int(size * 1.35)), line, font=f, fill=rgb)
    img[y0:y1, x0:x1] = np.asarray(crop)[:, :, ::-1]


def wrap(text: str, f: ImageFont.ImageFont, max_width: int) -> list[str]:
    lines: list[str] = []
    cur = ""
    for ch in text:
        if f.getlength(cur + ch) > max_width and cur:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        lines.append(cur)
    return lines or [""]
