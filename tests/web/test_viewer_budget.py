"""Issue 16, failure 7: a viewer's privacy and budget, replayed against a live server.

Replies name only their asker; moderation keys on a server-issued identity; event sockets
are capped per room and per address, paced per socket, and refuse a 10 MB frame from its
header; an offer that never connects frees its viewer slot after 10 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import time

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection

from streamer.frame_rate import FrameWindow
from testkit.livesrv import LiveServer
from tests.web.test_danmaku_api import next_event, ws_url


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(
        tmp_path_factory.mktemp("budget") / "yunlian.db",
        stamp=False,
        ws_per_address=3,
        ws_per_room=4,
        max_viewers_per_room=1,
    ) as srv:
        yield srv


async def test_merged_askers_each_get_a_reply_naming_only_themselves(server):
    url = ws_url(server)
    async with websockets.connect(url) as a, websockets.connect(url) as b:
        ids = [(await next_event(ws, "hello"))["viewer_id"] for ws in (a, b)]
        question = json.dumps(
            {"type": "danmaku", "nickname": "问问", "text": "小米是今年的新米吗？"}
        )
        await a.send(question)
        await b.send(question)
        acks = [await next_event(ws, "danmaku_ack") for ws in (a, b)]
        assert {ack["action"] for ack in acks} <= {"answer", "merged"}
        for ws, me, ack, other in ((a, ids[0], acks[0], ids[1]), (b, ids[1], acks[1], ids[0])):
            reply = await next_event(ws, "reply", timeout=15)
            assert reply["to"] == [me], reply
            assert reply["question_ids"] == [ack["id"]], reply
            assert other not in json.dumps(reply)  # no other asker's id anywhere in it


async def test_posts_under_another_viewers_user_id_do_not_mute_that_viewer(server):
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=20) as victim,
        httpx.AsyncClient(base_url=server.url, timeout=20) as attacker,
    ):
        await victim.get("/rooms/demo")
        victim_id = victim.cookies["yl_viewer"].split(".")[0]
        assert victim_id.startswith("v-")
        for i in range(4):
            attacker.cookies.clear()
            await attacker.post(
                "/api/rooms/demo/danmaku",
                json={"user_id": victim_id, "nickname": "冒充", "text": f"刷屏{i}"},
            )
        res = await victim.post(
            "/api/rooms/demo/danmaku", json={"user_id": victim_id, "text": "枣子甜不甜"}
        )
        assert res.status_code == 202, res.text
        assert res.json()["reason"] == "ok"


async def test_a_forged_viewer_cookie_is_not_an_identity(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as forger:
        forger.cookies.set("yl_viewer", "v-000000000000.0123456789abcdef01234567")
        res = await forger.post("/api/rooms/demo/danmaku", json={"user_id": "x", "text": "你好呀"})
        assert res.status_code in (202, 429)
        fresh = res.cookies.get("yl_viewer")
        assert fresh is None or not fresh.startswith("v-000000000000.")


async def test_http_chat_over_budget_gets_429_with_a_reason(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as spammer:
        await spammer.get("/rooms/demo")
        statuses = []
        for i in range(12):
            res = await spammer.post(
                "/api/rooms/demo/danmaku", json={"user_id": "s", "text": f"来了老弟{i}"}
            )
            statuses.append(res.status_code)
            if res.status_code == 429:
                assert "太快" in res.json()["detail"] and res.headers["retry-after"]
        assert 202 in statuses and 429 in statuses, statuses


async def _refusal(ws) -> tuple[int, str]:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(5):
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_event_sockets_are_capped_per_address_and_per_room(server):
    url = ws_url(server)
    held = []
    try:
        for _ in range(3):  # the address's three
            held.append(await websockets.connect(url))
            await next_event(held[-1], "hello")
        async with websockets.connect(url) as fourth:
            code, reason = await _refusal(fourth)
        assert code == 4429 and "连接太多" in reason
        held.append(await websockets.connect(url, local_addr=("127.0.0.2", 0)))
        await next_event(held[-1], "hello")  # another address: the room's fourth
        async with websockets.connect(url, local_addr=("127.0.0.3", 0)) as fifth:
            code, reason = await _refusal(fifth)
        assert code == 4503 and "已满" in reason
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers("ops")) as ops:
            metrics = (await ops.get("/api/metrics")).json()
        assert metrics["event_sockets"]["refused"]["address_full"] >= 1
    finally:
        for ws in held:
            await ws.close()
    await asyncio.sleep(0.3)
    async with websockets.connect(url) as again:  # closing gave the slots back
        await next_event(again, "hello")


async def test_a_fast_socket_is_paced_and_the_server_stays_responsive(server):
    async with websockets.connect(ws_url(server)) as ws:
        await next_event(ws, "hello")
        for i in range(300):
            await ws.send(json.dumps({"type": "danmaku", "nickname": "快", "text": f"{i}号"}))
        answered = 0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                ev = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            except TimeoutError:
                break
            answered += ev.get("type") in ("danmaku_ack", "danmaku_rejected")
        # burst 20 plus 5 a second: nowhere near the 300 sent
        assert 10 <= answered <= 40, answered
        t0 = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as http:
            res = await http.get(server.url + "/api/rooms")
        assert res.status_code == 200 and time.monotonic() - t0 < 2.0


def _handshake(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    s.sendall(
        (
            f"GET /api/rooms/demo/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    return s


def test_a_10_mb_message_is_refused_from_its_header_without_reading_it(server):
    s = _handshake(server.port)
    try:
        # a masked text frame announcing 10 MB; only its first kilobyte is ever sent
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 10 * 1024 * 1024)
        s.sendall(header + os.urandom(4) + b"x" * 1024)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            i = data.find(b"\x88")  # a close frame: 0x88, length, 2-byte code
            if i >= 0 and len(data) >= i + 4:
                code = struct.unpack("!H", data[i + 2 : i + 4])[0]
                assert code == 1009  # message too big
                return
        raise AssertionError(f"no close 1009 while the 10 MB payload was still unsent: {data!r}")
    finally:
        s.close()


async def test_an_offer_that_never_connects_frees_its_viewer_slot_after_10_s(server):
    async def offer() -> httpx.Response:
        pc = RTCPeerConnection()
        try:
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
                return await http.post(
                    "/api/rooms/demo/whep",
                    content=pc.localDescription.sdp,
                    headers={"Content-Type": "application/sdp"},
                )
        finally:
            await pc.close()  # the answer is never applied: this viewer never connects

    first = await offer()
    assert first.status_code == 201, first.text
    assert (await offer()).status_code == 503  # the room's one slot is held
    t0 = time.monotonic()
    while time.monotonic() - t0 < 14:
        await asyncio.sleep(0.5)
        res = await offer()
        if res.status_code == 201:
            break
    assert res.status_code == 201, "the slot was not freed"
    assert 8.0 <= time.monotonic() - t0 <= 12.5
    session = res.headers["location"].rsplit("/", 1)[-1]
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        await http.delete(f"/api/rooms/demo/whep/{session}")


def test_fps_reports_the_last_ten_seconds_and_skips_per_minute():
    now = [1000.0]
    window = FrameWindow(clock=lambda: now[0])
    for second in range(70):  # 25 fps for a minute, then 10 s at 12 fps with skips
        rate, skips = (25, 0) if second < 60 else (12, 13)
        for i in range(rate):
            now[0] = 1000.0 + second + i / rate
            window.frame(5000)  # 25 × 5 kB a second: 1000 kb/s; 12 × 5 kB: 480 kb/s
        for _ in range(skips):
            window.skipped()
    now[0] = 1070.5
    assert window.fps(10) == pytest.approx(12.0)
    assert window.kbps(10) == pytest.approx(480.0)  # the bitrate now, not since start
    assert window.skipped_last(60) == 130
    now[0] = 1200.0  # nothing drawn for two minutes: the room is stalled, and says so
    assert window.fps(10) == 0.0 and window.skipped_last(60) == 0 and window.kbps(10) == 0.0
