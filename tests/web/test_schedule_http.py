"""排班 over HTTP: merchants add, change and delete daily slots; everyone else is refused
(closed by default); bad and hostile input gets a 4xx with its reason; the page lists the
slots as text. And with a real server process: a slot that began while the server was down
is live again within 30 s of a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from commerce import open_store
from streamer.scheduler import zone
from testkit.livesrv import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("schedule")
    with LiveServer(root / "y.db", stamp=False, demo_room=False) as s:
        yield s


def client(server, role: str | None = "operator", shop: str | None = None) -> httpx.Client:
    headers = server.headers(role, shop) if role else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def body(room="r-api", persona="xiaowang", start="06:00", end="12:00", **kw) -> dict:
    return {"room_id": room, "persona": persona, "start": start, "end": end, **kw}


def test_a_merchant_plans_a_day_and_sees_it(server):
    with client(server) as http:
        res = http.post(
            "/api/shop/schedule",
            json=body(
                title="阜平大枣早市",
                lineup=["fp-jujube-500g", "fp-millet-2500g"],
                outputs=[
                    {"name": "抖音", "url": "rtmp://127.0.0.1:9/live", "stream_key": "s" * 20}
                ],
            ),
        )
        assert res.status_code == 201, res.text
        wang = res.json()
        assert wang["outputs"][0]["stream_key"] == "****ssss"  # never shown again in clear
        assert wang["status"]["state"] in ("waiting", "live")
        res = http.post(
            "/api/shop/schedule",
            json=body(persona="xiaoli", start="19:00", end="23:00", lineup=["fp-apple-5kg"]),
        )
        assert res.status_code == 201, res.text
        li = res.json()

        listing = http.get("/api/shop/schedule").json()
        assert listing["tz"] == "Asia/Shanghai"
        assert [(s["start"], s["end"]) for s in listing["slots"]] == [
            ("06:00", "12:00"),
            ("19:00", "23:00"),
        ]
        assert {p["id"] for p in listing["personas"]} == {"xiaowang", "xiaoli", "xiaozhang"}

        # an overlap is refused, naming the slot it overlaps
        res = http.post("/api/shop/schedule", json=body(start="11:00", end="13:00"))
        assert res.status_code == 422
        assert "重叠" in res.json()["detail"] and "06:00–12:00" in res.json()["detail"]
        res = http.patch(f"/api/shop/schedule/{li['id']}", json={"start": "10:00"})
        assert res.status_code == 422 and "重叠" in res.json()["detail"]

        # a change keeps the stored stream key when the output comes back masked
        res = http.patch(
            f"/api/shop/schedule/{wang['id']}",
            json={
                "end": "12:30",
                "outputs": [
                    {"name": "抖音", "url": "rtmp://127.0.0.1:9/live", "stream_key": "****ssss"}
                ],
            },
        )
        assert res.status_code == 200, res.text
        assert res.json()["end"] == "12:30"
        slot = server.call(server.store.schedule.get("default", wang["id"]))
        assert server.store.schedule.stream_key(slot.outputs[0]) == "s" * 20

        page = http.get("/workbench/schedule")
        assert page.status_code == 200
        assert "直播间 r-api" in page.text and "小王" in page.text and "小李" in page.text
        assert "06:00–12:30" in page.text and "阜平大枣早市" in page.text
        assert "s" * 20 not in page.text

        assert http.delete(f"/api/shop/schedule/{li['id']}").json() == {
            "id": li["id"],
            "deleted": True,
        }
        assert http.get(f"/api/shop/schedule/{li['id']}").status_code == 404
    # every change is in the audit log, keys masked
    for action in ("shop.schedule.create", "shop.schedule.update", "shop.schedule.delete"):
        entries = server.call(server.store.audit.list(action=action))
        assert entries and entries[0].actor == "operator-main"
        assert "s" * 20 not in str(entries[0].before) + str(entries[0].after)


def test_only_merchants_of_the_shop_reach_the_schedule(server):
    with client(server) as http:
        mine = http.post("/api/shop/schedule", json=body(room="r-perm", start="01:00", end="02:00"))
        assert mine.status_code == 201
        sid = mine.json()["id"]
    with client(server, None) as http:
        assert http.get("/api/shop/schedule").status_code == 401
        assert http.post("/api/shop/schedule", json=body()).status_code == 401
        assert http.delete(f"/api/shop/schedule/{sid}").status_code == 401
        res = http.get("/workbench/schedule", headers={"Accept": "text/html"})
        assert res.status_code == 303 and res.headers["location"].startswith("/login")
    for role in ("cs", "ops"):
        with client(server, role) as http:
            assert http.get("/api/shop/schedule").status_code == 403
            assert http.post("/api/shop/schedule", json=body(room="x-" + role)).status_code == 403
            assert http.patch(f"/api/shop/schedule/{sid}", json={"end": "03:00"}).status_code == 403
            assert http.get("/workbench/schedule").status_code == 403
    with client(server, "operator", "farm2") as http:  # another shop's operator
        assert http.get(f"/api/shop/schedule/{sid}").status_code == 403
        assert http.delete(f"/api/shop/schedule/{sid}").status_code == 403
    with client(server, "admin") as http:
        assert http.get(f"/api/shop/schedule/{sid}").status_code == 200
        assert http.delete(f"/api/shop/schedule/{sid}").status_code == 200


def test_bad_and_hostile_input_is_refused_with_a_reason(server):
    with client(server) as http:
        cases = [
            (body(persona="nobody"), "没有这位主播"),
            (body(start="6点"), "开始时间"),
            (body(start="25:00"), "开始时间"),
            (body(end="12:60"), "结束时间"),
            (body(start="06:00", end="06:00"), "不能相同"),
            (body(room="<script>"), "room_id"),
            (body(room="a" * 65), "room_id"),
            (body(lineup=["no-such-sku"]), "商品不存在"),
            (body(lineup=["fp-apple-5kg", "fp-apple-5kg"]), "重复"),
            (body(lineup=["x"] * 51), "lineup"),
            (body(title="t" * 61), "title"),
            (body(title="阜平\u202e大枣"), "不可见字符"),
            (body(outputs=[{"url": "http://evil.example/", "stream_key": "k" * 20}]), "推流"),
            (body(outputs=[{"url": "rtmp://a.example/live"}]), "推流密钥"),
            (body(outputs=[{"url": "rtmp://a.example/live", "stream_key": "k"}] * 5), "outputs"),
            (body(enabled="yes"), "enabled"),
            (body(extra=1), "extra"),
            ({"room_id": "r"}, "persona"),
            ([1, 2], "body"),
        ]
        for payload, word in cases:
            res = http.post("/api/shop/schedule", json=payload)
            assert res.status_code == 422, (payload, res.text)
            assert word in res.json()["detail"], (word, res.json()["detail"])
        assert http.post("/api/shop/schedule", content=b"{not json").status_code == 422
        res = http.post("/api/shop/schedule", content=b"[" * 100_000)
        assert res.status_code in (400, 413, 422)
        big = b'{"room_id": "' + b"a" * 2_000_000 + b'"}'
        assert http.post("/api/shop/schedule", content=big).status_code == 413
        for sid in ("abc", "-1", "9" * 30, "1%00"):
            assert http.get(f"/api/shop/schedule/{sid}").status_code == 404
            assert http.patch(f"/api/shop/schedule/{sid}", json={"end": "03:00"}).status_code == 404
        # a refused slot registers no room id
        assert server.call(server.store.rooms.shop_of("never-made")) is None
        http.post("/api/shop/schedule", json=body(room="never-made", persona="nobody"))
        assert server.call(server.store.rooms.shop_of("never-made")) is None
        # script in a title is stored as text and shown as text
        res = http.post(
            "/api/shop/schedule",
            json=body(
                room="r-xss", title="<img src=x onerror=alert(1)>", start="03:00", end="04:00"
            ),
        )
        assert res.status_code == 201
        page = http.get("/workbench/schedule").text
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_slot_that_is_on_now_starts_its_room_at_once(server):
    now = datetime.now(zone("Asia/Shanghai"))
    start = (now - timedelta(minutes=5)).strftime("%H:%M")
    end = (now + timedelta(minutes=30)).strftime("%H:%M")
    with client(server) as http:
        res = http.post("/api/shop/schedule", json=body(room="r-now", start=start, end=end))
        assert res.status_code == 201, res.text
        sid = res.json()["id"]
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline and state != "live":
            state = http.get(f"/api/shop/schedule/{sid}").json()["status"]["state"]
            time.sleep(0.1)
        assert state == "live"
        assert server.engine.configs()["r-now"].persona == "xiaowang"
        # disabling the slot stops the room the schedule started
        assert http.patch(f"/api/shop/schedule/{sid}", json={"enabled": False}).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "r-now" in server.engine.configs():
            time.sleep(0.1)
        assert "r-now" not in server.engine.configs()


# -- a real server process, restarted mid-slot ---------------------------------------------------
def serve(db_url: str, port: int, workdir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "YUNLIAN_SECRET_KEY": "schedule-restart-test",
        "YUNLIAN_DEMO_ROOM": "0",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web.cli",
            "serve",
            "--port",
            str(port),
            "--db",
            db_url,
            "--no-demo",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "serve.log").open("a"),  # read back when a bound is missed
        start_new_session=True,
    )


def live_rooms(port: int) -> set[str]:
    try:
        res = httpx.get(f"http://127.0.0.1:{port}/api/rooms", timeout=2)
        return {r["room_id"] for r in res.json()} if res.status_code == 200 else set()
    except httpx.HTTPError:
        return set()


def wait_live(proc: subprocess.Popen, port: int, room: str, bound: float) -> float:
    """Seconds from now until `room` is live (fails past `bound`)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < bound:
        assert proc.poll() is None, "the server exited"
        if room in live_rooms(port):
            return time.monotonic() - t0
        time.sleep(0.2)
    raise AssertionError(f"room {room} not live within {bound} s")


