"""开播向导: time from the operator's first click on the wizard to the room's video playing on
the same page, in headless Chromium on loopback, through the page's real calls (POST
/api/rooms, then WHEP). Each run is a new room (a cold start: its host, scene and encoder are
built on that click); the room is stopped between runs. Also the 开播 click to video, and the
two API calls' times as the browser saw them.

The clicks are made as fast as Playwright can (a person takes a few seconds to choose): the
figure is the system's share of the wait.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from testkit.chromium import AUTOPLAY, sign_in
from testkit.chromium import FLAGS as KIT_FLAGS

FLAGS = [*KIT_FLAGS, AUTOPLAY]

RUNS = 5


async def _runs(srv) -> list[dict]:
    from playwright.async_api import async_playwright

    name, password = srv.user("operator")
    out: list[dict] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            ctx = await browser.new_context()
            page = await ctx.new_page()
            page.set_default_timeout(90_000)
            await sign_in(page, srv.url, name, password, "/workbench/start")
            calls: dict[str, float] = {}

            def finished(req) -> None:
                t = req.timing
                path = req.url.split("//", 1)[-1].split("/", 1)[-1]
                if req.method == "POST" and path.startswith("api/rooms"):
                    key = "whep" if path.endswith("/whep") else "start_room"
                    calls[key] = t["responseEnd"]

            page.on("requestfinished", finished)
            for i in range(RUNS):
                calls.clear()
                await page.goto(f"{srv.url}/workbench/start", wait_until="load")
                await page.click('.wz-persona[data-persona="xiaowang"]')
                await page.click('.wz-product[data-sku="fp-jujube-500g"]')
                await page.click('.wz-product[data-sku="fp-millet-2500g"]')
                await page.click("#to-3")
                room = await page.input_value("#wz-room")
                await page.click("#wz-start")
                await page.wait_for_function(
                    "window.wizardTimes.playing !== null"
                    " && document.querySelector('#wz-video').videoWidth > 0",
                    timeout=90_000,
                )
                t = await page.evaluate("window.wizardTimes")
                out.append(
                    {
                        "first_click_to_video_ms": round(t["playing"] - t["firstClick"], 1),
                        "start_click_to_video_ms": round(t["playing"] - t["startClick"], 1),
                        "start_click_to_room_started_ms": round(t["started"] - t["startClick"], 1),
                        "post_rooms_ms": round(calls.get("start_room", -1), 1),
                        "post_whep_ms": round(calls.get("whep", -1), 1),
                    }
                )
                await page.goto(f"{srv.url}/static/style.css")  # hang up before the stop
                srv.call(srv.engine.stop_room(room))
                print(f"  run {i + 1}: {out[-1]}", flush=True)
        finally:
            await browser.close()
    return out


def run() -> dict:
    from testkit.livesrv import LiveServer

    with tempfile.TemporaryDirectory() as tmp:
        with LiveServer(Path(tmp) / "bench.db", stamp=False, demo_room=False) as srv:
            runs = asyncio.run(_runs(srv))

    def summary(key: str) -> dict:
        values = [r[key] for r in runs]
        return {"median": round(statistics.median(values), 1), "max": round(max(values), 1)}

    return {
        "runs": RUNS,
        "first_click_to_video_ms": summary("first_click_to_video_ms"),
        "start_click_to_video_ms": summary("start_click_to_video_ms"),
        "start_click_to_room_started_ms": summary("start_click_to_room_started_ms"),
        "all": runs,
        "target_s": 60,
        "path": "Chromium: wizard clicks -> POST /api/rooms -> WHEP -> <video> playing",
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
