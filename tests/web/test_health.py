"""`/healthz` (alive) and `/readyz` (database reachable, rooms ticking, workers up): the
database goes away for real (PostgreSQL behind a TCP gate the test closes) and comes back,
and a room's media thread is starved; `/readyz` says why, then recovers by itself."""

from __future__ import annotations

import contextlib
import socket
import threading

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import make_url

from testkit.livesrv import free_port
from testkit.nodes import wait_for
from testkit.pg import create_database, postgres_server
from web.app import Settings, create_app


class TcpGate:
    """A loopback TCP forwarder that can be shut (every connection cut, new ones refused)
    and opened again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def open(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.2)
        self._listener = s
        t = threading.Thread(target=self._accept, args=(s,), daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self, s: socket.socket) -> None:
        while self._listener is s:
            try:
                client, _ = s.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        a.settimeout(None)
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                with contextlib.suppress(OSError):
                    x.shutdown(socket.SHUT_RDWR)

    def shut(self) -> None:
        s, self._listener = self._listener, None
        if s is not None:
            s.close()
        for t in self._threads:
            t.join(2)
        self._threads.clear()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()


@pytest.fixture(scope="module")
def server():
    with postgres_server() as admin_url:
        real = make_url(create_database(admin_url))
        gate = TcpGate((real.host, real.port))
        gate.open()
        url = real.set(port=gate.port).render_as_string(hide_password=False)
        app = create_app(Settings(db_url=url, demo_room=True, demo_payments=False))
        port = free_port()
        srv = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _get(base, "/healthz").status_code == 200, 60, "server up")
            yield base, app, gate
        finally:
            srv.should_exit = True
            thread.join(20)
            gate.shut()


def _get(base: str, path: str) -> httpx.Response:
    return httpx.get(base + path, timeout=10)


def test_ready_then_database_gone_then_back_by_itself(server):
    base, _app, gate = server
    ready = wait_for(lambda: _get(base, "/readyz").status_code == 200, 30, "ready")
    assert ready
    body = _get(base, "/readyz").json()
    assert body["ready"] is True and body["reasons"] == [] and body["rooms"] == 1

    gate.shut()  # the database goes away: connections cut, new ones refused
    try:
        res = wait_for(
            lambda: (r := _get(base, "/readyz")).status_code == 503 and r, 20, "503 without DB"
        )
        assert any("database" in reason for reason in res.json()["reasons"]), res.json()
        assert _get(base, "/healthz").status_code == 200  # alive all the same
    finally:
        gate.open()
    wait_for(lambda: _get(base, "/readyz").status_code == 200, 30, "ready again after the DB")


def test_a_starved_room_is_not_ready_until_it_ticks_again(server):
    base, app, _gate = server
    wait_for(lambda: _get(base, "/readyz").status_code == 200, 30, "ready")
    room = app.state.engine.rooms["demo"]
    room.tick_delay = 5.0  # the media thread sleeps: no frame for seconds
    try:
        res = wait_for(
            lambda: (r := _get(base, "/readyz")).status_code == 503 and r, 20, "503 when stalled"
        )
        assert any("room demo" in reason for reason in res.json()["reasons"]), res.json()
        # the room's fps is the last 10 s, not frames ÷ uptime: the stall shows at once
        wait_for(lambda: room.stats()["fps"] < 22, 20, "fps over the last 10 s falls")
    finally:
        room.tick_delay = 0.0
    wait_for(lambda: _get(base, "/readyz").status_code == 200, 30, "ready again after the stall")


def test_readyz_and_healthz_are_public_and_refuse_other_methods(server):
    base, _app, _gate = server
    assert httpx.post(base + "/readyz", timeout=5).status_code == 405
    assert _get(base, "/healthz").json()["ok"] is True
