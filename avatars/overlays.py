"""Text over the scene with skia: the banner, the product card, captions and the promotion
countdown. Chinese text uses Noto Sans CJK SC; odd characters are cleaned, never fatal."""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import skia

from avatars.art import props
from avatars.art.kit import argb, fill, linear, soft, stroke

FONT_FILES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),  # index 2: Simplified Chinese
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
Box = tuple[int, int, int, int]  # x0, y0, x1, y1
MAX_TEXT = 200  # characters kept from any one string (a caption is a sentence, not a book)


@functools.lru_cache(maxsize=2)
def typeface(bold: bool = True) -> skia.Typeface:
    files = FONT_FILES if bold else FONT_FILES[1:]
    for path, index in files:
        if Path(path).exists():
            tf = skia.Typeface.MakeFromFile(path, index)
            if tf is not None:
                return tf
    return skia.Typeface()


@functools.lru_cache(maxsize=32)
def font(size: float, bold: bool = True) -> skia.Font:
    f = skia.Font(typeface(bold), size)
    f.setEdging(skia.Font.Edging.kAntiAlias)
    f.setSubpixel(True)
    return f


def clean(text: str) -> str:
    """One printable line: controls, format marks (RTL overrides, zero-width) and
    unassigned code points go; line breaks and tabs become spaces."""
    out = []
    for ch in text[: MAX_TEXT * 2]:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\v\f\u0085\u2028\u2029":
            out.append(" ")
        elif cat[0] != "C":
            out.append(ch)
    return " ".join("".join(out).split())[:MAX_TEXT]


def fit(text: str, f: skia.Font, max_width: float, max_lines: int = 1) -> list[str]:
    """Wrap by characters into at most `max_lines`, ending with … when it overflows."""
    lines: list[str] = []
    cur = ""
    for ch in text:
        if cur and f.measureText(cur + ch) > max_width:
            lines.append(cur)
            cur = ch
            if len(lines) == max_lines:
                break
        else:
            cur += ch
    else:
        if cur:
            lines.append(cur)
        return lines or [""]
    last = lines[-1]
    while last and f.measureText(last + "…") > max_width:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


def text(
    c: skia.Canvas,
    s: str,
    x: float,
    y: float,
    size: float,
    color: int,
    bold: bool = True,
    max_width: float | None = None,
    max_lines: int = 1,
    center: bool = False,
    halo: int | None = None,
) -> float:
    """Draw `s` with its top-left (or top-centre) at (x, y); returns the height used."""
    f = font(size, bold)
    lines = fit(clean(s), f, max_width, max_lines) if max_width else [clean(s)]
    lead = size * 1.3
    for i, line in enumerate(lines):
        lx = x - f.measureText(line) / 2 if center else x
        ly = y + size * 0.95 + i * lead
        if halo is not None:
            c.drawString(line, lx, ly, f, stroke(halo, size * 0.16))
        c.drawString(line, lx, ly, f, fill(color))
    return lead * len(lines)


def rrect(x0: float, y0: float, x1: float, y1: float, r: float) -> skia.RRect:
    return skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(x0, y0, x1, y1), r, r)


def banner(c: skia.Canvas, w: int, name: str, role: str) -> None:
    """Live badge, room title and the host's name tag along the top."""
    # a portrait frame fills a phone screen cropped at the sides: keep clear of the crop
    m = 16 if w > 900 else 72
    live_w = 56 + font(20).measureText("直播中")
    c.drawRRect(
        rrect(m, 14, m + live_w, 50, 18),
        linear((m, 14), (m + live_w, 50), [0xFF3B5C, 0xE02040]),
    )
    c.drawCircle(m + 20, 32, 6, fill(0xFFFFFF))
    text(c, "直播中", m + 32, 19, 20, 0xFFFFFF)
    title = "云链销通 · 阜平好物直播间"
    tw = font(24).measureText(title)
    tx = m + 10 + live_w
    c.drawRRect(rrect(tx, 14, tx + tw + 28, 50, 18), fill(0x000000, 0.38))
    text(c, title, tx + 14, 17, 24, 0xFFFFFF)
    if w > 900:
        tag = f"主播 {name} · {role}"
        tg = font(20, False).measureText(tag)
        c.drawRRect(rrect(w - tg - 44, 14, w - 16, 50, 18), fill(0x000000, 0.38))
        text(c, tag, w - tg - 30, 20, 20, 0xFFFFFF, bold=False)
    else:
        tag = f"主播 {name}"
        c.drawRRect(
            rrect(m, 60, m + 8 + font(20).measureText(tag) + 16, 92, 16), fill(0x000000, 0.38)
        )
        text(c, tag, m + 12, 63, 20, 0xFFFFFF)


