"""拣货单 (packing list) and 面单 (shipping labels) as one PDF, drawn with fpdf2.

The Chinese font is found at run time, never downloaded: Noto Sans CJK SC from Debian's
`fonts-noto-cjk` (the simplified-Chinese face of its .ttc collection), or any CJK font
fontconfig knows. Without one, `FontMissing` says what to install. Only the glyphs used are
embedded (fpdf2 subsets the font), so a PDF of 100 orders stays small.

Pages: A4 packing list first (what to pick, summed per SKU, then each order's lines), then one
100 × 150 mm label per order (the usual thermal label size), with the order number as text
and as a Code 39 barcode.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
LABEL = (100, 150)  # mm
SENDER = "阜平县农户（云链销通）"


class FontMissing(RuntimeError):
    """No font with Chinese glyphs on this machine."""


@dataclass(frozen=True)
class CjkFont:
    path: str
    index: int  # face number within a .ttc collection


def _simplified_face(path: str) -> int:
    """The face of a collection made for simplified Chinese (Noto's "… CJK SC"), else 0."""
    if not path.lower().endswith(".ttc"):
        return 0
    from fontTools.ttLib import TTCollection

    try:
        fonts = TTCollection(path, lazy=True).fonts
    except Exception:
        return 0
    best = 0
    for i, font in enumerate(fonts):
        name = str(font["name"].getDebugName(1) or "")
        if name.endswith(" SC") and "Mono" not in name:
            return i
        if "SC" in name.split() and best == 0:
            best = i
    return best


@functools.cache
def find_font() -> CjkFont:
    """The CJK font to embed; FontMissing with what to install when there is none."""
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return CjkFont(path, _simplified_face(path))
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(
                ["fc-list", ":lang=zh-cn", "file"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in sorted(out.splitlines()):
            path = line.split(":")[0].strip()
            if path.lower().endswith((".ttf", ".otf", ".ttc")) and Path(path).is_file():
                return CjkFont(path, _simplified_face(path))
    raise FontMissing(
        "找不到中文字体，无法生成 PDF：请安装 fonts-noto-cjk（apt-get install fonts-noto-cjk）"
    )


def _barcode_text(order_id: str) -> str | None:
    allowed = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%")
    return order_id if order_id and set(order_id) <= allowed else None


def _doc(font: CjkFont):
    """An A4 fpdf2 document with the CJK font registered as "cjk" (bold: the Bold face next
    to it when there is one). fpdf2 is imported here: the server starts without loading it."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_font("cjk", fname=font.path, collection_font_number=font.index)
    bold = font.path.replace("-Regular.", "-Bold.")  # table headings are bold
    if bold == font.path or not Path(bold).is_file():
        bold = font.path
    pdf.add_font("cjk", style="B", fname=bold, collection_font_number=font.index)
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_margins(12, 12, 12)
    pdf.set_creator("云链销通 Yunlian")
    pdf.set_title("拣货单与面单")
    pdf.set_lang("zh-CN")
    return pdf


def build_pdf(
    orders: list[dict],
    names: dict[str, str],
    *,
    title_note: str = "",
    printed_at: str = "",
) -> bytes:
    """The packing list and labels for `orders` (revealed order views) as PDF bytes.
    `names` maps SKUs to product titles."""
    font = find_font()
    pdf = _doc(font)
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 10, "拣货单", new_x="LMARGIN", new_y="NEXT")
    note = f"共 {len(orders)} 单" + (f" · {title_note}" if title_note else "")
    if printed_at:
        note += f" · 打印于 {printed_at}"
    pdf.set_font("cjk", size=9.5)
    pdf.multi_cell(0, 6, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    picks: dict[tuple[str, str], int] = {}
    for o in orders:
        for it in o["items"]:
            key = (it["sku"], it["unit"])
            picks[key] = picks.get(key, 0) + int(it["quantity"])
    pdf.set_font("cjk", size=10.5)
    with pdf.table(
        col_widths=(90, 60, 36),
        text_align=("LEFT", "LEFT", "RIGHT"),
        line_height=7,
        first_row_as_headings=True,
    ) as table:
        table.row(("商品", "编码", "数量"))
        for (sku, unit), qty in sorted(picks.items()):
            table.row((names.get(sku, sku), sku, f"{qty} {unit}"))
        if not picks:
            table.row(("没有订单", "", ""))
    pdf.ln(4)
    pdf.set_font("cjk", size=13)
    pdf.cell(0, 8, "订单明细", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9.5)
    with pdf.table(col_widths=(52, 84, 50), line_height=6, first_row_as_headings=True) as table:
        table.row(("订单号", "商品", "收货人"))
        for o in orders:
            items = "；".join(
                f"{names.get(it['sku'], it['sku'])} × {it['quantity']}{it['unit']}"
                for it in o["items"]
            )
            table.row((o["id"], items, f"{o['buyer']['name']} {o['buyer']['address'][:12]}…"))

    for o in orders:
        _label(pdf, o, names)
    return bytes(pdf.output())


def _label(pdf, o: dict, names: dict[str, str]) -> None:
    pdf.add_page(format=LABEL)
    pdf.set_margins(6, 6, 6)
    pdf.set_auto_page_break(True, margin=5)
    pdf.set_xy(6, 6)
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 5, "云链销通 · 快递面单", new_x="LMARGIN", new_y="NEXT")
    code = _barcode_text(o["id"])
    if code:
        pdf.code39(f"*{code}*", x=6, y=12, w=0.2, h=14)  # about 83 mm for 24 characters
        pdf.set_xy(6, 27)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 6, f"订单号 {o['id']}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_draw_color(0)
    pdf.line(6, pdf.get_y(), LABEL[0] - 6, pdf.get_y())
    pdf.ln(2)
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 5, "收件人", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=15)
    pdf.multi_cell(
        0, 8, f"{o['buyer']['name']}  {o['buyer']['phone']}", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("cjk", size=12)
    pdf.multi_cell(0, 6.5, o["buyer"]["address"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.line(6, pdf.get_y(), LABEL[0] - 6, pdf.get_y())
    pdf.ln(2)
    pdf.set_font("cjk", size=9)
    pdf.multi_cell(0, 5, f"寄件人：{SENDER}", new_x="LMARGIN", new_y="NEXT")
    items = "；".join(
        f"{names.get(it['sku'], it['sku'])} × {it['quantity']}{it['unit']}" for it in o["items"]
    )
    if len(items) > 120:  # a label is one page: a long list is on the packing list
        items = items[:119] + "…"
    pdf.multi_cell(0, 5, f"内件：{items}", new_x="LMARGIN", new_y="NEXT")
    batches = "、".join(o.get("batches") or [])
    if batches:
        pdf.multi_cell(0, 5, f"批次：{batches}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_margins(12, 12, 12)
