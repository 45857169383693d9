"""清晰度 per schedule slot over HTTP: 480p is accepted and kept, anything else is a 422
naming the choices (and no slot), the page offers 720p 高清 / 480p 省流, and a 480p slot that is
on now starts its room at 854×480 (the room's own API says so)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx
import pytest

from streamer.scheduler import zone
from testkit.livesrv import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("schedule-res")
    with LiveServer(root / "y.db", stamp=False, demo_room=False) as s:
        yield s


def client(server, role: str = "operator") -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.headers(role), timeout=60)


def body(room, start="01:00", end="02:00", **kw) -> dict:
    return {"room_id": room, "persona": "xiaowang", "start": start, "end": end, **kw}


def test_480p_is_kept_and_other_values_are_refused_with_a_reason(server):
    with client(server) as http:
        res = http.post("/api/shop/schedule", json=body("res-a", resolution="480p"))
        assert res.status_code == 201, res.text
        sid = res.json()["id"]
        assert res.json()["resolution"] == "480p"
        assert http.get(f"/api/shop/schedule/{sid}").json()["resolution"] == "480p"
        res = http.post("/api/shop/schedule", json=body("res-a", start="03:00", end="04:00"))
        assert res.status_code == 201 and res.json()["resolution"] == "720p"
        for bad in ("1080p", "480", "", 480, None, ["480p"], "480p" * 1000):
            res = http.post(
                "/api/shop/schedule",
                json=body("res-b", start="05:00", end="06:00") | {"resolution": bad},
            )
            assert res.status_code in (413, 422), (bad, res.text)
            if res.status_code == 422:
                detail = res.json()["detail"]
                assert "resolution" in detail and "720p" in detail and "480p" in detail
        assert [s["room_id"] for s in http.get("/api/shop/schedule").json()["slots"]] == [
            "res-a",
            "res-a",
        ]
        res = http.patch(f"/api/shop/schedule/{sid}", json={"resolution": "1080p"})
        assert res.status_code == 422 and "480p" in res.json()["detail"]
        res = http.patch(f"/api/shop/schedule/{sid}", json={"resolution": "720p"})
        assert res.status_code == 200 and res.json()["resolution"] == "720p"
        page = http.get("/workbench/schedule").text
        assert 'id="s-resolution"' in page and "720p 高清" in page and "480p 省流" in page


def test_a_480p_slot_on_now_starts_its_room_at_854_by_480(server):
    now = datetime.now(zone("Asia/Shanghai"))
    start = (now - timedelta(minutes=5)).strftime("%H:%M")
    end = (now + timedelta(minutes=30)).strftime("%H:%M")
    with client(server) as http:
        res = http.post(
            "/api/shop/schedule", json=body("res-now", start=start, end=end, resolution="480p")
        )
        assert res.status_code == 201, res.text
        sid = res.json()["id"]
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline and state != "live":
            state = http.get(f"/api/shop/schedule/{sid}").json()["status"]["state"]
            time.sleep(0.1)
        assert state == "live"
        info = http.get("/api/rooms/res-now").json()
        assert (info["orientation"], info["width"], info["height"]) == ("landscape", 854, 480)
        page = http.get("/workbench/schedule").text
        assert 'class="sc-res">480p 省流' in page.split('data-room="res-now"', 1)[1]
        assert http.delete(f"/api/shop/schedule/{sid}").status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "res-now" in server.engine.configs():
            time.sleep(0.1)
        assert "res-now" not in server.engine.configs()