def card_chrome(c: skia.Canvas, box: tuple[int, int, int, int]) -> None:
    """The card without its words: soft shadow, paper, header band (drawn once per room)."""
    x0, y0, x1, y1 = box
    c.drawRRect(rrect(x0 + 4, y0 + 10, x1 + 4, y1 + 10, 22), soft(0x000000, 0.28, 12))
    c.drawRRect(rrect(x0, y0, x1, y1, 22), fill(0xFFFDF8))
    c.save()
    c.clipRRect(rrect(x0, y0, x1, y1, 22), doAntiAlias=True)
    c.drawRect(
        skia.Rect.MakeLTRB(x0, y0, x1, y0 + 46), linear((x0, y0), (x1, y0), [0xFF6A2A, 0xF02C44])
    )
    c.restore()


@dataclass(frozen=True)
class CardGeometry:
    """Where the card's parts go for one title length: the words sit in a column of boxes
    (title, price, bullet lines) stacked top to bottom, each redrawn on its own."""

    wide: bool  # a portrait room's card: picture left, words right
    title_size: float
    title_lines: int
    title: Box
    price: Box
    lines: Box  # down to the card's foot, under the countdown too
    line_limit: int  # bullet lines end above this y (the countdown's top)


def card_geometry(
    box: Box, title: str, countdown_box: Box | None, max_title_lines: int | None = None
) -> CardGeometry:
    x0, y0, x1, y1 = box
    wide = (x1 - x0) > (y1 - y0)
    if wide:
        tx, ty, tw, size, price_h = x0 + 200, y0 + 56, x1 - x0 - 220, 34.0, 62
        # a short (portrait-room) card keeps the title to one line to leave room for a bullet
        limit_lines = max_title_lines or (1 if (y1 - y0) < 300 else 2)
    else:
        tx, ty, tw, size, price_h = x0 + 24, y0 + 64, (x1 - x0) - 190, 40.0, 86
        limit_lines = max_title_lines or 2
    n = len(fit(clean(title), font(size), tw, limit_lines))
    th = int(math.ceil(size * 1.3 * n))
    limit = (countdown_box[1] if countdown_box else y1) - 6
    col0, col1 = tx - 6, x1 - 12
    return CardGeometry(
        wide,
        size,
        n,
        (col0, ty, col1, ty + th),
        (col0, ty + th, col1, ty + th + price_h),
        (col0, ty + th + price_h, col1, max(ty + th + price_h, y1 - 6)),
        limit,
    )


def card_face(c: skia.Canvas, box: Box, badge: str, category: str | None) -> None:
    """The card's fixed part over `card_chrome`: badge and product picture."""
    x0, y0, x1, y1 = box
    text(c, badge, x0 + 20, y0 + 8, 24, 0xFFFFFF, max_width=(x1 - x0) - 40)
    if (x1 - x0) > (y1 - y0):
        ix, iy, r, k = x0 + 100, y0 + 46 + 92, 78, 1.15
    else:
        ix, iy, r, k = x1 - 90, y0 + 46 + 74, 62, 0.9
    c.drawCircle(ix, iy, r, fill(0xFFF0DC))
    props.draw(c, category or "", ix, iy, k)


def card_title(c: skia.Canvas, g: CardGeometry, title: str) -> None:
    x0, y0, x1, _ = g.title
    tw = (x1 - x0) - (8 if g.wide else 160)
    text(c, title, x0 + 6, y0, g.title_size, 0x2A2420, max_width=tw, max_lines=g.title_lines)


