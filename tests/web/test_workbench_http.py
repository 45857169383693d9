"""The farmer's workbench over plain HTTP: who may see and change what, shipping singly and
from a CSV, refund decisions with a reason, photos checked by their bytes, bulk edits with a
preview, the orders list's filters and pages, and hostile text shown as text."""

import io
import secrets
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from commerce.orders import LineRequest, OrderRequest
from testkit.livesrv import LiveServer

APPLE = "fp-apple-5kg"
HONEY = "fp-honey-500g"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("workbench")
    with LiveServer(
        root / "y.db",
        stamp=False,
        demo_room=False,
        demo_payments=True,
        media_dir=str(root / "media"),
    ) as s:
        yield s


def client(server, role: str | None = "operator", shop: str | None = None) -> httpx.Client:
    headers = server.headers(role, shop) if role else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def paid_order(server, sku: str = HONEY, qty: int = 1, room: str | None = None) -> dict:
    """A paid order placed straight through the store (what a viewer's purchase leaves)."""
    store = server.store
    req = OrderRequest(
        buyer_id="",
        buyer_name="王小明",
        phone=f"138{secrets.randbelow(10**8):08d}",
        address="河北省保定市阜平县龙泉关镇3号",
        items=(LineRequest(sku, qty),),
        room_id=room,
    )
    order, _ = server.call(store.orders.create(req, secrets.token_hex(8)))
    pay = server.call(store.payments.start(order["id"]))
    server.call(store.payments.confirm(pay["payment_id"]))
    return order


def png(size=(64, 48), color=(200, 60, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 120, 40)).save(buf, "JPEG")
    return buf.getvalue()


def test_signed_out_visitor_is_sent_to_login(server):
    with client(server, None) as http:
        res = http.get("/workbench/orders?status=paid")
        assert res.status_code == 401  # a script is told, not redirected
        res = http.get("/workbench/orders?status=paid", headers={"Accept": "text/html"})
        assert res.status_code == 303
        assert res.headers["location"] == "/login?next=%2Fworkbench%2Forders%3Fstatus%3Dpaid"
        assert http.get("/api/workbench/orders/ship-csv").status_code in (401, 405)
        res = http.post("/api/workbench/orders/X1/ship", json={"courier": "a", "tracking_no": "b"})
        assert res.status_code == 401


def test_home_shows_figures_linking_to_their_pages(server):
    paid_order(server)
    with client(server) as http:
        res = http.get("/workbench")
    assert res.status_code == 200
    page = res.text
    for label, href in (
        ("今日成交额", "/analytics"),
        ("待发货", "/workbench/orders?status=paid"),
        ("待处理工单", "/workbench/tickets"),
        ("库存预警", "/workbench/products"),
        ("直播中 / 在线观众", "/workbench/live"),
    ):
        assert label in page and f'href="{href}"' in page


def test_ops_have_the_ops_desk_not_the_workbench_and_change_nothing(server):
    order = paid_order(server)
    with client(server, "ops") as http:
        assert http.get("/workbench").status_code == 403  # ops watch from /ops (issue 23)
        assert http.get("/workbench/orders").status_code == 403  # buyers' orders are not ops'
        assert http.get("/workbench/products").status_code == 403
        assert http.get("/workbench/products/new").status_code == 403
        assert http.get(f"/workbench/products/{HONEY}").status_code == 403
        res = http.post(
            f"/api/workbench/orders/{order['id']}/ship",
            json={"courier": "顺丰速运", "tracking_no": "SF1234567890"},
        )
        assert res.status_code == 403
        assert http.post("/api/workbench/orders/ship-csv", content=b"a,b,c").status_code == 403
        res = http.post(
            "/api/workbench/products/bulk", json={"items": [{"sku": HONEY, "price": "1.00"}]}
        )
        assert res.status_code == 403
        res = http.post(f"/api/workbench/products/{HONEY}/photos", content=png())
        assert res.status_code == 403
    with client(server) as http:
        assert http.get(f"/api/shop/orders/{order['id']}").json()["status"] == "paid"


def test_another_shops_staff_get_no_data(server):
    order = paid_order(server)
    for role in ("operator", "cs"):
        with client(server, role, "farm2") as http:
            for path in ("/workbench", "/workbench/orders", "/workbench/products"):
                res = http.get(path)
                assert res.status_code == 403, path
                assert order["id"] not in res.text
            res = http.post(
                f"/api/workbench/orders/{order['id']}/ship",
                json={"courier": "顺丰速运", "tracking_no": "SF1234567890"},
            )
            assert res.status_code == 403
            res = http.post(f"/api/workbench/orders/{order['id']}/refund", json={"approve": True})
            assert res.status_code == 403
            res = http.get(f"/api/shop/orders/{order['id']}/tracking")
            assert res.status_code == 404 and "王" not in res.text
    with client(server, None) as http:  # a buyer with another order's token
        other = paid_order(server)
        res = http.get(
            f"/api/shop/orders/{order['id']}/tracking",
            headers={"X-Order-Token": other["order_token"]},
        )
        assert res.status_code == 404


