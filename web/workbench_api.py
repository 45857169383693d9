"""The workbench's JSON actions: product photos, bulk price and stock edits with a preview,
shipping (single and CSV) and refund decisions; the buyer's shipment view; stored photos.

Product creation, editing and batches go through the shop's own API (`/api/shop/products…`);
what lives here is what that API did not do. Every change is recorded in the audit log by the
app's middleware, and the domain adds one row per order or SKU changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import FileResponse
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from commerce import Store
from commerce.errors import CommerceError, InvalidInput
from commerce.fulfilment import Fulfilment
from commerce.product_edit import normalize
from commerce.stock_adjust import check_target, set_stock
from web.security import principal
from web.shop_api import is_order_staff, read_body, read_json

MAX_PHOTO = 1024 * 1024  # bytes; the page shrinks a larger photo before it uploads
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
MAX_SIDE = 2000  # stored photos are at most this wide or tall
MAX_BULK = 200
PHOTO_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png)")
# what the bytes start with, never what the request says they are
MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
)


def sniff(data: bytes) -> str | None:
    """The image format the bytes are ("JPEG", "PNG", "WEBP"), or None."""
    for head, fmt in MAGIC:
        if data.startswith(head):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def clean_photo(data: bytes) -> tuple[bytes, str]:
    """Decode and re-encode an uploaded photo: only pixels survive (no trailing script, no
    EXIF location). Returns (bytes, "jpg" | "png"); InvalidInput when it is not a photo."""
    if not data:
        raise InvalidInput("没有收到图片")
    if len(data) > MAX_PHOTO:
        raise InvalidInput(f"图片不能超过 {MAX_PHOTO // 1024} KB")
    fmt = sniff(data)
    if fmt is None:
        raise InvalidInput("只能上传 JPEG、PNG 或 WebP 图片（文件内容不是图片）")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format != fmt:
                raise InvalidInput("图片内容与格式不符")
            w, h = probe.size
            if w * h > MAX_PIXELS or w < 1 or h < 1:
                raise InvalidInput("图片尺寸过大")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                img.convert("RGBA").save(out, "PNG", optimize=True)
                return out.getvalue(), "png"
            img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            return out.getvalue(), "jpg"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("图片文件已损坏或无法识别") from None


def save_photo(media_dir: Path, body: bytes, ext: str) -> str:
    """Store a cleaned photo under its content hash (the same photo twice is one file)."""
    name = f"{hashlib.sha256(body).hexdigest()[:32]}.{ext}"
    media_dir.mkdir(parents=True, exist_ok=True)
    path = media_dir / name
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(body)
        tmp.replace(path)
    return name


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BulkItem(_Body):
    sku: str = Field(min_length=1, max_length=64)
    price: StrictStr | None = Field(default=None, max_length=32)
    stock: StrictInt | None = None


class BulkIn(_Body):
    items: list[BulkItem] = Field(min_length=1, max_length=MAX_BULK)
    apply: StrictBool = False


class ShipIn(_Body):
    courier: StrictStr = Field(max_length=64)
    tracking_no: StrictStr = Field(max_length=64)


class RefundIn(_Body):
    approve: StrictBool
    reason: StrictStr = Field(default="", max_length=400)


def build_router(store: Store, media_dir: Path) -> APIRouter:
    r = APIRouter()
    fulfil = Fulfilment(store)

    async def call(coro):
        try:
            return await coro
        except CommerceError as e:
            raise HTTPException(e.status, e.reason) from None

    def actor(request: Request) -> str:
        return principal(request).username

    # -- photos --------------------------------------------------------------------------------
    @r.post("/api/workbench/products/{sku}/photos", status_code=201)
    async def upload_photo(sku: str, request: Request, caption: str = "") -> dict:
        if await store.fact_sheet(sku) is None:
            raise HTTPException(404, f"商品不存在：{sku[:64]}")
        if len(caption) > 256:
            raise HTTPException(422, "图片说明不能超过256个字符")
        data = await read_body(request, MAX_PHOTO)
        try:
            body, ext = await asyncio.to_thread(clean_photo, data)
        except InvalidInput as e:
            raise HTTPException(415 if "不是图片" in e.reason else 422, e.reason) from None
        name = await asyncio.to_thread(save_photo, media_dir, body, ext)
        media = await call(store.add_media(sku, "image", f"/media/{name}", caption))
        request.state.audit_after = {"sku": sku, "url": media["url"], "bytes": len(body)}
        return media

    @r.get("/media/{name}", include_in_schema=False)
    async def media(name: str) -> FileResponse:
        if not PHOTO_NAME.fullmatch(name) or not (media_dir / name).is_file():
            raise HTTPException(404, "图片不存在")
        kind = "image/png" if name.endswith(".png") else "image/jpeg"
        return FileResponse(
            media_dir / name,
            media_type=kind,
            headers={
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'",
                "Cache-Control": "public, max-age=31536000, immutable",
            },
        )

    # -- bulk price and stock ------------------------------------------------------------------
    @r.post("/api/workbench/products/bulk")
    async def bulk_edit(request: Request) -> dict:
        """Preview (apply false) or apply (apply true) new prices and stock counts. Nothing is
        applied while any line has an error."""
        b: BulkIn = await read_json(request, BulkIn)
        current = {f.sku: f for f in await store.fact_sheets()}
        rows: list[dict[str, Any]] = []
        for item in b.items:
            f = current.get(item.sku)
            row: dict[str, Any] = {"sku": item.sku, "error": ""}
            if f is None:
                row["error"] = "商品不存在"
                rows.append(row)
                continue
            row.update(name=f.name, price_before=f"{f.price:.2f}", stock_before=f.stock)
            row["price_after"], row["stock_after"] = row["price_before"], f.stock
            try:
                if item.price is not None and item.price != "":
                    fen = normalize({"price": item.price})["price"]
                    if f.list_price is not None and fen >= int(f.list_price * 100):
                        raise InvalidInput("售价必须低于划线价")
                    row["price_after"] = f"{fen // 100}.{fen % 100:02d}"
                if item.stock is not None:
                    row["stock_after"] = check_target(item.stock)
            except InvalidInput as e:
                row["error"] = e.reason
            rows.append(row)
        errors = sum(1 for x in rows if x["error"])
        if not b.apply or errors:
            return {"applied": False, "errors": errors, "rows": rows}
        before: dict[str, dict] = {}
        after: dict[str, dict] = {}
        for row in rows:  # each SKU on its own: one refused at apply time is reported
            sku = row["sku"]
            try:
                if row["price_after"] != row["price_before"]:
                    await store.update_product(sku, {"price": row["price_after"]})
                    before.setdefault(sku, {})["price"] = row["price_before"]
                    after.setdefault(sku, {})["price"] = row["price_after"]
                if row["stock_after"] != row["stock_before"]:
                    await set_stock(store, sku, row["stock_after"], actor(request))
                    before.setdefault(sku, {})["stock"] = row["stock_before"]
                    after.setdefault(sku, {})["stock"] = row["stock_after"]
            except CommerceError as e:
                row["error"] = e.reason
        request.state.audit_before, request.state.audit_after = before, after
        return {"applied": True, "errors": sum(1 for x in rows if x["error"]), "rows": rows}

    # -- orders --------------------------------------------------------------------------------
    @r.post("/api/workbench/orders/{order_id}/ship")
    async def ship(order_id: str, request: Request) -> dict:
        b: ShipIn = await read_json(request, ShipIn)
        return await call(fulfil.ship(order_id, b.courier, b.tracking_no, actor(request)))

    @r.post("/api/workbench/orders/ship-csv")
    async def ship_csv(request: Request) -> dict:
        data = await read_body(request, 512 * 1024)
        res = await call(fulfil.ship_csv(data, actor(request)))
        request.state.audit_after = {"shipped": len(res.shipped), "errors": len(res.errors)}
        return {
            "shipped": len(res.shipped),
            "errors": [
                {"line": e.line, "order_id": e.order_id, "reason": e.reason} for e in res.errors
            ],
        }

    @r.post("/api/workbench/orders/{order_id}/refund")
    async def refund(order_id: str, request: Request) -> dict:
        b: RefundIn = await read_json(request, RefundIn)
        return await call(fulfil.decide_refund(order_id, b.approve, b.reason, actor(request)))

    @r.get("/api/shop/orders/{order_id}/tracking")
    async def tracking(
        order_id: str, request: Request, x_order_token: str | None = Header(default=None)
    ) -> dict:
        """The order as its buyer sees it, with the courier and tracking number once shipped."""
        if not (store.orders.token_matches(order_id, x_order_token) or is_order_staff(request)):
            raise HTTPException(404, "订单不存在或链接已失效")  # no oracle for order ids
        order = await call(store.orders.get(order_id))
        return {**order, **await call(fulfil.tracking(order_id))}

    return r