def stop(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(20)


async def test_a_restart_mid_slot_is_caught_up_within_30_s(tmp_path):
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    store = await open_store(db_url, secret_key="schedule-restart-test", background=False)
    now = datetime.now(zone("Asia/Shanghai"))
    try:  # the slot began 10 minutes ago, while no server was running
        await store.rooms.claim("r-restart", "default", by="op", live=False)
        await store.schedule.add(
            "default",
            {
                "room_id": "r-restart",
                "persona": "xiaoli",
                "start": (now - timedelta(minutes=10)).strftime("%H:%M"),
                "end": (now + timedelta(minutes=50)).strftime("%H:%M"),
                "lineup": ["fp-apple-5kg"],
            },
            "op",
        )
    finally:
        await store.close()
    port = free_port()
    proc = serve(db_url, port, tmp_path)
    try:
        # the first start includes the interpreter's start-up and the shop's migrations
        first = wait_live(proc, port, "r-restart", 90)
        stop(proc)  # kill -9 mid-slot: nothing is shut down cleanly
        assert live_rooms(port) == set()
        proc = serve(db_url, port, tmp_path)
        t0 = time.monotonic()
        wait_live(proc, port, "r-restart", 60)
        again = time.monotonic() - t0
        print(
            f"\nscheduled room live {first:.1f} s after a cold start, {again:.1f} s after a restart"
        )
        assert again <= 30, f"caught up after {again:.1f} s"
    finally:
        stop(proc, signal.SIGTERM)


def test_an_unknown_time_zone_is_refused_at_start_with_a_reason(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YUNLIAN_SCHEDULE_TZ": "Mars/Olympus"}
    res = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(free_port()), "--no-demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "schedule_tz 'Mars/Olympus' is not a time zone" in res.stderr
    assert "Traceback" not in res.stderr