def test_ship_one_order_and_the_buyer_sees_courier_and_tracking(server):
    order = paid_order(server)
    with client(server, "cs") as http:
        res = http.post(
            f"/api/workbench/orders/{order['id']}/ship",
            json={"courier": "顺丰速运", "tracking_no": "SF1234567890"},
        )
        assert res.status_code == 200, res.text
        again = http.post(
            f"/api/workbench/orders/{order['id']}/ship",
            json={"courier": "顺丰速运", "tracking_no": "SF1234567890"},
        )
        assert again.status_code == 409
        bad = paid_order(server)
        res = http.post(
            f"/api/workbench/orders/{bad['id']}/ship",
            json={"courier": "顺丰速运", "tracking_no": "<script>"},
        )
        assert res.status_code == 422
    with client(server, None) as http:
        view = http.get(
            f"/api/shop/orders/{order['id']}/tracking",
            headers={"X-Order-Token": order["order_token"]},
        ).json()
    assert view["status"] == "shipped"
    assert view["shipment"]["courier"] == "顺丰速运"
    assert view["shipment"]["tracking_no"] == "SF1234567890"
    entries = server.call(server.store.audit.list(action="order.ship", target=order["id"]))
    assert entries and entries[0].actor == "cs-main"
    assert entries[0].after["tracking_no"] == "SF1234567890"


def test_csv_of_100_orders_with_one_unknown_ships_99_and_reports_its_line(server):
    with client(server) as http:
        res = http.post(
            "/api/workbench/products/bulk",
            json={"items": [{"sku": APPLE, "stock": 1000}], "apply": True},
        )
        assert res.status_code == 200 and res.json()["applied"], res.text
    orders = [paid_order(server, APPLE) for _ in range(99)]
    lines = ["订单号,快递公司,运单号"]
    for i, o in enumerate(orders):
        lines.append(f"{o['id']},中通快递,ZT{100000 + i}")
    lines.insert(41, "YL20990101000000DEADBEEF,中通快递,ZT999999")  # line 42 of the file
    with client(server, "cs") as http:
        res = http.post("/api/workbench/orders/ship-csv", content="\n".join(lines).encode("utf-8"))
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["shipped"] == 99
    assert body["errors"] == [
        {
            "line": 42,
            "order_id": "YL20990101000000DEADBEEF",
            "reason": "订单不存在：YL20990101000000DEADBEEF",
        }
    ]
    view = server.call(server.store.orders.get(orders[-1]["id"]))
    assert view["status"] == "shipped"


def test_csv_in_gbk_with_bad_lines_reports_each(server):
    ok = paid_order(server)
    text = f"{ok['id']},韵达快递,YD12345678\n\nonly,two\n{ok['id']},韵达快递,YD12345678\n"
    with client(server) as http:
        res = http.post("/api/workbench/orders/ship-csv", content=text.encode("gb18030"))
        body = res.json()
        assert body["shipped"] == 1
        assert [e["line"] for e in body["errors"]] == [3, 4]
        res = http.post("/api/workbench/orders/ship-csv", content=b"x" * (600 * 1024))
        assert res.status_code == 413


def test_refund_approved_or_refused_with_a_reason(server):
    a, b = paid_order(server), paid_order(server)
    store = server.store
    for o in (a, b):
        server.call(store.orders.transition(o["id"], "request_refund"))
    with client(server) as http:
        res = http.post(f"/api/workbench/orders/{b['id']}/refund", json={"approve": False})
        assert res.status_code == 422  # a refusal needs its reason
        res = http.post(
            f"/api/workbench/orders/{b['id']}/refund",
            json={"approve": False, "reason": "商品已签收且无质量问题"},
        )
        assert res.status_code == 200 and res.json()["status"] == "paid"
        res = http.post(
            f"/api/workbench/orders/{a['id']}/refund", json={"approve": True, "reason": "坏果"}
        )
        assert res.status_code == 200 and res.json()["status"] == "refunded"
        page = http.get("/workbench/orders?status=refund_requested").text
        assert a["id"] not in page and b["id"] not in page
    with client(server, None) as http:
        view = http.get(
            f"/api/shop/orders/{b['id']}/tracking", headers={"X-Order-Token": b["order_token"]}
        ).json()
    assert view["refund_decision"] == {
        "approved": False,
        "reason": "商品已签收且无质量问题",
        "at": view["refund_decision"]["at"],
    }
    assert (
        server.call(
            store.payments.get(server.call(store.orders.get(a["id"]))["payments"][0]["id"])
        )["status"]
        == "refunded"
    )


