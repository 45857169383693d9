"""拣货单 and 面单 as PDF from the orders page: the filtered or ticked orders' numbers, buyers and
products are in the PDF's text (read back with pypdf), in a real Chinese font; only those who
ship may print; bad input is a 4xx with its reason; a machine without a CJK font says what to
install. Also the orders list's filters by status, date and province."""

from __future__ import annotations

import io
import re
import secrets
from datetime import datetime, timedelta

import httpx
import pytest
from pypdf import PdfReader

from commerce.analytics.rollup import RollupSync
from commerce.orders import LineRequest, OrderRequest
from testkit.livesrv import LiveServer
from web import order_pdf

MILLET = "fp-millet-2500g"
WALNUT = "fp-walnut-500g"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("pdf")
    with LiveServer(root / "y.db", stamp=False, demo_room=False, demo_payments=True) as s:
        yield s


def client(server, role: str | None = "cs", shop: str | None = None) -> httpx.Client:
    headers = server.headers(role, shop) if role else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=120)


def paid_order(server, sku: str, qty: int = 1, address: str = "河北省保定市阜平县龙泉关镇3号"):
    req = OrderRequest(
        buyer_id="",
        buyer_name="李秀英",
        phone=f"139{secrets.randbelow(10**8):08d}",
        address=address,
        items=(LineRequest(sku, qty),),
    )
    order, _ = server.call(server.store.orders.create(req, secrets.token_hex(8)))
    pay = server.call(server.store.payments.start(order["id"]))
    server.call(server.store.payments.confirm(pay["payment_id"]))
    return order


def pdf_text(data: bytes) -> tuple[str, int, list]:
    """All the PDF's text, pages, and fonts. pypdf reads fpdf2's two-byte glyph codes (its
    embedded Identity encoding CMap) as single bytes, so the text comes back with a NUL
    before each character: NULs and spaces are removed before looking."""
    reader = PdfReader(io.BytesIO(data))
    text = "".join(page.extract_text() or "" for page in reader.pages)
    fonts = []
    for page in reader.pages:
        for f in (page["/Resources"].get("/Font") or {}).values():
            fonts.append(str(f.get_object().get("/BaseFont")))
    return re.sub(r"[\s\x00]+", "", text), len(reader.pages), fonts


def test_pdf_of_the_orders_to_ship_has_their_numbers(server):
    a = paid_order(server, MILLET, 2)
    b = paid_order(server, WALNUT, 1, address="北京市海淀区中关村大街1号")
    with client(server) as http:
        res = http.get("/workbench/orders/print.pdf")  # default: the orders to ship
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "application/pdf"
    assert res.content.startswith(b"%PDF-")
    text, pages, fonts = pdf_text(res.content)
    assert a["id"] in text and b["id"] in text
    assert "拣货单" in text and "订单明细" in text and "快递面单" in text
    assert "河北省保定市阜平县龙泉关镇3号" in text and "北京市海淀区中关村大街1号" in text
    assert "李秀英" in text
    assert pages == 1 + 2  # the packing list, then one label per order
    assert any("CJK" in f for f in fonts), fonts  # the Chinese font is embedded
    entries = server.call(server.store.audit.list(action="order.print"))
    assert entries and entries[0].actor == "cs-main" and entries[0].after["orders"] >= 2


def test_pdf_of_ticked_orders_has_only_those(server):
    a = paid_order(server, MILLET)
    b = paid_order(server, MILLET)
    c = paid_order(server, WALNUT)
    with client(server, "operator") as http:
        res = http.get(f"/workbench/orders/print.pdf?ids={a['id']},{c['id']},{a['id']}")
        assert res.status_code == 200, res.text
        text, pages, _ = pdf_text(res.content)
        assert a["id"] in text and c["id"] in text and b["id"] not in text
        assert pages == 3  # a repeated id prints once
        # the orders page offers it: the filtered list's link and a box per order
        page = http.get("/workbench/orders?status=paid").text
        assert 'id="pdf-link" href="/workbench/orders/print.pdf?status=paid"' in page
        assert f'class="pick" value="{a["id"]}"' in page and 'id="pdf-selected"' in page


def test_only_those_who_ship_may_print_and_bad_input_is_refused(server):
    a = paid_order(server, MILLET)
    with client(server, None) as http:
        assert http.get("/workbench/orders/print.pdf").status_code == 401
    with client(server, "ops") as http:
        assert http.get("/workbench/orders/print.pdf").status_code == 403
    with client(server, "operator", "farm2") as http:
        assert http.get(f"/workbench/orders/print.pdf?ids={a['id']}").status_code == 403
    with client(server) as http:
        for query, status, word in (
            ("ids=" + ",".join(["YL1"] * 101), 422, "最多"),
            ("ids=<script>", 422, "订单号"),
            ("ids=" + "A" * 5000, 422, ""),
            ("ids=NOSUCHORDER1", 404, "订单不存在"),
            ("status=bogus", 422, "订单状态"),
            ("from=2026-99-01", 422, "开始日期"),
            ("page=abc", 422, "页码"),
        ):
            res = http.get(f"/workbench/orders/print.pdf?{query}")
            assert res.status_code == status, (query, res.text)
            assert word in res.json()["detail"]


def test_a_machine_without_a_cjk_font_is_told_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(order_pdf, "FONT_CANDIDATES", (str(tmp_path / "none.ttc"),))
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-list either
    with pytest.raises(order_pdf.FontMissing, match="fonts-noto-cjk"):
        order_pdf.find_font.__wrapped__()
    found = order_pdf.find_font()  # this machine has Debian's fonts-noto-cjk
    assert found.path.endswith("NotoSansCJK-Regular.ttc") and found.index == 2  # the SC face


def test_orders_filter_by_status_date_and_province(server):
    shipped = paid_order(server, WALNUT, address="山西省太原市小店区1号")
    with client(server) as http:
        assert (
            http.post(
                f"/api/workbench/orders/{shipped['id']}/ship",
                json={"courier": "中通快递", "tracking_no": "ZT1234567890"},
            ).status_code
            == 200
        )
        page = http.get("/workbench/orders?status=shipped").text
        assert f'data-order="{shipped["id"]}"' in page and "中通快递 ZT1234567890" in page
        assert "待发货</span>" not in page
        # days are China's (UTC+8): an order at 20:00 UTC is the next day's
        day = (datetime.fromisoformat(shipped["created_at"]) + timedelta(hours=8)).date()
        page = http.get(f"/workbench/orders?from={day}&to={day}&status=shipped").text
        assert f'data-order="{shipped["id"]}"' in page
        page = http.get("/workbench/orders?from=2001-01-01&to=2001-01-02").text
        assert "没有符合条件的订单" in page
        # provinces come from the analytics rollup (addresses are sealed)
        server.call(RollupSync(server.store).sync(force=True))
        page = http.get("/workbench/orders?province=山西").text
        assert f'data-order="{shipped["id"]}"' in page
        assert page.count('<tr data-order="') == 1
        res = http.get("/workbench/orders/print.pdf?province=山西&status=shipped")
        text, pages, _ = pdf_text(res.content)
        assert shipped["id"] in text and pages == 2
