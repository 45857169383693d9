"""Contact sheet of the hosts: each persona × each expression, then each gesture, plus a
portrait frame. `python -m avatars.contact_sheet docs/contact_sheet.png`."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from avatars.gestures import GESTURES
from avatars.motion import EXPRESSION_NAMES
from avatars.overlays import clean
from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, AvatarState, Card
from avatars.text import draw_text

TILE_W, TILE_H = 300, 252  # the landscape character box, scaled
PRODUCTS = {"xiaowang": "jujube", "xiaoli": "apple", "xiaozhang": "honey"}


def host_tile(
    persona_id: str,
    expression: str = "neutral",
    gesture: str | None = None,
    progress: float = 0.5,
    t: float = 1.3,
) -> np.ndarray:
    """The character box of one frame, scaled to a tile."""
    r = AvatarRenderer(PERSONAS[persona_id])
    r.set_card(Card("阜平好物", "29.9", "斤", category=PRODUCTS[persona_id]))
    state = AvatarState(
        t=t,
        expression=expression,
        gesture=gesture,
        gesture_progress=progress,
        product=PRODUCTS[persona_id],
    )
    r.render(state)
    img = r.render(AvatarState(**{**state.__dict__, "t": t + 0.5}))  # past the 300 ms blend
    x0, y0, x1, y1 = 100, 60, 756, 612
    return cv2.resize(img[y0:y1, x0:x1], (TILE_W, TILE_H), interpolation=cv2.INTER_AREA)


def sheet() -> np.ndarray:
    columns = list(EXPRESSION_NAMES) + list(GESTURES)
    label_w, head_h = 90, 40
    rows = []
    for pid in PERSONAS:
        tiles = [host_tile(pid, e) for e in EXPRESSION_NAMES]
        tiles += [host_tile(pid, "happy", g) for g in GESTURES]
        label = np.full((TILE_H, label_w, 3), 250, np.uint8)
        draw_text(label, PERSONAS[pid].name, (14, TILE_H // 2 - 20), 30, (40, 40, 40))
        rows.append(np.hstack([label, *tiles]))
    header = np.full((head_h, rows[0].shape[1], 3), 250, np.uint8)
    names = {
        "neutral": "平静",
        "happy": "开心",
        "excited": "兴奋",
        "concerned": "担心",
        "apologetic": "抱歉",
        "wave": "挥手",
        "point": "指向商品",
        "present": "展示商品",
        "thumbs_up": "点赞",
    }
    for i, col in enumerate(columns):
        draw_text(header, f"{names[col]} {col}", (label_w + i * TILE_W + 10, 6), 22, (40, 40, 40))
    grid = np.vstack([header, *rows])
    portrait = AvatarRenderer(PERSONAS["xiaoli"], width=720, height=1280)
    portrait.set_card(
        Card(
            "阜平红富士苹果",
            "39.9",
            "箱",
            ("脆甜多汁", "现摘现发"),
            category="apple",
            countdown="04:59",
        )
    )
    portrait.set_caption(clean("果园现摘的苹果，脆甜多汁，看这里！"))
    portrait.render(AvatarState(t=2.0, expression="happy"))
    p = portrait.render(
        AvatarState(t=2.5, expression="happy", gesture="point", gesture_progress=0.5)
    )
    p = cv2.resize(p, (grid.shape[0] * 720 // 1280, grid.shape[0]), interpolation=cv2.INTER_AREA)
    return np.hstack([grid, p])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/contact_sheet.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet(), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        print(f"could not write {out}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
