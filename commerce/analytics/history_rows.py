"""Turn a simulated history into table rows (orders, lines, rollups) and bulk-load them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from commerce.analytics.regions import PROVINCES, demo_address
from commerce.analytics.rollup import WAS_PAID, WATERMARK

if TYPE_CHECKING:
    from commerce.store import Store

# A table to load: name, columns, and one sequence per column. Kinds: "day" columns hold
# day indices, "ts" columns numpy datetime64; the loader converts them per database.
Table = tuple[str, list[str], list, dict[str, str]]


def _pii(store: Store, sim: dict, seed: int) -> tuple[list[str], list[str], list[str], list]:
    from commerce.analytics.history import GIVEN, SURNAMES

    rng = np.random.default_rng(seed + 1)
    custs = sim["customers"]
    names, phones, addrs, regions = [], [], [], []
    enc = store.keys.encrypt
    for i, (p, c) in enumerate(zip(custs["province"], custs["city"], strict=True)):
        prov = PROVINCES[p][0]
        city = PROVINCES[p][3][c] if prov not in ("北京", "天津", "上海", "重庆") else prov
        name = SURNAMES[rng.integers(len(SURNAMES))] + GIVEN[rng.integers(len(GIVEN))]
        names.append(enc(name))
        phones.append(enc(f"13{rng.integers(0, 10)}{rng.integers(10_000_000, 99_999_999)}"))
        addrs.append(enc(demo_address(prov, city, i)))
        regions.append((prov, city))
    return names, phones, addrs, regions


def _rows(store: Store, sim: dict, skus: list, seed: int) -> list[Table]:
    from commerce.analytics.history import ROOMS, SEGMENTS

    o, lines, fun = sim["orders"], sim["lines"], sim["funnel"]
    n = len(o)
    names, phones, addrs, regions = _pii(store, sim, seed)
    cust = o["customer"].to_numpy()
    buyer = np.array([f"demo-{seed}-{i:06d}" for i in range(len(names))], dtype=object)[cust]
    ids = [f"H{seed % 1000:03d}{i:09d}" for i in range(n)]
    room = o["room"].to_numpy()
    room_id = np.array([r for r, _p in ROOMS] + [""], dtype=object)[room]
    persona = np.array([p for _r, p in ROOMS] + [""], dtype=object)[room]
    segment = np.where(room >= 0, np.array(SEGMENTS, dtype=object)[o["segment"]], "")
    created = o["created"].to_numpy().astype("datetime64[us]")
    status = o["status"].to_numpy()
    total = o["total"].to_numpy()
    paid = np.isin(status, list(WAS_PAID))
    refunded = status == "refunded"
    updated = created + np.where(paid, np.timedelta64(3600, "s"), np.timedelta64(900, "s"))
    prov = np.array([r[0] for r in regions], dtype=object)[cust]
    city = np.array([r[1] for r in regions], dtype=object)[cust]
    nm, ph, ad = (np.array(x, dtype=object)[cust] for x in (names, phones, addrs))
    day = o["day"].to_numpy()
    sku_ids = np.array([s[0] for s in skus])
    tables: list[Table] = [
        (
            "orders",
            ["id", "idempotency_key", "request_hash", "buyer_id", "buyer_name_enc", "phone_enc"]
            + ["address_enc", "status", "subtotal_fen", "discount_fen", "total_fen", "room_id"]
            + ["persona", "segment", "created_at", "expires_at", "updated_at", "cancel_reason"],
            [
                ids,
                ["hist-" + i for i in ids],
                ["demo-history"] * n,
                buyer,
                nm,
                ph,
                ad,
                status,
                total,
                np.zeros(n, dtype=np.int64),
                total,
                np.where(room >= 0, room_id, None),
                np.where(room >= 0, persona, None),
                np.where(room >= 0, segment, None),
                created,
                created + np.timedelta64(900, "s"),
                updated,
                np.where(status == "cancelled", "expired", None),
            ],
            {"created_at": "ts", "expires_at": "ts", "updated_at": "ts"},
        ),
        (
            "order_lines",
            ["order_id", "sku_id", "quantity", "unit_price_fen"],
            [
                np.array(ids, dtype=object)[lines["order"].to_numpy()],
                sku_ids[lines["sku"].to_numpy()],
                lines["qty"].to_numpy(),
                lines["price"].to_numpy(),
            ],
            {},
        ),
        (
            "an_orders",
            ["order_id", "buyer_id", "day", "room_id", "persona", "segment", "province", "city"]
            + ["placed_fen", "paid_fen", "refund_fen"],
            [ids, buyer, day, room_id, persona, segment, prov, city, total]
            + [np.where(paid, total, 0), np.where(refunded, total, 0)],
            {"day": "day"},
        ),
    ]
    tables += _rollups(o.assign(paid=paid, refunded=refunded, prov=prov, city=city), lines)
    tables += _room_rollup(o.assign(paid=paid), fun, room_id, persona)
    tables += _customers(o.assign(paid=paid, refunded=refunded, buyer=buyer, prov=prov, city=city))
    tables += _pairs(o.assign(bought=paid & ~refunded), lines, sku_ids)
    keys, values = ["history_seed"], [str(seed)]
    if n:
        keys.append(WATERMARK)
        values.append(pd.Timestamp(updated.max()).isoformat())
    tables.append(("an_state", ["key", "value"], [keys, values], {}))
    return tables


def _rollups(o: pd.DataFrame, lines: pd.DataFrame) -> list[Table]:
    li = lines.join(o[["day", "paid", "refunded"]], on="order")
    li["gmv"] = li["qty"] * li["price"]
    li["p_orders"] = li["paid"].astype(int)
    li["p_units"] = li["qty"] * li["p_orders"]
    li["p_fen"] = li["gmv"] * li["p_orders"]
    li["r_fen"] = li["gmv"] * li["refunded"].astype(int)
    g = (
        li.groupby(["day", "sku"])
        .agg(
            orders=("order", "size"),
            units=("qty", "sum"),
            gmv=("gmv", "sum"),
            po=("p_orders", "sum"),
            pu=("p_units", "sum"),
            pf=("p_fen", "sum"),
            rf=("r_fen", "sum"),
        )
        .reset_index()
    )
    o = o.assign(pt=o["total"] * o["paid"].astype(int), po=o["paid"].astype(int))
    r = (
        o.groupby(["day", "prov", "city"])
        .agg(orders=("total", "size"), gmv=("total", "sum"), po=("po", "sum"), pf=("pt", "sum"))
        .reset_index()
    )
    return [
        (
            "an_day_sku",
            ["day", "sku_id", "orders", "units", "gmv_fen", "paid_orders", "paid_units"]
            + ["paid_fen", "refund_fen"],
            [g["day"], g["sku"], g["orders"], g["units"], g["gmv"], g["po"], g["pu"], g["pf"]]
            + [g["rf"]],
            {"day": "day", "sku_id": "sku"},
        ),
        (
            "an_day_region",
            ["day", "province", "city", "orders", "gmv_fen", "paid_orders", "paid_fen"],
            [r["day"], r["prov"], r["city"], r["orders"], r["gmv"], r["po"], r["pf"]],
            {"day": "day"},
        ),
    ]


def _room_rollup(o: pd.DataFrame, fun: pd.DataFrame, room_id, persona) -> list[Table]:
    o = o.assign(
        rid=room_id, per=persona, pt=o["total"] * o["paid"].astype(int), po=o["paid"].astype(int)
    )
    g = (
        o.groupby(["day", "room", "rid", "per"])
        .agg(orders=("total", "size"), gmv=("total", "sum"), po=("po", "sum"), pf=("pt", "sum"))
        .reset_index()
    )
    g = g.merge(fun[["day", "room", "views", "uv", "clicks"]], on=["day", "room"], how="left")
    g[["views", "uv", "clicks"]] = g[["views", "uv", "clicks"]].fillna(0).astype(int)
    return [
        (
            "an_day_room",
            ["day", "room_id", "persona", "views", "uv", "clicks", "orders", "gmv_fen"]
            + ["paid_orders", "paid_fen"],
            [g["day"], g["rid"], g["per"], g["views"], g["uv"], g["clicks"], g["orders"]]
            + [g["gmv"], g["po"], g["pf"]],
            {"day": "day"},
        )
    ]


def _customers(o: pd.DataFrame) -> list[Table]:
    b = o[o["paid"] & ~o["refunded"]]
    g = (
        b.groupby("buyer")
        .agg(
            prov=("prov", "first"),
            city=("city", "first"),
            first=("day", "min"),
            last=("day", "max"),
            orders=("day", "size"),
            fen=("total", "sum"),
        )
        .reset_index()
    )
    return [
        (
            "an_customers",
            ["buyer_id", "province", "city", "first_day", "last_day", "orders", "paid_fen"],
            [g["buyer"], g["prov"], g["city"], g["first"], g["last"], g["orders"], g["fen"]],
            {"first_day": "day", "last_day": "day"},
        )
    ]


def _pairs(o: pd.DataFrame, lines: pd.DataFrame, sku_ids) -> list[Table]:
    li = lines[o["bought"].to_numpy()[lines["order"].to_numpy()]]
    multi = li[li.duplicated("order", keep=False)]
    m = multi.merge(multi, on="order")
    m = m[m["sku_x"] < m["sku_y"]]
    g = m.groupby(["sku_x", "sku_y"]).size().rename("n").reset_index()
    a, b = sku_ids[g["sku_x"].to_numpy()], sku_ids[g["sku_y"].to_numpy()]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # (a, a): kept baskets holding a, the base a rule's confidence divides by
    one = li.drop_duplicates(["order", "sku"]).groupby("sku").size().rename("n").reset_index()
    own = sku_ids[one["sku"].to_numpy()]
    lo, hi = np.concatenate([lo, own]), np.concatenate([hi, own])
    n = np.concatenate([g["n"].to_numpy(), one["n"].to_numpy()])
    return [("an_pairs", ["sku_a", "sku_b", "baskets"], [lo, hi, n], {})]


def _column(values, kind: str | None, day0: date, sqlite: bool, sku_ids=None) -> list:
    if kind == "day":
        idx = np.asarray(values)
        span = int(idx.max()) + 1 if len(idx) else 0
        days = [day0 + timedelta(days=i) for i in range(span)]
        table = [d.isoformat() for d in days] if sqlite else days
        return [table[i] for i in idx.tolist()]
    if kind == "ts":
        arr = np.asarray(values).astype("datetime64[us]")
        if sqlite:
            return np.char.replace(np.datetime_as_string(arr, unit="us"), "T", " ").tolist()
        return arr.tolist()
    if kind == "sku":
        return sku_ids[np.asarray(values)].tolist()
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        return values.tolist()
    return list(values)


async def _bulk(store: Store, tables: list[Table], day0: date, sku_ids) -> None:
    sqlite = store.db.sqlite
    prepared = []
    for name, cols, data, kinds in tables:
        columns = [
            _column(v, kinds.get(c), day0, sqlite, sku_ids) for c, v in zip(cols, data, strict=True)
        ]
        prepared.append((name, cols, list(zip(*columns, strict=True))))
    if sqlite:

        def load(session) -> None:
            conn = session.connection()
            for name, cols, rows in prepared:
                if rows:
                    marks = ",".join("?" * len(cols))
                    conn.exec_driver_sql(
                        f"INSERT INTO {name} ({','.join(cols)}) VALUES ({marks})", rows
                    )

        await store.db.run_write(load)
        return
    async with store.db.fast_connection() as conn, conn.transaction():
        for name, cols, rows in prepared:
            if rows:
                await conn.copy_records_to_table(name, records=rows, columns=cols)
