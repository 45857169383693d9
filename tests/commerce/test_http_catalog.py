"""Catalog administration over HTTP: products with batches, new harvests, media."""

from __future__ import annotations

from datetime import date, timedelta

from tests.commerce.conftest import order_body

ACT_AS_SHOP = True  # these tests run the shop: staff calls carry an admin token


def product_body(sku: str = "fp-pear-5kg") -> dict:
    today = date.today()
    return {
        "sku": sku,
        "name": "梨",
        "title": "阜平酥梨",
        "price": "45.5",
        "unit": "箱",
        "origin": "河北保定阜平县王林口乡",
        "category": "水果",
        "tags": ["有机"],
        "certifications": ["绿色食品"],
        "batches": [
            {
                "id": f"{sku}-a",
                "harvest_date": str(today),
                "quantity": 40,
                "origin_plot": "王林口3号地",
            },
        ],
    }


async def test_farmer_lists_a_product_and_adds_a_harvest(store, http):
    r = await http.post("/api/shop/products", json=product_body())
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["price"] == "45.5" and made["stock"] == 40 and "有机" in made["tags"]
    dup = await http.post("/api/shop/products", json=product_body())
    assert dup.status_code == 409 and "已存在" in dup.json()["detail"]
    later = str(date.today() + timedelta(days=3))
    r = await http.post(
        "/api/shop/products/fp-pear-5kg/batches",
        json={
            "id": "fp-pear-5kg-b",
            "harvest_date": later,
            "quantity": 60,
            "origin_plot": "王林口5号地",
        },
    )
    assert r.status_code == 201, r.text
    assert [b["id"] for b in r.json()["batches"]] == ["fp-pear-5kg-a", "fp-pear-5kg-b"]
    assert (await http.get("/api/shop/products/fp-pear-5kg")).json()["stock"] == 100
    bad = await http.post(
        "/api/shop/products/fp-pear-5kg/batches",
        json={"id": "x", "harvest_date": later, "quantity": 0, "origin_plot": "p"},
    )
    assert bad.status_code == 422
    m = await http.post(
        "/api/shop/products/fp-pear-5kg/media", json={"kind": "image", "url": "/m/pear.jpg"}
    )
    assert m.status_code == 201
    detail = (await http.get("/api/shop/products/fp-pear-5kg/detail")).json()
    assert detail["media"][0]["url"] == "/m/pear.jpg"
    page = await http.get(detail["batches"][1]["trace_url"])
    assert page.status_code == 200 and "王林口5号地" in page.text
    order = await http.post(
        "/api/shop/orders", json=order_body("fp-pear-5kg", 50), headers={"Idempotency-Key": "p"}
    )
    assert order.status_code == 201 and order.json()["batches"] == [
        "fp-pear-5kg-a",
        "fp-pear-5kg-b",
    ]
    assert (await store.trace.verify()).ok


async def test_bad_product_definitions_are_rejected(store, http):
    body = product_body("bad-1")
    body["batches"][0]["expiry_date"] = str(date.today() - timedelta(days=1))
    r = await http.post("/api/shop/products", json=body)
    assert r.status_code == 422 and "保质期" in r.json()["detail"]
    body = product_body("bad 2")
    assert (await http.post("/api/shop/products", json=body)).status_code == 422
    body = product_body("bad-3")
    body["price"] = "-1"
    assert (await http.post("/api/shop/products", json=body)).status_code == 422
    assert (
        await http.post(
            "/api/shop/products/nope/batches",
            json={"id": "n", "harvest_date": str(date.today()), "quantity": 1, "origin_plot": "p"},
        )
    ).status_code == 404


async def test_room_sales_are_attributed_to_persona_and_segment(store, http):
    await http.post("/api/shop/products", json=product_body("fp-attr"))
    for i, (persona, segment) in enumerate(
        [("xiaoman", "intro"), ("xiaoman", "qa"), ("laoli", "intro")]
    ):
        body = order_body("fp-attr", 1, i=i, room_id="r7", persona=persona, segment=segment)
        order = (
            await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": f"a{i}"})
        ).json()
        if i < 2:
            pay = (await http.post(f"/api/shop/orders/{order['id']}/payments")).json()
            await http.post(pay["confirm_url"])
    sales = (await http.get("/api/shop/rooms/r7/sales")).json()
    assert sales["orders"] == 2 and sales["revenue"] == "91.00"
    assert sales["by_persona"] == {"xiaoman": {"orders": 2, "revenue": "91.00"}}
    assert set(sales["by_segment"]) == {"intro", "qa"}
    assert sales["by_sku"]["fp-attr"]["units"] == 2
    fact = (await http.get("/api/shop/products/fp-attr")).json()
    assert fact["batch_id"] == "fp-attr-a" and fact["trace_url"] == "/trace/fp-attr-a"
