"""Structured JSON logs: every line names its room and request (context variables), from a
request handler and from a room's own media thread; opt-in and opt-out by settings."""

from __future__ import annotations

import io
import json
import logging
import threading
import time

import httpx
import pytest

from testkit.livesrv import LiveServer
from web import logs


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("logs") / "y.db", log_json=True) as srv:
        yield srv
    logs.configure(False)


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_settings_turn_json_logs_on(server):
    root = logging.getLogger()
    assert any(hasattr(h, logs.MARK) for h in root.handlers)  # installed by create_app


def test_a_request_line_carries_its_request_and_room_ids(server):
    buf = io.StringIO()
    logs.configure(True, "INFO", stream=buf)
    res = httpx.get(
        server.url + "/api/rooms/demo",
        headers={**server.headers("admin"), "X-Request-ID": "req-0042"},
        timeout=10,
    )
    assert res.status_code == 200
    assert res.headers["x-request-id"] == "req-0042"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        hits = [x for x in _lines(buf) if x.get("request_id") == "req-0042"]
        if hits:
            break
        time.sleep(0.05)
    access = next(x for x in hits if x["logger"] == "yunlian.access")
    assert access["room_id"] == "demo"
    assert access["status"] == 200 and access["path"] == "/api/rooms/demo"
    assert set(access) >= {"ts", "level", "logger", "msg", "ms", "method"}


def test_a_hostile_request_id_is_replaced(server):
    res = httpx.get(server.url + "/healthz", headers={"X-Request-ID": 'a b"c' * 30}, timeout=10)
    assert res.status_code == 200
    rid = res.headers["x-request-id"]
    assert len(rid) == 32 and rid.isalnum()


def test_a_rooms_media_thread_logs_with_its_room_id(server):
    buf = io.StringIO()
    logs.configure(True, "INFO", stream=buf)
    room = server.engine.rooms["demo"]
    said = threading.Event()

    def once(*_args) -> None:
        if not said.is_set():
            logging.getLogger("tests.room").warning("帧已渲染")
            said.set()  # after the line is written

    room.on_frame = once
    try:
        assert said.wait(10)
    finally:
        room.on_frame = None
    line = next(x for x in _lines(buf) if x["logger"] == "tests.room")
    assert line["room_id"] == "demo" and line["msg"] == "帧已渲染"
    assert line["request_id"] is None


def test_opt_out_removes_the_json_handler(server):
    logs.configure(False)
    assert not any(hasattr(h, logs.MARK) for h in logging.getLogger().handlers)
