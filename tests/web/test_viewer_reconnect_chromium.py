"""The viewer page reconnects by itself when the room's worker dies (Chromium, real kill -9)."""

import os
import signal
import time

import httpx
import pytest

from testkit.livesrv import LiveServer
from tests.web.test_viewer_page_chromium import open_page

FRAMES = "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames"


@pytest.fixture(scope="module")
def worker_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("reconnect") / "yunlian.db"
    with LiveServer(path, workers=1) as srv:
        yield srv


def _worker_pid(srv: LiveServer) -> int:
    metrics = httpx.get(srv.url + "/api/metrics", headers=srv.headers("admin"), timeout=5).json()
    return next(w["pid"] for w in metrics["workers"] if "demo" in w["rooms"])


async def test_chromium_shows_video_again_after_the_room_s_worker_is_killed(worker_server):
    async with open_page(worker_server) as page:
        await page.wait_for_function(
            "document.getElementById('video').videoWidth > 0", timeout=30_000
        )
        victim = _worker_pid(worker_server)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        await page.wait_for_function("window.viewerReconnects >= 1", timeout=30_000)
        await page.wait_for_function(
            "document.getElementById('status').textContent === '直播中'", timeout=30_000
        )
        await page.wait_for_function(f"{FRAMES} > 10", timeout=30_000)
        f0 = await page.evaluate(FRAMES)
        await page.wait_for_timeout(1500)
        f1 = await page.evaluate(FRAMES)
        back = time.monotonic() - killed
        reconnects = await page.evaluate("window.viewerReconnects")
    assert _worker_pid(worker_server) != victim
    assert f1 - f0 >= 15, f"only {f1 - f0} frames decoded in 1.5 s after the reconnect"
    assert reconnects <= 5, f"{reconnects} reconnects: the backoff did not hold"
    print(f"video again {back:.1f} s after kill -9")
