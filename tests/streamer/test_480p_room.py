"""A 480p (省流) room: chosen with `resolution` over REST, announced and played at 854×480
(480×854 portrait); an unknown resolution is a 422 naming the choices, and no room."""

import httpx
import numpy as np
import pytest

from testkit.whep import WhepViewer

ROOM = "wang-480p"


@pytest.fixture(scope="module")
def room_480p(live_server):
    staff = live_server.headers("admin")
    with httpx.Client(base_url=live_server.url, timeout=20, headers=staff) as http:
        res = http.post(
            "/api/rooms", json={"room_id": ROOM, "persona": "xiaowang", "resolution": "480p"}
        )
        assert res.status_code == 201, res.text
        yield res.json()
        http.post(f"/api/rooms/{ROOM}/stop")


async def test_480p_room_is_announced_and_plays_at_854_by_480(live_server, room_480p):
    assert (room_480p["orientation"], room_480p["width"], room_480p["height"]) == (
        "landscape",
        854,
        480,
    )
    v = WhepViewer(live_server.url, room_id=ROOM, keep_images=True)
    await v.connect()
    try:
        await v.wait_frames(video=50, audio=50)
    finally:
        await v.close()
    video = v.tracks["video"]
    assert (video.width, video.height) == (854, 480)
    assert all(img.shape == (480, 854, 3) for img in video.images[-10:])
    first, last = video.images[-50].astype(np.int16), video.images[-1].astype(np.int16)
    assert np.abs(first - last).mean() > 0.3  # alive


async def test_480p_portrait_room_is_480_by_854(live_server):
    staff = live_server.headers("admin")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20, headers=staff) as http:
        body = {"room_id": "li-480p", "persona": "xiaoli", "orientation": "portrait"}
        res = await http.post("/api/rooms", json=body | {"resolution": "480p"})
        try:
            assert res.status_code == 201, res.text
            info = (await http.get("/api/rooms/li-480p")).json()
            assert (info["orientation"], info["width"], info["height"]) == ("portrait", 480, 854)
        finally:
            await http.post("/api/rooms/li-480p/stop")


@pytest.mark.parametrize("resolution", ["1080p", "480", "", 480, None, "480p" * 1000])
async def test_an_unknown_resolution_is_a_422_naming_the_choices(live_server, resolution):
    staff = live_server.headers("admin")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20, headers=staff) as http:
        res = await http.post("/api/rooms", json={"room_id": "odd-res", "resolution": resolution})
        assert res.status_code == 422
        assert "720p" in res.text and "480p" in res.text
        assert (await http.get("/api/rooms/odd-res")).status_code == 404
