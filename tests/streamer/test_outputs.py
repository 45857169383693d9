"""RTMP outputs against a real nginx-rtmp (Debian's libnginx-mod-rtmp), started on loopback:
the room's one encode reaches nginx as 720p H.264 + AAC, survives an nginx restart without
touching its WebRTC viewers, and a bad target fails alone and visibly."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import signal
import time

import av
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from commerce.demo import DEMO_PRODUCTS
from streamer.engine import Engine
from streamer.outputs import MAX_OUTPUTS, BadOutput, RoomOutputs, TooManyOutputs, check_target
from streamer.room import RoomConfig
from streamer.rtmp_push import BACKOFF_CAP, BACKOFF_FIRST, IO_TIMEOUT, backoff
from testkit.livesrv import LiveServer, free_port
from testkit.nginx_rtmp import NginxRtmp
from testkit.whep import WhepViewer

SECRET = "sk-Yunlian-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    ng = NginxRtmp(tmp_path_factory.mktemp("nginx"))
    ng.start()
    yield ng
    ng.stop()


@pytest.fixture(scope="module")
def server(nginx, tmp_path_factory):
    """The app with its demo room live and pushing to nginx for HLS."""
    with LiveServer(
        tmp_path_factory.mktemp("outputs") / "yunlian.db",
        hls_push_url=nginx.rtmp_url,
        hls_url=nginx.http_url + "/hls/{room_id}.m3u8",
    ) as srv:
        yield srv


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(
        base_url=server.url, timeout=20, headers=server.headers("admin")
    ) as client:
        yield client


async def _wait(predicate, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value is not None and value is not False:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"{what} within {timeout:g} s")


async def _outputs(http, room="demo") -> list[dict]:
    res = await http.get(f"/api/rooms/{room}/outputs")
    assert res.status_code == 200, res.text
    return res.json()


async def _output(http, output_id: str) -> dict:
    return next(o for o in await _outputs(http) if o["id"] == output_id)


def _read_rtmp(url: str, seconds: float) -> dict:
    """Play the stream back from nginx with PyAV for `seconds` of wall time."""
    c = av.open(url, timeout=10)
    try:
        v, a = c.streams.video[0], c.streams.audio[0]
        info = {
            "video": (v.codec_context.name, v.codec_context.width, v.codec_context.height),
            "audio": (a.codec_context.name, a.codec_context.sample_rate),
            "video_pts": [],
            "audio_packets": 0,
        }
        end = time.monotonic() + seconds
        for p in c.demux(v, a):
            if p.pts is not None and p.stream is v:
                info["video_pts"].append(float(p.pts * p.time_base))
            elif p.stream is a and p.size:
                info["audio_packets"] += 1
            if time.monotonic() > end:
                break
        return info
    finally:
        c.close()


async def test_room_pushes_720p_h264_and_aac_to_nginx_and_the_stream_keeps_growing(
    server, nginx, http
):
    hls = await _wait(
        lambda: _live_internal(http), 15, "the room's HLS push did not go live", every=0.3
    )
    assert hls["stream_key"] == "****" and hls["internal"]
    info = await asyncio.to_thread(_read_rtmp, f"{nginx.rtmp_url}/demo", 5.0)
    assert info["video"] == ("h264", 1280, 720)
    assert info["audio"] == ("aac", 48_000)
    assert info["audio_packets"] > 50
    pts = info["video_pts"]
    assert pts[-1] - pts[0] >= 3.0, "the stream did not keep growing while it was read"
    # nginx cuts it into HLS, and the playlist moves on
    async with httpx.AsyncClient(timeout=5) as c:

        async def sequence() -> int:
            text = (await c.get(nginx.hls_url("demo"))).text
            return int(text.split("#EXT-X-MEDIA-SEQUENCE:")[1].split()[0])

        first = await _wait(lambda: _ok(sequence), 15, "no HLS playlist")
        await _wait(lambda: _later(sequence, first), 15, "the HLS playlist stopped moving")
        res = await c.get(nginx.hls_url("demo"))
        assert res.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert res.headers["access-control-allow-origin"] == "*"
    room = (await http.get("/api/rooms/demo")).json()
    assert room["output_audio"]["aac_encodes"] > 0
    # one encode per frame (read mid-frame, the encode may be one ahead of the count)
    assert 0 <= room["video_encodes"] - room["frames"] <= 1, "a second video encode ran"


async def _live_internal(http):
    outs = [o for o in await _outputs(http) if o["internal"]]
    return outs[0] if outs and outs[0]["state"] == "live" else None


async def _ok(fn):
    try:
        return await fn()
    except (httpx.HTTPError, IndexError, ValueError):
        return None


async def _later(fn, first: int):
    value = await _ok(fn)
    return value is not None and value > first


async def test_nginx_restart_push_resumes_by_itself_while_webrtc_viewers_keep_playing(
    server, nginx, http
):
    added = await http.post(
        "/api/rooms/demo/outputs", json={"url": nginx.rtmp_url, "stream_key": SECRET, "name": "B站"}
    )
    assert added.status_code == 201, added.text
    oid = added.json()["id"]
    viewer = WhepViewer(server.url)
    await viewer.connect()
    try:
        await _wait(lambda: _state_is(http, oid, "live"), 15, "the push did not go live")
        await viewer.wait_frames(video=25)
        before = await _output(http, oid)
        nginx.kill()
        frames_at_kill = len(viewer.tracks["video"].frames)
        await _wait(lambda: _state_not(http, oid, "live"), 15, "the push did not notice")
        failed = await _output(http, oid)
        assert failed["last_error"] and SECRET not in failed["last_error"]
        await asyncio.sleep(2)  # nginx stays down a while: the push retries with backoff
        nginx.start()
        back = await _wait(lambda: _state_is(http, oid, "live"), 30, "the push did not resume")
        assert back["reconnects"] >= before["reconnects"] + 1
        # the viewer kept receiving the whole time: about 25 frames a second
        frames = viewer.tracks["video"].frames
        assert len(frames) - frames_at_kill >= 25 * 2
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(frames[frames_at_kill:])]
        assert max(gaps) < 1.0, f"the WebRTC viewer stalled {max(gaps):.2f} s"
        info = await asyncio.to_thread(_read_rtmp, f"{nginx.rtmp_url}/{SECRET}", 3.0)
        assert info["video"] == ("h264", 1280, 720)
    finally:
        await viewer.close()
        await http.delete(f"/api/rooms/demo/outputs/{oid}")


async def _state_is(http, oid, state):
    o = await _output(http, oid)
    return o if o["state"] == state else None


async def _state_not(http, oid, state):
    o = await _output(http, oid)
    return o if o["state"] != state else None


async def test_a_wrong_url_shows_its_error_while_the_rooms_other_outputs_keep_going(
    server, nginx, http, caplog
):
    caplog.set_level(logging.DEBUG)
    good = (
        await http.post(
            "/api/rooms/demo/outputs", json={"url": nginx.rtmp_url, "stream_key": "good-1"}
        )
    ).json()
    dead = (
        await http.post(
            "/api/rooms/demo/outputs",
            json={
                "url": f"rtmp://127.0.0.1:{free_port()}/live",
                "stream_key": SECRET,
                "name": "快手",
            },
        )
    ).json()
    wrong_app = (
        await http.post(
            "/api/rooms/demo/outputs",
            json={"url": f"rtmp://127.0.0.1:{nginx.rtmp_port}/nosuchapp", "stream_key": SECRET},
        )
    ).json()
    try:
        for bad, hint in ((dead, "无法连接"), (wrong_app, "拒绝了推流")):
            o = await _wait(
                lambda bad=bad: _failed(http, bad["id"]), 20, "a bad target showed no error"
            )
            assert o["state"] in ("retrying", "connecting")
            assert SECRET not in o["last_error"] and "127.0.0.1" in o["last_error"]
            assert hint in o["error_hint"]
        live = await _wait(lambda: _state_is(http, good["id"], "live"), 15, "good push not live")
        await asyncio.sleep(2)
        later = await _output(http, good["id"])
        assert later["state"] == "live" and later["bytes_sent"] > live["bytes_sent"]
        room = (await http.get("/api/rooms/demo")).json()
        assert {o["id"] for o in room["outputs"]} >= {good["id"], dead["id"], wrong_app["id"]}
        metrics = (await http.get("/metrics")).text
        up = {
            s.labels["output"]: s.value
            for f in text_string_to_metric_families(metrics)
            if f.name == "yunlian_output_up"
            for s in f.samples
            if s.labels["room"] == "demo"
        }
        assert up[good["id"]] == 1 and up[dead["id"]] == 0
        for text in (room.__repr__(), metrics, str(await _outputs(http))):
            assert SECRET not in text
    finally:
        for o in (good, dead, wrong_app):
            await http.delete(f"/api/rooms/demo/outputs/{o['id']}")
    assert SECRET not in caplog.text
    assert dead["stream_key"] == "****" + SECRET[-4:]


async def _failed(http, oid):
    o = await _output(http, oid)
    return o if o["last_error"] and o["failures"] >= 1 else None


@pytest.mark.parametrize(
    "url, key, reason",
    [
        ("http://example.com/live", "k", "rtmp://"),
        ("rtmp://", "k", "host"),
        ("rtmp://host", "k", "application path"),
        ("rtmp://user:pw@host/live", "k", "user name"),
        ("rtmp://host:99999/live", "k", "port"),
        ("rtmp://host/live?x=1", "k", "query"),
        ("rtmp://ho st/live", "k", "spaces"),
        ("rtmp://host/live", "", "stream key"),
        ("rtmp://host/live", "a b", "stream key"),
        ("rtmp://host/live", "k" * 600, "stream key"),
        ("rtmp://host/live", "密钥", "stream key"),
    ],
)
def test_malformed_targets_are_refused_with_the_part_that_is_wrong(url, key, reason):
    with pytest.raises(BadOutput, match=reason):
        check_target(url, key)


def test_a_room_takes_at_most_four_outputs_besides_its_hls_push():
    outputs = RoomOutputs("r", 25, lambda: None)
    port = free_port()  # nothing listens: each push only retries
    try:
        outputs.add(f"rtmp://127.0.0.1:{port}/live", "room", internal=True)
        for i in range(MAX_OUTPUTS):
            outputs.add(f"rtmp://127.0.0.1:{port}/live", f"key-{i}")
        with pytest.raises(TooManyOutputs):
            outputs.add(f"rtmp://127.0.0.1:{port}/live", "one-too-many")
        assert len(outputs.list()) == MAX_OUTPUTS + 1
    finally:
        outputs.close()
    assert outputs.list() == [] and outputs.aac is None


def test_reconnect_backoff_doubles_with_jitter_and_stays_bounded():
    rng = random.Random(7)
    for failures in range(1, 30):
        ceiling = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (failures - 1))
        delays = [backoff(failures, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len({round(d, 6) for d in delays}) > 40, "no jitter"
    assert backoff(1, rng) <= BACKOFF_FIRST and backoff(100, rng) <= BACKOFF_CAP


async def _catalog(room_id=None):
    return list(DEMO_PRODUCTS)


async def test_a_peer_that_stops_reading_stalls_then_times_out_and_the_push_comes_back(tmp_path):
    """A frozen server (SIGSTOP: connections open, nothing read) never hangs the muxer: the
    push shows as stalled, its write times out, it reconnects by itself once the server
    reads again; the room keeps its pace throughout."""
    ng = NginxRtmp(tmp_path / "nginx").start()
    engine = Engine(_catalog)
    try:
        await engine.start_room(RoomConfig(room_id="stall"))
        room = engine.rooms["stall"]
        oid = engine.add_output("stall", ng.rtmp_url, "stall")["id"]

        async def state(name):
            o = engine.list_outputs("stall")[0]
            return o if o["state"] == name else None

        async def timed_out():
            o = engine.list_outputs("stall")[0]
            return o if "超时" in o["error_hint"] and o["state"] != "live" else None

        await _wait(lambda: state("live"), 15, "the push did not go live")
        os.kill(ng.pid(), signal.SIGSTOP)  # nginx alive but reading nothing: writes block
        try:
            frames0 = room.metrics.frames
            # the socket buffers (a few MB) fill first, then nothing more goes out
            await _wait(lambda: state("stalled"), 90, "the stall did not show", 0.5)
            failed = await _wait(timed_out, IO_TIMEOUT + 15, "the blocked write never timed out")
            assert "no answer from the server" in failed["last_error"]
            # the push's connection process blocked, then its queue filled: the room dropped
            # ticks for it (counted before the write timed out), never waited
            assert failed["dropped_ticks"] > 0, failed
            assert room.metrics.frames - frames0 >= 20 * 10
        finally:
            os.kill(ng.pid(), signal.SIGCONT)
        back = await _wait(lambda: state("live"), 60, "the push did not come back")
        assert back["id"] == oid and back["reconnects"] >= 1
    finally:
        await engine.close()
        ng.stop()


async def test_stopping_pushes_to_a_frozen_server_never_hangs(tmp_path):
    """Outputs removed while their server is frozen (one mid-write, one mid-handshake) end
    their threads at once: the blocked call is cut short, not waited for."""
    ng = NginxRtmp(tmp_path / "nginx").start()
    engine = Engine(_catalog)
    try:
        await engine.start_room(RoomConfig(room_id="frozen"))
        outputs = engine.rooms["frozen"].outputs
        live = engine.add_output("frozen", ng.rtmp_url, "a")["id"]

        async def is_live():
            return next(o for o in outputs.list() if o["id"] == live)["state"] == "live"

        await _wait(is_live, 15, "the push did not go live")
        os.kill(ng.pid(), signal.SIGSTOP)
        try:
            handshake = engine.add_output("frozen", ng.rtmp_url, "b")["id"]
            await asyncio.sleep(2)  # b connects (the kernel accepts) and waits for nginx
            pushes = [outputs.remove(oid) for oid in (live, handshake)]
            t0 = time.monotonic()
            await asyncio.to_thread(lambda: [p.join(10) for p in pushes])
            assert not any(p._thread.is_alive() for p in pushes), "a push thread hung"
            assert time.monotonic() - t0 < 5
        finally:
            os.kill(ng.pid(), signal.SIGCONT)
    finally:
        await engine.close()
        ng.stop()


async def test_a_wrong_stream_key_is_refused_clearly_while_the_right_one_goes_live(
    tmp_path, caplog
):
    """A platform-like ingest (nginx-rtmp's on_publish checks the key) refuses a wrong key:
    the push shows why and retries; the room's push with the right key is live meanwhile."""
    caplog.set_level(logging.DEBUG)
    ng = NginxRtmp(tmp_path / "nginx").start()
    engine = Engine(_catalog)
    wrong = "wrong-key-0123456789abcdef"
    try:
        await engine.start_room(RoomConfig(room_id="keys"))
        bad = engine.add_output("keys", ng.keyed_url, wrong, "抖音")["id"]
        good = engine.add_output("keys", ng.keyed_url, ng.publish_key, "快手")["id"]

        async def view(oid):
            return next(o for o in engine.list_outputs("keys") if o["id"] == oid)

        async def refused():
            o = await view(bad)
            return o if o["failures"] >= 2 else None

        async def live():
            o = await view(good)
            return o if o["state"] == "live" else None

        o = await _wait(refused, 40, "the wrong key showed no error")
        assert o["state"] in ("retrying", "connecting") and o["connects"] == 0
        assert "拒绝了推流" in o["error_hint"] and "推流码" in o["error_hint"]
        assert wrong not in o["last_error"] and "keyed" in o["last_error"]
        ok = await _wait(live, 15, "the right key did not go live")
        await asyncio.sleep(2)
        assert (await view(good))["bytes_sent"] > ok["bytes_sent"]
        info = await asyncio.to_thread(_read_rtmp, f"{ng.keyed_url}/{ng.publish_key}", 2.0)
        assert info["video"] == ("h264", 1280, 720)
    finally:
        await engine.close()
        ng.stop()
    assert wrong not in caplog.text


@pytest.fixture
def worker_server(tmp_path):
    """The app with its rooms in a worker process, pushing the demo room to its own nginx."""
    ng = NginxRtmp(tmp_path / "nginx")
    ng.start()
    try:
        with LiveServer(
            tmp_path / "yunlian.db",
            workers=1,
            hls_push_url=ng.rtmp_url,
            hls_url=ng.http_url + "/hls/{room_id}.m3u8",
        ) as srv:
            yield srv, ng
    finally:
        ng.stop()


async def test_outputs_of_a_room_in_a_worker_push_list_remove_and_survive_its_restart(
    worker_server,
):
    server, ng = worker_server
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers=server.headers("admin")
    ) as http:
        # the HLS push (attach_hls) crosses the bus and goes live from the worker
        hls = await _wait(lambda: _live_internal(http), 60, "the HLS push did not go live", 0.5)
        assert hls["internal"] and hls["stream_key"] == "****"
        info = await asyncio.to_thread(_read_rtmp, f"{ng.rtmp_url}/demo", 3.0)
        assert info["video"] == ("h264", 1280, 720) and len(info["video_pts"]) > 10
        # a platform push: answered at once with its key masked, then live
        res = await http.post(
            "/api/rooms/demo/outputs",
            json={"url": ng.rtmp_url, "stream_key": SECRET, "name": "快手"},
        )
        assert res.status_code == 201, res.text
        out = res.json()
        assert out["stream_key"] == "****" + SECRET[-4:] and out["name"] == "快手"
        assert SECRET not in res.text
        oid = out["id"]
        await _wait(lambda: _state_is(http, oid, "live"), 60, "the push did not go live", 0.5)
        assert SECRET not in (await http.get("/api/rooms/demo/outputs")).text
        # bad input is refused before it reaches the worker, with its reason
        bad = await http.post(
            "/api/rooms/demo/outputs", json={"url": "http://example.com/live", "stream_key": "k"}
        )
        assert bad.status_code == 422 and "rtmp://" in bad.json()["detail"], bad.text
        # at most four of the room's own outputs (the HLS push is not one of them)
        more = []
        for _ in range(3):
            r = await http.post(
                "/api/rooms/demo/outputs",
                json={"url": f"rtmp://127.0.0.1:{free_port()}/live", "stream_key": "k"},
            )
            assert r.status_code == 201, r.text
            more.append(r.json()["id"])
        fifth = await http.post(
            "/api/rooms/demo/outputs", json={"url": ng.rtmp_url, "stream_key": "k5"}
        )
        assert fifth.status_code == 409, fifth.text
        for m in more:
            assert (await http.delete(f"/api/rooms/demo/outputs/{m}")).status_code == 200
        assert (await http.delete(f"/api/rooms/demo/outputs/{more[0]}")).status_code == 404
        assert {o["id"] for o in await _outputs(http)} == {hls["id"], oid}

        # the worker dies: the room is restored elsewhere with its outputs, same ids, live
        async def restarted():
            m = (await http.get("/api/metrics")).json()
            return m["worker_restarts"] >= 1 and any(
                r["room_id"] == "demo" for r in m["rooms_restored"]
            )

        pid = next(w["pid"] for w in (await http.get("/api/metrics")).json()["workers"])
        os.kill(pid, signal.SIGKILL)
        await _wait(restarted, 90, "the room was not restored", 0.5)
        back = await _wait(lambda: _state_is(http, oid, "live"), 60, "push not back", 0.5)
        assert back["stream_key"] == "****" + SECRET[-4:]
        await _wait(lambda: _live_internal(http), 60, "the HLS push did not come back", 0.5)
        assert {o["id"] for o in await _outputs(http)} == {hls["id"], oid}
        assert (await http.delete(f"/api/rooms/demo/outputs/{oid}")).status_code == 200
        assert {o["id"] for o in await _outputs(http)} == {hls["id"]}


def test_output_calls_on_the_worker_bus_have_checked_argument_types():
    from streamer.bus import OPS, check_args
    from streamer.engine_base import EngineError

    assert {"add_output", "remove_output"} <= OPS
    check_args("add_output", ("demo", "rtmp://h/live", "k", "抖音", True, "abc123"))
    check_args("remove_output", ("demo", "abc123"))
    for op, args in [
        ("add_output", ("demo", "rtmp://h/live", "k", "抖音", 1, "abc123")),  # not a bool
        ("add_output", ("demo", "rtmp://h/live", None, "", False, "abc123")),
        ("add_output", ("demo", "rtmp://h/live", "k")),
        ("remove_output", ("demo", 7)),
    ]:
        with pytest.raises(EngineError, match=op):
            check_args(op, args)
