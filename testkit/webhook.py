"""A real HTTP server on loopback that plays a WeCom/DingTalk group robot: it records every
JSON message posted to it and answers `{"errcode": 0}` as the robots do."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RobotReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key=test"
        self.messages: list[tuple[float, dict]] = []  # (monotonic time received, body)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> RobotReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                n = min(int(self.headers.get("content-length") or 0), 1 << 20)
                try:
                    body = json.loads(self.rfile.read(n) or b"{}")
                except ValueError:
                    body = {"invalid": True}
                with receiver._lock:
                    receiver.messages.append((time.monotonic(), body))
                out = b'{"errcode":0,"errmsg":"ok"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def texts(self) -> list[str]:
        with self._lock:
            return [
                (b.get("markdown") or {}).get("content") or (b.get("markdown") or {}).get("text")
                for _, b in self.messages
            ]

    def __enter__(self) -> RobotReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
