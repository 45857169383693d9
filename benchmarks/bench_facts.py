"""Live facts: how fast a live room's voice and card follow a shop change, and how many stale
facts it speaks.

A real Director (template writer, eSpeak) and timeline run on a fast media clock over an
in-memory shop (testkit/live_shop.py). Every 10 media seconds the shop changes: mostly
the price of the product on screen, also flash sales starting and ending and stock moving.
Figures are media-time seconds (what a viewer would experience), not wall time.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from testkit.live_shop import (
    APPLE,
    EPOCH,
    FRAME,
    MILLET,
    LiveRoom,
    Sale,
    Shop,
    Truth,
    demo_shop,
    money_in,
)

CHANGE_EVERY = 10.0
HOUR = float(os.environ.get("BENCH_FACTS_SECONDS", 3600))


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values or [0.0])[0]


def _change(shop: Shop, room: LiveRoom, rng: random.Random, n: int) -> tuple[str, str]:
    """One shop change on the product on screen; returns (kind, sku)."""
    sku = room.director.current_product.sku if room.director.current_product else APPLE
    roll = rng.random()
    p = shop.base[sku]
    if roll < 0.7:
        price = p.price
        while price == p.price:
            price = Decimal(rng.randint(19, 79)) + Decimal("0.9")
        shop.base[sku] = replace(p, price=price)
        room.event("product_changed", sku, {"fields": ["price"]})
        return "price", sku
    if roll < 0.85:
        if sku in shop.sales:
            shop.sales.pop(sku)
            room.event("flash_sale_ended", sku, {})
            return "sale_end", sku
        end = room.t + rng.uniform(4, 25)
        shop.sales[sku] = sale = Sale(Decimal(rng.randint(5, 15)) + Decimal("0.6"), end)
        ends_at = (EPOCH + timedelta(seconds=end)).isoformat()
        data = {"id": n, "price": str(sale.price), "cap": 20, "ends_at": ends_at}
        room.event("flash_sale_started", sku, data)
        return "sale", sku
    stock = rng.choice([3, 12, 57, 99, 140, 260, 1200])
    shop.base[sku] = replace(p, stock=stock)
    room.event("stock_changed", sku, {"available": stock})
    return "stock", sku


async def _simulate(seconds: float, seed: int = 11) -> dict:
    shop = demo_shop()
    room = LiveRoom(shop, "room-a", [APPLE, MILLET], seed=seed)
    rng = random.Random(seed)
    truth = Truth()
    truth.record(0.0, shop.facts("room-a", 0.0))
    pending: list[dict] = []  # price changes waiting for their first correct phrase / card
    speech_lat: list[float] = []
    card_lat: list[float] = []
    stale_started = 0
    said: list[dict] = []  # price changes waiting for the new price to be said at all
    hit_lat: list[float] = []  # changes that caught a line naming the old fact mid-air
    stale_utts: set[int] = set()
    next_change, n = 5.0, 0
    await room.start()
    try:
        while room.t < seconds:
            if room.t >= next_change:
                kind, sku = _change(shop, room, rng, n)
                truth.record(room.t, shop.facts("room-a", room.t))
                n += 1
                next_change += CHANGE_EVERY
                if kind == "price":
                    price = shop.base[sku].price
                    pending.append(
                        {"t": room.t, "sku": sku, "price": price, "speech": None, "card": None}
                    )
                    said[:] = [c for c in said if c["sku"] != sku or c["at"] is not None]
                    said.append({"t": room.t, "sku": sku, "price": price, "at": None})
                await room.settled()
            for sku, sale in list(shop.sales.items()):  # the shop's ticker ends sales on time
                if room.t >= sale.ends:
                    del shop.sales[sku]
                    truth.record(sale.ends, shop.facts("room-a", room.t))
                    room.event("flash_sale_ended", sku, {})
                    await room.settled()
            await room.step()
            t = room.t - FRAME  # the frame just played
            playing = room.playing.utterance
            if room.playing.started and playing is not None:
                if not truth.line_ok(t, playing.product_sku, playing.speech.text, 0.0):
                    stale_started += 1
            if playing is not None and not truth.line_ok(
                t, playing.product_sku, playing.speech.text, 0.0
            ):
                stale_utts.add(id(playing))
            card = room.stage.card
            if room.playing.started and playing is not None:
                for ch in said:
                    if ch["at"] is None and ch["sku"] == playing.product_sku:
                        if ch["price"] in money_in(playing.speech.text):
                            ch["at"] = t - ch["t"]
            for ch in pending:
                ok_now = playing is None or truth.line_ok(
                    t, playing.product_sku, playing.speech.text, 0.0
                )
                if ch["speech"] is None and ok_now:
                    ch["speech"] = t - ch["t"]
                    if ch.get("hit"):
                        hit_lat.append(ch["speech"])
                elif ch["speech"] is None:
                    ch["hit"] = True
                if ch["card"] is None and (card is None or truth.card_ok(t, card, 0.0)):
                    ch["card"] = t - ch["t"]
            for ch in [c for c in pending if c["speech"] is not None and c["card"] is not None]:
                speech_lat.append(ch["speech"])
                card_lat.append(ch["card"])
                pending.remove(ch)
    finally:
        await room.stop()
    d = room.director
    return {
        "media_seconds": round(room.t, 1),
        "changes": n,
        "price_changes_measured": len(speech_lat),
        "speech_latency_p95_s": round(_p95(speech_lat), 3),
        "speech_latency_max_s": round(max(speech_lat, default=0.0), 3),
        "speech_latency_when_a_line_named_the_old_fact": {
            "changes": len(hit_lat),
            "p95_s": round(_p95(hit_lat), 3),
            "max_s": round(max(hit_lat, default=0.0), 3),
        },
        # informational: when the host next states the new price (the script decides when)
        "new_price_said_p95_s": round(_p95([c["at"] for c in said if c["at"] is not None]), 2),
        "card_latency_p95_frames": round(_p95(card_lat) / FRAME + 1, 2),
        "card_latency_max_frames": round(max(card_lat, default=0.0) / FRAME + 1, 2),
        "stale_lines_started": stale_started,
        "stale_heads_cut": len(stale_utts),  # lines cut at their next break (within 1 phrase)
        "lines_rebound": d.stats.stale_rebound,
        "lines_dropped_before_synthesis": d.stats.stale_dropped,
        "lines_dropped_at_start": room.timeline.dropped,
        "utterances": len(room.starts),
    }


def run() -> dict:
    t0 = time.monotonic()
    out = asyncio.run(_simulate(HOUR))
    out["wall_seconds"] = round(time.monotonic() - t0, 1)
    out["targets"] = {"speech_latency_p95_s": 1.5, "card_latency_p95_frames": 1, "stale": 0}
    return out


if __name__ == "__main__":
    print(run())