def card_price(c: skia.Canvas, g: CardGeometry, price: str, unit: str) -> None:
    x0, y0, x1, _ = g.price
    tx, tw = x0 + 6, (x1 - x0) - (8 if g.wide else 160)
    pf = font(50 if g.wide else 60)
    numeric = bool(price) and price[0].isdigit()
    ps = fit(("¥" if numeric else "") + clean(price), pf, tw, 1)[0]  # "已售罄" has no ¥
    c.drawString(ps, tx, y0 + (52 if g.wide else 62), pf, fill(0xE8202C))
    ux = tx + pf.measureText(ps) + 8
    if numeric and ux < x1 - 48:
        u = "/" + clean(unit)
        text(c, u, ux, y0 + (20 if g.wide else 26), 28, 0x807870, bold=False, max_width=x1 - ux - 4)


def card_lines(c: skia.Canvas, g: CardGeometry, lines: tuple[str, ...]) -> None:
    x0, ty, x1, _ = g.lines
    limit, tx = g.line_limit, x0 + 6
    for line in lines[:4]:
        if ty + 36 > limit:
            break
        c.drawCircle(tx + 6, ty + 17, 5, fill(0x5BA04A))
        ty += text(c, line, tx + 20, ty, 26, 0x4A4440, bold=False, max_width=(x1 - tx - 28))


def card(
    c: skia.Canvas,
    box: Box,
    title: str,
    price: str,
    unit: str,
    lines: tuple[str, ...],
    badge: str,
    category: str | None,
    countdown_box: Box | None,
) -> None:
    """The card's words and product picture over `card_chrome`; the countdown's text is
    drawn separately (it changes every second)."""
    g = card_geometry(box, title, countdown_box)
    card_face(c, box, badge, category)
    card_title(c, g, title)
    card_price(c, g, price, unit)
    card_lines(c, g, lines)


def countdown_pill(c: skia.Canvas, box: Box) -> None:
    """The countdown without its time: pill and label (drawn once per room)."""
    x0, y0, x1, y1 = box
    c.drawRRect(
        rrect(x0, y0, x1, y1, (y1 - y0) / 2), linear((x0, y0), (x1, y1), [0xFF4A3A, 0xD81E3C])
    )
    size = (y1 - y0) * 0.5
    text(c, "限时优惠", x0 + 20, y0 + (y1 - y0 - size * 1.3) / 2, size, 0xFFE9A8)


def countdown_text(c: skia.Canvas, box: Box, value: str) -> None:
    x0, y0, x1, y1 = box
    size = (y1 - y0) * 0.5
    lx = x0 + 34 + font(size).measureText("限时优惠")
    top = y0 + (y1 - y0 - size * 1.3) / 2 - 1
    text(c, value, lx, top, size * 1.08, 0xFFFFFF, max_width=x1 - lx - 16)


def countdown(c: skia.Canvas, box: Box, value: str) -> None:
    countdown_pill(c, box)
    countdown_text(c, box, value)


def caption_pill(c: skia.Canvas, box: Box) -> None:
    x0, y0, x1, y1 = box
    c.drawRRect(rrect(x0, y0, x1, y1, 16), fill(0x101010, 0.58))


def caption_text(c: skia.Canvas, box: Box, value: str) -> None:
    x0, y0, x1, y1 = box
    size = min(32.0, (y1 - y0) * 0.5)
    room = (x1 - x0) - 40
    wide = font(size).measureText(clean(value))
    if wide > room:  # shrink a long line (down to 3/4) before cutting it with …
        size = max(size * 0.75, size * room / wide)
    text(
        c,
        value,
        (x0 + x1) / 2,
        y0 + (y1 - y0 - size * 1.3) / 2,
        size,
        0xFFFFFF,
        center=True,
        max_width=(x1 - x0) - 40,
        halo=0x000000,
    )


def caption(c: skia.Canvas, box: Box, value: str) -> None:
    caption_pill(c, box)
    caption_text(c, box, value)


__all__ = [
    "CardGeometry",
    "argb",
    "banner",
    "caption",
    "caption_pill",
    "caption_text",
    "card",
    "card_face",
    "card_geometry",
    "card_lines",
    "card_price",
    "card_title",
    "clean",
    "countdown",
    "countdown_pill",
    "countdown_text",
    "fit",
    "text",
]
