"""RTMP outputs added through the API outlive the server: a real `yunlian serve` process
pushes its room to a real nginx-rtmp, is killed with SIGKILL, starts again, and the push
resumes by itself (read back with PyAV). The stream key is stored sealed, never in clear;
removing the output forgets it. Every wait is bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from commerce import open_store
from testkit.livesrv import LiveServer, free_port
from testkit.nginx_rtmp import NginxRtmp
from tests.streamer.test_outputs import _read_rtmp

ROOT = Path(__file__).resolve().parents[2]
SECRET = "outputs-restart-test-secret-key-0123456789"
KEY = "sk-Platform-stream-key-0123456789"


@pytest.fixture
def nginx(tmp_path):
    with NginxRtmp(tmp_path / "nginx") as ng:
        yield ng


def serve(db_url: str, port: int, workdir: Path, log: Path, workers: int = 0) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNLIAN_")}
    env |= {"PYTHONPATH": str(ROOT), "YUNLIAN_SECRET_KEY": SECRET}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--db", db_url),
                *("--workers", str(workers)),
            ],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its RTMP connection processes die with it
        )


def kill9(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(20)


def wait_for(check, timeout: float, what: str, every: float = 0.3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")


def saved_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, room_id, name, url, key FROM room_outputs").fetchall()


async def _token(db_url: str) -> str:
    store = await open_store(db_url, secret_key=SECRET, background=False)
    try:
        await store.accounts.create_user("ops-admin", "运维测试密码-0123456789", "admin")
        user = await store.accounts.get_user("ops-admin")
        return await store.accounts.create_token(user, "admin", "restart-test")
    finally:
        await store.close()


@pytest.mark.parametrize("workers", [0, 1])
def test_an_added_output_pushes_again_after_kill_9_and_a_restart(tmp_path, nginx, workers):
    db = tmp_path / "shop.db"
    db_url = f"sqlite+aiosqlite:///{db}"
    token = asyncio.run(_token(db_url))
    port, log = free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=url, timeout=20, headers={"Authorization": f"Bearer {token}"})
    proc = serve(db_url, port, tmp_path, log, workers)
    try:

        def live_output(oid: str | None = None):
            res = http.get("/api/rooms/demo/outputs")
            if res.status_code != 200:
                return None
            return next(
                (o for o in res.json() if (oid is None or o["id"] == oid) and o["state"] == "live"),
                None,
            )

        # the first start includes migrations and the demo's history
        wait_for(lambda: http.get("/healthz").status_code == 200, 120, "server up")
        # hostile input is refused with its reason and saves nothing
        for body in (
            {"url": "http://evil.example/app", "stream_key": KEY},
            {"url": nginx.rtmp_url, "stream_key": "a\nb"},
            {"url": nginx.rtmp_url, "stream_key": KEY, "extra": 1},
            {"url": nginx.rtmp_url, "stream_key": "k" * 5000},
        ):
            res = http.post("/api/rooms/demo/outputs", json=body)
            assert res.status_code == 422, (body, res.text)
            assert res.json()["detail"]
        assert saved_rows(db) == []
        res = http.post(
            "/api/rooms/demo/outputs",
            json={"url": nginx.rtmp_url, "stream_key": KEY, "name": "抖音"},
        )
        assert res.status_code == 201, res.text
        oid = res.json()["id"]
        assert KEY not in res.text
        [row] = saved_rows(db)
        assert row[:4] == (oid, "demo", "抖音", nginx.rtmp_url)
        assert KEY not in row[4] and row[4].startswith("v1:"), "the stream key is stored in clear"
        wait_for(lambda: live_output(oid), 30, "the output live")
        info = _read_rtmp(f"{nginx.rtmp_url}/{KEY}", 3.0)
        assert info["video"] == ("h264", 1280, 720) and info["audio"][0] == "aac"

        kill9(proc)  # the whole server, its rooms and connection processes: no clean stop
        proc = serve(db_url, port, tmp_path, log, workers)
        t0 = time.monotonic()
        wait_for(lambda: http.get("/healthz").status_code == 200, 90, "server up again")
        again = wait_for(lambda: live_output(oid), 60, "the saved output live after the restart")
        resumed = time.monotonic() - t0
        assert again["name"] == "抖音" and again["stream_key"] == "****" + KEY[-4:]
        info = _read_rtmp(f"{nginx.rtmp_url}/{KEY}", 4.0)
        assert info["video"] == ("h264", 1280, 720)
        assert info["audio_packets"] > 20
        pts = info["video_pts"]
        assert pts[-1] - pts[0] >= 2.0, "the resumed stream did not keep growing"
        print(f"\nsaved output live again {resumed:.1f} s after the restarted server answered")

        # removing it forgets it; an unknown or hostile id is a 404
        assert http.delete(f"/api/rooms/demo/outputs/{oid}").status_code == 200
        assert saved_rows(db) == []
        assert all(o["id"] != oid for o in http.get("/api/rooms/demo/outputs").json())
        for bad in ("nope", "x" * 300, "%27%20OR%201%3D1--"):
            assert http.delete(f"/api/rooms/demo/outputs/{bad}").status_code == 404
        assert KEY not in log.read_text(errors="replace"), "the stream key reached the log"
    except BaseException:
        print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        http.close()
        kill9(proc)


async def test_with_room_workers_a_saved_output_pushes_again_when_the_room_starts_again(tmp_path):
    """Room workers: the output is saved by the web process and pushed by whichever worker
    holds the room each time it goes live; removed, it stays gone."""
    with (
        NginxRtmp(tmp_path / "nginx") as nginx,
        LiveServer(tmp_path / "shop.db", workers=1) as server,
    ):
        async with httpx.AsyncClient(
            base_url=server.url, timeout=30, headers=server.headers("admin")
        ) as http:

            async def live(oid: str) -> dict | None:
                deadline = time.monotonic() + 45
                while time.monotonic() < deadline:
                    res = await http.get("/api/rooms/demo/outputs")
                    if res.status_code == 200:
                        for o in res.json():
                            if o["id"] == oid and o["state"] == "live":
                                return o
                    await asyncio.sleep(0.3)
                raise AssertionError(f"output {oid} not live: {res.text}")

            async def restart_room() -> None:
                assert (await http.post("/api/rooms/demo/stop")).status_code == 200
                res = await http.post("/api/rooms", json={"room_id": "demo", "persona": "xiaowang"})
                assert res.status_code == 201, res.text

            body = {"url": nginx.rtmp_url, "stream_key": KEY, "name": "B站"}
            res = await http.post("/api/rooms/demo/outputs", json=body)
            assert res.status_code == 201, res.text
            oid = res.json()["id"]
            await live(oid)
            await restart_room()
            again = await live(oid)
            assert again["name"] == "B站" and KEY not in str(again)
            info = await asyncio.to_thread(_read_rtmp, f"{nginx.rtmp_url}/{KEY}", 3.0)
            assert info["video"] == ("h264", 1280, 720)
            assert (await http.delete(f"/api/rooms/demo/outputs/{oid}")).status_code == 200
            await restart_room()
            await asyncio.sleep(2)
            assert [o["id"] for o in (await http.get("/api/rooms/demo/outputs")).json()] == []
