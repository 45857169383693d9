"""The WHEP offer check reads offers with aiortc's own SDP parser: real browser and aiortc
offers pass, and malformed, oversized or hostile ones are refused with a reason (BadOffer,
a 400 over HTTP), never with another exception."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.engine_base import (
    MAX_CANDIDATES,
    MAX_MEDIA_SECTIONS,
    MAX_SDP_BYTES,
    MAX_SDP_LINES,
    BadOffer,
    check_offer,
)

# What Chromium 120+ offers for a recvonly WHEP viewer (trimmed of extmaps, same shape)
CHROME_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=candidate:1 1 udp 2113937151 3f0b6a3e-1b6c-4f5e-9d1e-7a1c2b3d4e5f.local 51234 typ host"
        " generation 0 network-cost 999",
        "a=candidate:2 1 udp 1677729535 203.0.113.7 51234 typ srflx raddr 0.0.0.0 rport 0"
        " generation 0 network-cost 999",
        "a=ice-ufrag:Qx1b",
        "a=ice-pwd:7Vd0RZ0yS+aX5p6o9tHkQ1Gx",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CF:CC:4E:4B:2C:DD:2F:92:3B:B7:6D:"
        "3F:8C:9A:22:00:7A:6C:8C:11",
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset",
        "a=recvonly",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:102 H264/90000",
        "a=rtcp-fb:102 nack pli",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
        "a=rtpmap:103 rtx/90000",
        "a=fmtp:103 apt=102",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Qx1b",
        "a=ice-pwd:7Vd0RZ0yS+aX5p6o9tHkQ1Gx",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CF:CC:4E:4B:2C:DD:2F:92:3B:B7:6D:"
        "3F:8C:9A:22:00:7A:6C:8C:11",
        "a=setup:actpass",
        "a=mid:1",
        "a=recvonly",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:0 PCMU/8000",
        "",
    ]
)


async def _aiortc_offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


@pytest.fixture(scope="module")
def aiortc_offer() -> str:
    return asyncio.run(_aiortc_offer())


def _refused(sdp: object, reason: str) -> None:
    with pytest.raises(BadOffer) as err:
        check_offer(sdp)  # type: ignore[arg-type]
    assert reason in str(err.value), str(err.value)


def _swap(sdp: str, old: str, new: str) -> str:
    assert old in sdp, old
    return sdp.replace(old, new)


def test_real_offers_pass_with_the_kinds_they_ask_for(aiortc_offer):
    assert check_offer(CHROME_OFFER) == {"audio", "video"}
    assert check_offer(aiortc_offer) == {"audio", "video"}
    video_only = CHROME_OFFER.split("m=audio")[0]
    assert check_offer(video_only) == {"video"}
    # LF line ends and a data channel beside the media are fine
    assert check_offer(CHROME_OFFER.replace("\r\n", "\n")) == {"audio", "video"}
    channel = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n"
    assert check_offer(CHROME_OFFER + channel) == {"audio", "video"}


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda s: None, "must be text"),
        (lambda s: b"v=0", "must be text"),
        (lambda s: "", "not an SDP offer"),
        (lambda s: "hello world", "not an SDP offer"),
        (lambda s: "<html>v=0</html>", "not an SDP offer"),
        (lambda s: s + "a=x" * MAX_SDP_BYTES, "larger than"),
        (lambda s: s + "a=x\r\n" * MAX_SDP_LINES, "lines"),
        (lambda s: s.replace("s=-", "s=\x00-"), "control characters"),
        (lambda s: s.replace("s=-", "s=\x1b[2J"), "control characters"),
        (lambda s: s.split("m=video")[0], "no audio or video"),
        (
            lambda s: s.split("m=video")[0] + "m=text 9 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n",
            "no audio or video",
        ),
        (lambda s: s + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * MAX_MEDIA_SECTIONS, "media sections"),
        # the parser's own refusals: each is a line aiortc cannot read
        (lambda s: _swap(s, "m=video 9 UDP", "m=video nine UDP"), "malformed"),
        (
            lambda s: _swap(s, "m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 9 UDP/TLS/RTP/SAVPF x"),
            "malformed",
        ),
        (lambda s: _swap(s, "SAVPF 96 97", "SAVPF 96 300 97"), "malformed"),
        (lambda s: _swap(s, "SAVPF 96 97", "SAVPF 96 72 97"), "malformed"),  # RTCP's range
        (lambda s: _swap(s, "a=rtpmap:96 VP8/90000", "a=rtpmap:96"), "malformed"),
        (lambda s: _swap(s, "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP8/fast"), "malformed"),
        (lambda s: _swap(s, "a=rtpmap:96 VP8/90000", "a=rtpmap:x VP8/90000"), "malformed"),
        (lambda s: _swap(s, "a=fmtp:97 apt=96", "a=fmtp:97"), "malformed"),
        (lambda s: _swap(s, "a=fmtp:97 apt=96", "a=fmtp:55 apt=96"), "malformed"),
        (lambda s: _swap(s, "a=fmtp:97 apt=96", "a=fmtp:97 apt=ninety"), "malformed"),
        (lambda s: _swap(s, "a=setup:actpass", "a=setup:everything"), "malformed"),
        (lambda s: _swap(s, "a=setup:actpass", "a=setup"), "malformed"),
        (lambda s: _swap(s, "c=IN IP4 0.0.0.0", "c=IN IPX 0.0.0.0"), "malformed"),
        (lambda s: _swap(s, "a=rtcp:9 IN", "a=rtcp:nine IN"), "malformed"),
        (lambda s: _swap(s, "a=extmap:1 urn", "a=extmap:one urn"), "malformed"),
        (
            lambda s: _swap(s, "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset", "a=extmap:1"),
            "malformed",
        ),
        (lambda s: _swap(s, "a=mid:0", "a=mid:0\r\na=ssrc:abc cname:x"), "malformed"),
        (lambda s: _swap(s, "a=mid:0", "a=mid:0\r\na=ssrc:1"), "malformed"),
        (lambda s: _swap(s, "a=mid:0", "a=mid:0\r\na=ssrc-group:FID x y"), "malformed"),
        (lambda s: _swap(s, "a=mid:0", "a=mid:0\r\na=candidate:1 1 udp"), "malformed"),
        (
            lambda s: _swap(s, "a=mid:0", "a=mid:0\r\na=candidate:1 one udp 1 1.2.3.4 5 typ host"),
            "malformed",
        ),
        (lambda s: _swap(s, "a=mid:0", "a=mid:0\r\na=max-message-size:lots"), "malformed"),
        (lambda s: s.replace("v=0", "v=zero", 1), "not an SDP offer"),
        (lambda s: s.replace("a=fingerprint:sha-256 ", "a=fingerprint:"), "malformed"),
        (lambda s: _swap(s, "m=video 9 UDP", "m=video " + "9" * 5000 + " UDP"), "malformed"),
        # what aiortc would only trip over later, or never should be asked to do
        (lambda s: _swap(s, "a=rtpmap:102 H264/90000", "a=rtpmap:102 H265/90000"), "H.264"),
        (lambda s: _swap(s, "a=rtpmap:102 H264/90000", "a=rtpmap:102 H264/8000"), "H.264"),
        (lambda s: _swap(s, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 G722/8000"), "Opus"),
        (lambda s: _swap(s, "a=recvonly", "a=sendonly"), "does not receive"),
        (lambda s: _swap(s, "a=recvonly", "a=inactive"), "does not receive"),
        (lambda s: s.replace("a=ice-ufrag:Qx1b\r\n", ""), "ICE credentials"),
        (lambda s: s.replace("a=ice-pwd:7Vd0RZ0yS+aX5p6o9tHkQ1Gx\r\n", ""), "ICE credentials"),
        (lambda s: s.replace("a=rtcp-mux\r\n", ""), "RTCP mux"),
        (lambda s: s.replace("a=setup:actpass\r\n", ""), "DTLS"),
        (lambda s: "\r\n".join(ln for ln in s.split("\r\n") if "fingerprint" not in ln), "DTLS"),
        # hostile candidates: addresses the server would be made to send ICE checks to
        (lambda s: _with_candidate(s, "1 1 udp 1 evil.example.com 3478 typ host"), "IP address"),
        (lambda s: _with_candidate(s, "1 1 udp 1 224.0.0.251 5353 typ host"), "unicast"),
        (lambda s: _with_candidate(s, "1 1 udp 1 255.255.255.255 9 typ host"), "unicast"),
        (lambda s: _with_candidate(s, "1 1 udp 1 0.0.0.0 9 typ host"), "unicast"),
        (lambda s: _with_candidate(s, "1 1 udp 1 ff02::1 9 typ host"), "unicast"),
        (lambda s: _with_candidate(s, "1 1 sctp 1 1.2.3.4 9 typ host"), "UDP or TCP"),
        (lambda s: _with_candidate(s, "1 1 udp 1 1.2.3.4 0 typ host"), "port"),
        (lambda s: _with_candidate(s, "1 1 udp 1 1.2.3.4 70000 typ host"), "port"),
        (lambda s: _with_candidate(s, "1 9 udp 1 1.2.3.4 9 typ host"), "component"),
        (
            lambda s: _with_candidate(
                s, *(f"{i} 1 udp 1 10.0.{i // 250}.{i % 250} 9 typ host" for i in range(65))
            ),
            "ICE candidates",
        ),
    ],
)
def test_malformed_and_hostile_offers_are_refused_with_a_reason(make, reason):
    _refused(make(CHROME_OFFER), reason)


def _with_candidate(sdp: str, *candidates: str) -> str:
    lines = "".join(f"a=candidate:{c}\r\n" for c in candidates)
    return sdp.replace("a=ice-ufrag:Qx1b\r\n", lines + "a=ice-ufrag:Qx1b\r\n", 1)


def test_limits_are_what_the_refusals_say():
    assert MAX_CANDIDATES == 64 and MAX_MEDIA_SECTIONS == 8
    # exactly at the limits still passes
    ok = _with_candidate(CHROME_OFFER, *(f"{i} 1 udp 1 10.0.0.{i} 9 typ host" for i in range(62)))
    assert check_offer(ok) == {"audio", "video"}


# --- anything at all: an offer, or BadOffer ---------------------------------------------

LINES = CHROME_OFFER.split("\r\n")
HOSTILE_LINES = [
    "a=rtpmap:abc",
    "a=rtpmap:96 H264",
    "a=fmtp:999 x=1",
    "a=fmtp:96",
    "a=rtcp-fb:",
    "a=ssrc:notint cname:x",
    "a=ssrc-group:FID",
    "a=candidate:",
    "a=candidate:1 1 udp 1 1.2.3.4 99999999999999999999 typ host",
    "a=setup:bogus",
    "a=extmap:x",
    "a=extmap:1/sendrecv/x urn:x",
    "a=rtcp:abc",
    "a=rtcp:9 IN IP9 x",
    "a=group:BUNDLE",
    "a=msid-semantic:",
    "a=sctp-port:x",
    "a=sctpmap:",
    "a=max-message-size:",
    "a=fingerprint:sha-256",
    "m=video 9 UDP/TLS/RTP/SAVPF",
    "m=audio -1 RTP/AVP 0",
    "m=video 9 x 96",
    "m=",
    "c=",
    "c=IN IP4",
    "v=",
    "a=",
    "a=:",
    "=",
    "a=recvonly",
    "a=ice-ufrag:",
    "a=ice-pwd:",
]


def _assert_offer_or_bad(sdp: str) -> None:
    try:
        kinds = check_offer(sdp)
    except BadOffer as exc:
        assert str(exc) and len(str(exc)) < 300
        return
    assert kinds and kinds <= {"audio", "video"}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_any_text_is_an_offer_or_a_bad_offer(text):
    _assert_offer_or_bad(text)
    _assert_offer_or_bad("v=0\r\n" + text)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["drop", "dup", "insert", "cut", "garble"]),
            st.integers(0, len(LINES) - 1),
            st.sampled_from(HOSTILE_LINES) | st.text(max_size=40),
            st.integers(0, 80),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_browser_offers_are_offers_or_bad_offers(edits):
    lines = list(LINES)
    for op, at, text, cut in edits:
        at %= len(lines)
        if op == "drop":
            del lines[at]
        elif op == "dup":
            lines.insert(at, lines[at])
        elif op == "insert":
            lines.insert(at, text)
        elif op == "cut":
            lines[at] = lines[at][:cut]
        else:
            lines[at] = lines[at][:cut] + text + lines[at][cut:]
        if not lines:
            lines = [""]
    _assert_offer_or_bad("\r\n".join(lines))


# --- over HTTP: what passes the check and still cannot be negotiated is a 400 too ----------


@pytest.fixture
async def http(live_server):
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        yield client


async def test_hostile_offers_over_whep_get_400_with_a_reason_and_the_room_plays_on(http):
    refused = [
        (CHROME_OFFER.replace("a=setup:actpass", "a=setup:nonsense"), "malformed"),
        (_with_candidate(CHROME_OFFER, "1 1 udp 1 evil.example.com 3478 typ host"), "IP address"),
        (CHROME_OFFER.replace("a=rtcp-mux\r\n", ""), "RTCP mux"),
        ("v=0\r\n" + "a=x\r\n" * (MAX_SDP_LINES + 1), "lines"),
    ]
    for body, reason in refused:
        res = await http.post(
            "/api/rooms/demo/whep", content=body, headers={"Content-Type": "application/sdp"}
        )
        assert res.status_code == 400, (res.status_code, res.text)
        assert reason in res.json()["detail"]
    # a real offer is still answered, and the session is cleaned up
    res = await http.post(
        "/api/rooms/demo/whep",
        content=await _aiortc_offer(),
        headers={"Content-Type": "application/sdp"},
    )
    assert res.status_code == 201, res.text
    assert "a=rtpmap:" in res.text and "H264/90000" in res.text
    assert (await http.delete(res.headers["location"])).status_code == 200
