"""The live console and the ticket desk in headless Chromium on loopback, on the pages' real
calls: the console of the live demo room (its WHEP offer, events socket, figures snapshot and
product list) and the desk with 60 open tickets (a third of them overdue). Median of 5 loads
each, after one warm-up load: first contentful paint, the load event, and for the console the
time until its figures are shown and until the first video frame is decoded.

Lighthouse (mobile, its default simulated throttling) scores the console and the desk for
performance and accessibility when `YUNLIAN_LIGHTHOUSE` names its command; it is an npm
package, not a project dependency: `npm i -E lighthouse@12.2.3` in any folder, then
`YUNLIAN_LIGHTHOUSE=$PWD/node_modules/.bin/lighthouse`. Without it the figure is not taken.

Run alone with `python -m benchmarks.bench_console`; `make bench` runs it inside the
workbench section.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

from testkit.chromium import AUTOPLAY, sign_in
from testkit.chromium import FLAGS as KIT_FLAGS

FLAGS = [*KIT_FLAGS, AUTOPLAY]

LOADS = 5
TICKETS = 60
TIMES = (
    "[performance.getEntriesByName('first-contentful-paint')[0].startTime,"
    " performance.getEntriesByType('navigation')[0].loadEventEnd]"
)


def _seed_tickets(srv) -> None:
    from sqlalchemy import update

    from commerce.models import Ticket

    store = srv.store
    ids = []
    for i in range(TICKETS):
        kind = "complaint" if i % 2 else "question"
        t = srv.call(
            store.tickets.open("demo", f"v-{i}", f"观众{i}", kind, f"第{i}单的枣子坏了几个")
        )
        ids.append(t.id)

    async def age() -> None:
        async with store.db.write() as s:
            await s.execute(
                update(Ticket)
                .where(Ticket.id.in_(ids[: TICKETS // 3]))
                .values(created_at=store.clock() - timedelta(minutes=30))
            )

    srv.call(age())


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


async def _paint(srv) -> dict:
    from playwright.async_api import async_playwright

    name, password = srv.user("operator")
    out: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            page = await (await browser.new_context()).new_page()
            page.set_default_timeout(60_000)
            await sign_in(page, srv.url, name, password, "/workbench")

            fcp, load, figures, video = [], [], [], []
            for _ in range(LOADS + 1):  # the first load warms caches and is not counted
                await page.goto(f"{srv.url}/static/style.css")  # leave: the WHEP session ends
                await page.goto(f"{srv.url}/workbench/live/demo", wait_until="load")
                await page.wait_for_function(
                    "window.consoleTimes && window.consoleTimes.figures"
                    " && window.consoleTimes.video"
                    " && performance.getEntriesByName('first-contentful-paint').length > 0"
                )
                t = await page.evaluate(TIMES)
                c = await page.evaluate("window.consoleTimes")
                fcp.append(t[0])
                load.append(t[1])
                figures.append(c["figures"])
                video.append(c["video"])
            out["console"] = {
                "fcp_ms_median": _median(fcp[1:]),
                "load_ms_median": _median(load[1:]),
                "figures_ms_median": _median(figures[1:]),
                "first_video_frame_ms_median": _median(video[1:]),
                "fcp_ms_all": [round(x, 1) for x in fcp[1:]],
            }

            fcp, load = [], []
            for _ in range(LOADS + 1):
                await page.goto(f"{srv.url}/static/style.css")
                await page.goto(f"{srv.url}/workbench/tickets", wait_until="load")
                await page.wait_for_function(
                    "performance.getEntriesByName('first-contentful-paint').length > 0"
                )
                t = await page.evaluate(TIMES)
                fcp.append(t[0])
                load.append(t[1])
            shown = await page.locator(".td-item").count()
            late = await page.locator(".td-item.overdue").count()
            out["tickets"] = {
                "fcp_ms_median": _median(fcp[1:]),
                "load_ms_median": _median(load[1:]),
                "fcp_ms_all": [round(x, 1) for x in fcp[1:]],
                "tickets_shown": shown,
                "overdue_shown": late,
            }
        finally:
            await browser.close()
    return out


def _lighthouse(srv, paths: tuple[str, ...]) -> dict:
    """Lighthouse's mobile performance and accessibility scores of each page (signed in)."""
    command = os.environ.get("YUNLIAN_LIGHTHOUSE", "")
    if not command:
        return {"run": False, "why": "YUNLIAN_LIGHTHOUSE is not set (see the module's doc)"}
    import httpx

    name, password = srv.user("operator")
    res = httpx.post(f"{srv.url}/api/auth/login", json={"username": name, "password": password})
    res.raise_for_status()
    cookie = "; ".join(f"{k}={v}" for k, v in res.cookies.items())
    out: dict = {"run": True, "form_factor": "mobile (simulated throttling)"}
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            report = Path(tmp) / "report.json"
            subprocess.run(
                [
                    command,
                    f"{srv.url}{path}",
                    "--quiet",
                    "--output=json",
                    f"--output-path={report}",
                    "--only-categories=performance,accessibility",
                    "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
                    "--extra-headers",
                    json.dumps({"Cookie": cookie}),
                ],
                env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"},
                timeout=240,
                check=True,
            )
            data = json.loads(report.read_text())
            audits = data["audits"]
            out[path] = {
                "performance": round(data["categories"]["performance"]["score"] * 100),
                "accessibility": round(data["categories"]["accessibility"]["score"] * 100),
                "fcp": audits["first-contentful-paint"]["displayValue"],
                "lcp": audits["largest-contentful-paint"]["displayValue"],
                "tbt": audits["total-blocking-time"]["displayValue"],
                "cls": audits["cumulative-layout-shift"]["displayValue"],
            }
    return out


def run() -> dict:
    from testkit.livesrv import LiveServer

    with tempfile.TemporaryDirectory() as tmp:
        with LiveServer(
            Path(tmp) / "console.db", stamp=False, media_dir=str(Path(tmp) / "m")
        ) as srv:
            _seed_tickets(srv)
            out = asyncio.run(_paint(srv))
            out["lighthouse"] = _lighthouse(srv, ("/workbench/live/demo", "/workbench/tickets"))
    return out | {
        "loads": LOADS,
        "room": "demo (live, in the web process)",
        "tickets_seeded": TICKETS,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=2))
