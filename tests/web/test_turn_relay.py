"""TURN for viewers behind NAT: the app hands out coturn credentials that expire (TURN REST
API), in WHEP's Link header and to the page, and a viewer allowed only relay candidates
(aiortc with iceTransportPolicy relay; Chromium with ?ice=relay) connects through a real
coturn on loopback and plays the room."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time

import httpx
import pytest
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from playwright.async_api import async_playwright

from streamer.turn import IceConfig, TurnConfigError, turn_password
from testkit.coturn import Coturn
from testkit.livesrv import LiveServer
from tests.web.test_viewer_page_chromium import CHROMIUM_FLAGS

VIDEO = "document.getElementById('video')"
LINK = re.compile(r'<([^>]+)>;\s*rel="ice-server"((?:;\s*[\w-]+="(?:[^"\\]|\\.)*")*)')
PARAM = re.compile(r'([\w-]+)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def turn(tmp_path_factory):
    with Coturn(tmp_path_factory.mktemp("coturn")) as t:
        yield t


@pytest.fixture(scope="module")
def server(turn, tmp_path_factory):
    with LiveServer(
        tmp_path_factory.mktemp("turn") / "yunlian.db",
        ice_servers=["stun:127.0.0.1:3478"],
        turn_urls=[turn.url],
        turn_secret=turn.secret,
        turn_ttl=600,
    ) as srv:
        yield srv


def parse_links(value: str) -> list[dict]:
    out = []
    for url, params in LINK.findall(value):
        entry = {"urls": url}
        entry |= {k: v.replace('\\"', '"') for k, v in PARAM.findall(params)}
        out.append(entry)
    return out


# --- credentials ------------------------------------------------------------------------


def test_credentials_are_the_turn_rest_api_scheme_and_expire_after_the_ttl():
    ice = IceConfig(("stun:s.example:3478",), ("turn:t.example:3478",), "s3cret", 600, lambda: 1e9)
    username, password = ice.credentials("demo")
    assert username == f"{1_000_000_000 + 600}:demo"
    # what coturn computes: base64(HMAC-SHA1(secret, username)), 20 bytes
    mac = hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    assert password == base64.b64encode(mac).decode() == turn_password("s3cret", username)
    servers = ice.ice_servers("demo")
    assert servers == [
        {"urls": ["stun:s.example:3478"]},
        {"urls": ["turn:t.example:3478"], "username": username, "credential": password},
    ]
    links = parse_links(ice.link_header("demo"))
    assert links[0] == {"urls": "stun:s.example:3478"}
    assert links[1] == {
        "urls": "turn:t.example:3478",
        "username": username,
        "credential": password,
        "credential-type": "password",
    }


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"turn_urls": ("turn:x:3478",)}, "secret"),
        ({"turn_urls": ("http://x",), "secret": "s"}, "turn:"),
        ({"turn_urls": ('turn:x"; rel="evil',), "secret": "s"}, "characters"),
        ({"urls": ("ftp://x",)}, "stun:"),
        ({"turn_urls": ("turn:x",), "secret": "s", "ttl": 5}, "lifetime"),
        ({"turn_urls": ("turn:x",), "secret": "s", "ttl": 10**9}, "lifetime"),
    ],
)
def test_unusable_turn_settings_are_refused_naming_the_part(kwargs, reason):
    with pytest.raises(TurnConfigError, match=reason):
        IceConfig(**kwargs)


# --- against coturn -----------------------------------------------------------------------


async def _relay_viewer(base_url: str, servers: list[RTCIceServer]):
    """A WHEP viewer that may use relay candidates only (host and srflx are never gathered)."""
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    )
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    frames: list = []
    tasks = []

    async def read(track):
        try:
            while True:
                frames.append(await track.recv())
        except MediaStreamError:
            return

    pc.on(
        "track",
        lambda t: tasks.append(asyncio.ensure_future(read(t))) if t.kind == "video" else None,
    )
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        res = await http.post(
            "/api/rooms/demo/whep", content=offer, headers={"Content-Type": "application/sdp"}
        )
    return pc, offer, res, frames, tasks


async def test_a_relay_only_aiortc_viewer_connects_through_coturn_with_the_link_credentials(
    server, turn
):
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        pre = await http.options("/api/rooms/demo/whep")
    links = parse_links(pre.headers["link"])
    assert links[0] == {"urls": "stun:127.0.0.1:3478"}
    relay = next(x for x in links if x["urls"] == turn.url)
    expiry = int(relay["username"].split(":")[0])
    assert relay["username"].endswith(":demo") and 590 <= expiry - time.time() <= 610
    assert relay["credential"] == turn_password(turn.secret, relay["username"])

    servers = [RTCIceServer(turn.url, relay["username"], relay["credential"])]
    pc, offer, res, frames, tasks = await _relay_viewer(server.url, servers)
    try:
        candidates = re.findall(r"^a=candidate:.* typ (\w+)", offer, flags=re.MULTILINE)
        assert candidates and set(candidates) == {"relay"}, candidates
        assert res.status_code == 201, res.text
        assert parse_links(res.headers["link"])[1]["urls"] == turn.url
        await pc.setRemoteDescription(RTCSessionDescription(res.text, "answer"))
        deadline = time.monotonic() + 40
        while len(frames) < 25 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(frames) >= 25, f"decoded {len(frames)} frames through the relay"
        assert (frames[-1].width, frames[-1].height) == (1280, 720)
        ice_transport = pc.getTransceivers()[0].receiver.transport.transport
        local = ice_transport._connection._nominated[1].local_candidate  # the chosen pair
        assert local.type == "relay" and local.host == "127.0.0.1"
    finally:
        for t in tasks:
            t.cancel()
        await pc.close()
        async with httpx.AsyncClient(timeout=10) as http:
            if res.status_code == 201:
                await http.delete(res.headers["location"])


async def test_expired_or_forged_credentials_get_no_relay_from_coturn(server, turn):
    stale = IceConfig((), (turn.url,), turn.secret, 60, lambda: time.time() - 3600)
    forged = IceConfig((), (turn.url,), "not-the-secret", 600)
    for ice in (stale, forged):
        username, password = ice.credentials("demo")
        pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=[RTCIceServer(turn.url, username, password)],
                iceTransportPolicy=RTCIceTransportPolicy.RELAY,
            )
        )
        try:
            pc.addTransceiver("video", direction="recvonly")
            try:
                await asyncio.wait_for(pc.setLocalDescription(await pc.createOffer()), 30)
                sdp = pc.localDescription.sdp
            except Exception as exc:  # noqa: BLE001 - aioice raises when no candidate is left
                sdp = str(exc)
            assert "typ relay" not in sdp, "coturn handed a relay to bad credentials"
        finally:
            await pc.close()


async def test_chromium_with_relay_only_ice_plays_the_room_through_coturn(server, turn):
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(server.url + "/rooms/demo?ice=relay", wait_until="domcontentloaded")
            await page.wait_for_function(
                f"{VIDEO}.srcObject && {VIDEO}.videoWidth > 0", timeout=60_000
            )
            assert await page.evaluate("pc.getConfiguration().iceTransportPolicy") == "relay"
            t0 = await page.evaluate(f"{VIDEO}.currentTime")
            await page.wait_for_timeout(2000)
            assert await page.evaluate(f"{VIDEO}.currentTime") - t0 > 1.0
            types = await page.evaluate(
                """async () => {
                  const stats = await pc.getStats();
                  let pair = null;
                  stats.forEach((s) => {
                    if (s.type === 'transport' && s.selectedCandidatePairId)
                      pair = stats.get(s.selectedCandidatePairId);
                  });
                  const local = pair && stats.get(pair.localCandidateId);
                  const all = [];
                  stats.forEach((s) => { if (s.type === 'local-candidate') all.push(s.candidateType); });
                  return { selected: local && local.candidateType, all };
                }"""
            )
            assert types["selected"] == "relay", types
            assert set(types["all"]) == {"relay"}, types
        finally:
            await browser.close()


async def test_chromium_relay_only_through_coturn_watches_the_room_through_janus(tmp_path):
    """All three together: the room forwards to Janus, and a viewer allowed only relay
    candidates watches Janus's mountpoint through coturn (relaying from the host's address:
    Janus drops relay candidates on loopback)."""
    from testkit.coturn import host_ip
    from testkit.janus import Janus

    with (
        Coturn(tmp_path / "coturn", relay_ip=host_ip()) as turn,
        Janus(tmp_path / "janus") as janus,
        LiveServer(
            tmp_path / "yunlian.db",
            turn_urls=[turn.url],
            turn_secret=turn.secret,
            janus_url=janus.api_url,
            janus_admin_key=janus.admin_key,
        ) as srv,
    ):
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
            )
            try:
                page = await browser.new_page()
                await page.goto(srv.url + "/rooms/demo?via=janus&ice=relay")
                await page.wait_for_function(
                    f"{VIDEO}.srcObject && {VIDEO}.videoWidth > 0", timeout=60_000
                )
                t0 = await page.evaluate(f"{VIDEO}.currentTime")
                await page.wait_for_timeout(3000)
                assert await page.evaluate(f"{VIDEO}.currentTime") - t0 > 1.5
                selected = await page.evaluate(
                    """async () => {
                      const stats = await pc.getStats();
                      let type = null;
                      stats.forEach((s) => {
                        if (s.type === 'transport' && s.selectedCandidatePairId) {
                          const pair = stats.get(s.selectedCandidatePairId);
                          type = stats.get(pair.localCandidateId).candidateType;
                        }
                      });
                      return type;
                    }"""
                )
                assert selected == "relay"
                assert await page.evaluate("window.yunlianViewer.janus !== null")
                assert len(srv.engine.sessions) == 0  # Janus carried it, not WHEP
            finally:
                await browser.close()
