"""A third-party WHEP player (medooze's whip-whep WHEPClient, vendored unmodified) served
from another origin plays the room in Chromium with web security on, then leaves."""

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.async_api import async_playwright

from testkit.livesrv import free_port
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS

VENDOR = Path(__file__).resolve().parents[1] / "vendor" / "whip-whep"
PAGE = """<!doctype html><html><body>
<video id="v" autoplay muted playsinline></video>
<script type="module">
import { WHEPClient } from "./whep.js";
const pc = new RTCPeerConnection();
pc.addTransceiver("video", { direction: "recvonly" });
pc.addTransceiver("audio", { direction: "recvonly" });
const stream = new MediaStream();
document.getElementById("v").srcObject = stream;
pc.ontrack = (e) => stream.addTrack(e.track);
const whep = new WHEPClient();
window.whep = whep;
window.played = whep.view(pc, "%(endpoint)s").then(() => "ok", (e) => "error: " + e.message);
</script></body></html>"""


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


async def test_medooze_whep_client_from_another_origin_plays_and_leaves(live_server, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "whep.js").write_bytes((VENDOR / "whep.js").read_bytes())
    endpoint = f"{live_server.url}/api/rooms/demo/whep"
    (site / "index.html").write_text(PAGE % {"endpoint": endpoint}, encoding="utf-8")
    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sessions0 = len(live_server.engine.sessions)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
            )
            try:
                page = await browser.new_page()
                errors = []
                page.on("console", lambda m: m.type == "error" and errors.append(m.text))
                origin = f"http://127.0.0.1:{port}"
                assert origin != live_server.url  # another origin: CORS must allow it
                await page.goto(origin + "/index.html")
                assert await page.evaluate("window.played") == "ok", errors
                await page.wait_for_function(
                    "document.getElementById('v').videoWidth > 0", timeout=30_000
                )
                size = await page.evaluate(
                    "[document.getElementById('v').videoWidth, document.getElementById('v').videoHeight]"
                )
                audio = await page.evaluate(
                    "document.getElementById('v').srcObject.getAudioTracks().length"
                )
                assert len(live_server.engine.sessions) == sessions0 + 1
                await page.evaluate("window.whep.stop()")
            finally:
                await browser.close()
    finally:
        httpd.shutdown()
    assert size == [1280, 720] and audio == 1
    assert not [e for e in errors if "CORS" in e or "blocked" in e], errors
    assert len(live_server.engine.sessions) == sessions0