def test_photo_is_checked_by_its_bytes_and_stored_clean(server, tmp_path):
    with client(server) as http:
        res = http.post(
            f"/api/workbench/products/{HONEY}/photos",
            content=png(),
            headers={"Content-Type": "image/png"},
        )
        assert res.status_code == 201, res.text
        url = res.json()["url"]
        got = http.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert Image.open(io.BytesIO(got.content)).size == (64, 48)
        # a PHP script named .jpg and sent as image/jpeg
        php = b"<?php system($_GET['c']); ?>"
        res = http.post(
            f"/api/workbench/products/{HONEY}/photos",
            content=php,
            headers={"Content-Type": "image/jpeg"},
        )
        assert res.status_code == 415 and "不是图片" in res.json()["detail"]
        # a real JPEG with a script after its end: only the pixels are kept
        res = http.post(f"/api/workbench/products/{HONEY}/photos", content=jpeg() + php)
        assert res.status_code == 201
        assert b"<?php" not in http.get(res.json()["url"]).content
        # a PNG header on garbage
        res = http.post(
            f"/api/workbench/products/{HONEY}/photos", content=b"\x89PNG\r\n\x1a\n" + b"\0" * 100
        )
        assert res.status_code == 422
        # too large: refused before it is read
        res = http.post(
            f"/api/workbench/products/{HONEY}/photos", content=b"\xff\xd8\xff" + b"\0" * (2 << 20)
        )
        assert res.status_code == 413
        assert http.get("/media/..%2F..%2Fy.db").status_code == 404
        assert http.get("/media/evil.php").status_code == 404
        assert http.get(f"/api/shop/products/{HONEY}/detail").json()["media"][0]["url"] == url


def test_script_in_a_product_name_is_shown_as_text(server):
    body = {
        "sku": "xss-1",
        "name": "<script>alert(1)</script>",
        "title": "<img src=x onerror=alert(2)>枣",
        "price": "9.90",
        "unit": "斤",
        "origin": "阜平",
        "features": ['"><script>alert(3)</script>'],
        "batches": [
            {"id": "xss-b1", "harvest_date": "2026-11-01", "quantity": 5, "origin_plot": "1号地"}
        ],
    }
    with client(server) as http:
        assert http.post("/api/shop/products", json=body).status_code == 201
        for path in (
            "/workbench/products",
            "/workbench/products/xss-1",
            "/workbench/products/bulk",
        ):
            page = http.get(path).text
            assert "<script>alert" not in page and "<img src=x" not in page, path
            assert "&lt;img src=x onerror=alert(2)&gt;枣" in page


def test_bulk_edit_previews_then_applies_and_is_audited(server):
    with client(server) as http:
        before = http.get(f"/api/shop/products/{HONEY}").json()
        items = [{"sku": HONEY, "price": "66.60", "stock": 77}, {"sku": "no-such", "price": "1"}]
        res = http.post("/api/workbench/products/bulk", json={"items": items, "apply": True})
        assert res.json()["applied"] is False and res.json()["errors"] == 1
        res = http.post("/api/workbench/products/bulk", json={"items": items[:1]})
        preview = res.json()
        assert preview["applied"] is False
        assert (
            preview["rows"][0]["price_after"] == "66.60" and preview["rows"][0]["stock_after"] == 77
        )
        assert http.get(f"/api/shop/products/{HONEY}").json()["price"] == before["price"]
        bad = http.post(
            "/api/workbench/products/bulk", json={"items": [{"sku": HONEY, "price": "-1"}]}
        ).json()
        assert bad["errors"] == 1
        res = http.post("/api/workbench/products/bulk", json={"items": items[:1], "apply": True})
        assert res.json()["applied"] is True
        after = http.get(f"/api/shop/products/{HONEY}").json()
    assert Decimal(after["price"]) == Decimal("66.60") and after["stock"] == 77
    stock_log = server.call(server.store.audit.list(action="product.stock", target=HONEY))
    assert stock_log[0].after == {"stock": 77}
    req_log = server.call(server.store.audit.list(action="workbench.products.bulk.create"))
    assert req_log[0].after[HONEY] == {"price": "66.60", "stock": 77}
    assert req_log[0].before[HONEY]["stock"] == before["stock"]


def test_orders_filter_and_page(server):
    for _ in range(3):
        paid_order(server, HONEY, room="room-a")
    with client(server) as http:
        page = http.get("/workbench/orders?room=room-a&size=20").text
        assert page.count('<tr data-order="') == 3
        page = http.get("/workbench/orders?room=room-a&sku=fp-apple-5kg").text
        assert page.count('<tr data-order="') == 0
        page = http.get("/workbench/orders?size=20&page=2").text
        assert "第 2 / " in page
        assert http.get("/workbench/orders?status=bogus").status_code == 422
        assert http.get("/workbench/orders?size=7").status_code == 422
        assert http.get("/workbench/orders?from=2026-13-01").status_code == 422
        assert http.get("/workbench/orders?page=-1").status_code == 422


def test_packing_list_and_labels_print_for_those_who_ship(server):
    order = paid_order(server, "fp-millet-2500g", qty=2)
    with client(server, "cs") as http:
        res = http.get("/workbench/orders/print?sku=fp-millet-2500g")
    assert res.status_code == 200
    page = res.text
    assert f'data-order="{order["id"]}"' in page
    assert "河北省保定市阜平县龙泉关镇3号" in page  # the whole address: it goes on the parcel
    assert "王小明" in page
    entries = server.call(server.store.audit.list(action="order.print"))
    assert entries and entries[0].actor == "cs-main"
    with client(server, "ops") as http:
        assert http.get("/workbench/orders/print").status_code == 403
    with client(server, "operator", "farm2") as http:
        assert http.get("/workbench/orders/print").status_code == 403
