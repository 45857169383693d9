"""A portrait (竖屏) room: started over REST, announced as 720×1280, played through WHEP."""

import asyncio
import json

import httpx
import numpy as np
import pytest
import websockets

from testkit.whep import WhepViewer

ROOM = "li-portrait"


@pytest.fixture(scope="module")
def portrait_room(live_server):
    staff = live_server.headers("admin")  # starting and stopping rooms is staff work
    with httpx.Client(base_url=live_server.url, timeout=20, headers=staff) as http:
        res = http.post(
            "/api/rooms",
            json={"room_id": ROOM, "persona": "xiaoli", "orientation": "portrait"},
        )
        assert res.status_code == 201, res.text
        yield res.json()
        http.post(f"/api/rooms/{ROOM}/stop")


async def hello(url: str, room: str) -> dict:
    ws_url = url.replace("http://", "ws://") + f"/api/rooms/{room}/events"
    async with websockets.connect(ws_url) as ws:
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event["type"] == "hello":
                return event


async def test_portrait_room_is_announced_as_720_by_1280(live_server, portrait_room):
    staff = live_server.headers("admin")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20, headers=staff) as http:
        info = (await http.get(f"/api/rooms/{ROOM}")).json()
    assert (info["orientation"], info["width"], info["height"]) == ("portrait", 720, 1280)
    event = await hello(live_server.url, ROOM)
    assert (event["orientation"], event["width"], event["height"]) == ("portrait", 720, 1280)
    # the demo room next to it stays landscape
    demo = await hello(live_server.url, "demo")
    assert (demo["orientation"], demo["width"], demo["height"]) == ("landscape", 1280, 720)


async def test_portrait_room_plays_720_by_1280_through_whep(live_server, portrait_room):
    v = WhepViewer(live_server.url, room_id=ROOM, keep_images=True, keep_pcm=True)
    await v.connect()
    try:
        await v.wait_frames(video=50, audio=100)  # about 2 s of each
    finally:
        await v.close()
    video, audio = v.tracks["video"], v.tracks["audio"]
    assert (video.width, video.height) == (720, 1280)
    assert all(img.shape == (1280, 720, 3) for img in video.images[-10:])
    pts = [p for _, p in video.frames]
    assert pts == sorted(pts) and (pts[-1] - pts[0]) / 90_000 >= 1.5
    # laid out for the tall frame: no letterbox bars, the picture fills top and bottom
    img = video.images[-1].astype(np.float64)
    for band in (img[:128], img[-128:]):
        assert band.std() > 8, "a flat band: the frame is letterboxed, not laid out"
    # and it is alive: consecutive seconds differ
    first, last = video.images[-50].astype(np.int16), video.images[-1].astype(np.int16)
    assert np.abs(first - last).mean() > 0.5
    samples = np.concatenate(audio.pcm)
    assert np.sqrt((samples.astype(np.float64) ** 2).mean()) > 200, "the host is silent"


async def test_portrait_orientation_must_be_one_of_the_two(live_server):
    staff = live_server.headers("admin")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20, headers=staff) as http:
        res = await http.post("/api/rooms", json={"room_id": "sideways", "orientation": "square"})
        assert res.status_code == 422
        assert res.json()["detail"]
        assert (await http.get("/api/rooms/sideways")).status_code == 404
