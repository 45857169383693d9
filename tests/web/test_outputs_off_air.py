"""Saved RTMP outputs of a room that is off air: listed (keys masked, state "off air",
未开播) and removable by the room's own shop staff; another shop's operator is refused (403) and
learns nothing, an id no shop registered is a 404 (the check fails closed)."""

from __future__ import annotations

import time

import httpx
import pytest

from testkit.livesrv import LiveServer, free_port

KEY = "live_889900_Fuping-dates-sign-0a1b2c3d"
ROOM = "off-air-room"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs-off-air")
    with LiveServer(root / "y.db", stamp=False, demo_room=False) as s:
        yield s


def client(server, role: str | None = "operator", shop: str | None = None) -> httpx.Client:
    headers = server.headers(role, shop) if role else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def target(name: str) -> dict:
    # nothing listens there: the push only retries while the room is live
    return {"url": f"rtmp://127.0.0.1:{free_port()}/live", "stream_key": KEY, "name": name}


def stop(http: httpx.Client, room: str) -> None:
    assert http.post(f"/api/rooms/{room}/stop").status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and room in {
        r["room_id"] for r in http.get("/api/rooms").json()
    }:
        time.sleep(0.1)


def test_saved_outputs_are_listed_and_removed_while_the_room_is_off_air(server):
    with client(server) as http:
        res = http.post("/api/rooms", json={"room_id": ROOM, "persona": "xiaowang"})
        assert res.status_code == 201, res.text
        a = http.post(f"/api/rooms/{ROOM}/outputs", json=target("抖音"))
        b = http.post(f"/api/rooms/{ROOM}/outputs", json=target("快手"))
        assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
        live = http.get(f"/api/rooms/{ROOM}/outputs").json()
        assert {o["id"] for o in live} >= {a.json()["id"], b.json()["id"]}
        stop(http, ROOM)

        res = http.get(f"/api/rooms/{ROOM}/outputs")
        assert res.status_code == 200, res.text
        listed = res.json()
        assert [(o["id"], o["name"], o["state"], o["state_label"]) for o in listed] == [
            (a.json()["id"], "抖音", "off air", "未开播"),
            (b.json()["id"], "快手", "off air", "未开播"),
        ]
        assert all(o["stream_key"] == "****" + KEY[-4:] for o in listed)
        assert KEY not in res.text and KEY[:12] not in res.text
        assert all(o["internal"] is False and o["kbps"] == 0 for o in listed)

        # removed while off air: gone from the list and from the shop database
        res = http.delete(f"/api/rooms/{ROOM}/outputs/{a.json()['id']}")
        assert res.status_code == 200 and res.json()["removed"] is True
        assert [o["id"] for o in http.get(f"/api/rooms/{ROOM}/outputs").json()] == [b.json()["id"]]
        assert [o.id for o in server.call(server.store.room_outputs.list(ROOM))] == [b.json()["id"]]
        # an id neither saved nor pushing is a 404, and a hostile one a 4xx, never a crash
        assert http.delete(f"/api/rooms/{ROOM}/outputs/no-such-output").status_code == 404
        assert http.delete(f"/api/rooms/{ROOM}/outputs/{'x' * 5000}").status_code in (404, 414)
        assert http.get(f"/api/rooms/{'r' * 5000}/outputs").status_code in (404, 414, 422)

    # admins see it too
    with client(server, "admin") as http:
        assert [o["id"] for o in http.get(f"/api/rooms/{ROOM}/outputs").json()] == [b.json()["id"]]


def test_walls_between_shops_hold_while_off_air(server):
    # a room of another shop with a saved output
    server.call(server.store.rooms.claim("farm2-room", "farm2", by="op2", live=False))
    server.call(
        server.store.room_outputs.save(
            "farm2-room", "f2out", "rtmp://127.0.0.1:9/live", KEY, "抖音", "op2"
        )
    )
    # and one of ours, off air
    server.call(server.store.rooms.claim("ours-off", "default", by="op", live=False))
    server.call(
        server.store.room_outputs.save(
            "ours-off", "ourout", "rtmp://127.0.0.1:9/live", KEY, "快手", "op"
        )
    )
    with client(server, "operator", "farm2") as http:  # another shop's operator
        for room, oid in (("ours-off", "ourout"), ("farm2-room", "f2out")):
            res = http.get(f"/api/rooms/{room}/outputs")
            assert res.status_code == 403, res.text
            assert "rtmp://" not in res.text and KEY[-4:] not in res.text
            assert http.delete(f"/api/rooms/{room}/outputs/{oid}").status_code == 403
    with client(server) as http:  # our operator: not the other shop's room
        res = http.get("/api/rooms/farm2-room/outputs")
        assert res.status_code == 403 and "rtmp://" not in res.text
        assert http.delete("/api/rooms/farm2-room/outputs/f2out").status_code == 403
        # a room no shop registered: 404, fail closed
        assert http.get("/api/rooms/nobody-s-room/outputs").status_code == 404
        assert http.delete("/api/rooms/nobody-s-room/outputs/f2out").status_code == 404
        # ours is listed
        [ours] = http.get("/api/rooms/ours-off/outputs").json()
        assert (ours["id"], ours["state"], ours["stream_key"]) == (
            "ourout",
            "off air",
            "****" + KEY[-4:],
        )
    for role in ("cs", "ops"):
        with client(server, role) as http:
            assert http.get("/api/rooms/ours-off/outputs").status_code == 403
            assert http.delete("/api/rooms/ours-off/outputs/ourout").status_code == 403
    with client(server, None) as http:
        assert http.get("/api/rooms/ours-off/outputs").status_code == 401
    # nothing was removed by the refused calls
    assert [o.id for o in server.call(server.store.room_outputs.list("farm2-room"))] == ["f2out"]
    assert [o.id for o in server.call(server.store.room_outputs.list("ours-off"))] == ["ourout"]
