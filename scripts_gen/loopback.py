"""A small OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

It speaks the real wire protocol (JSON, and server-sent events when `stream` is true) so the
`openai` client goes over HTTP exactly as it would to a real endpoint. Behaviour per request
is picked by the requested model name: "ok", "slow", "error", "malformed"; anything else
behaves like "ok".
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

DEFAULT_SCRIPT = (
    "家人们看过来，今天给大家带来阜平的山货。",
    "这个东西是山里老乡自己种的，吃着放心。",
    "个头均匀，品相很好，大家看这个颜色。",
    "收到以后按说明保存就行，很方便。",
    "喜欢的朋友点下面的购物车下单。",
    "有问题打在公屏上，我一个一个回答。",
    "好，这一款就先说到这里。",
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # a streamed body ends when the connection closes
    server: _Server

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test): nothing to send

    def _serve(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        owner.requests.append(body)
        if not self.path.endswith("/chat/completions"):
            self._json(404, {"error": {"message": "not found"}})
            return
        mode = body.get("model", "ok")
        if mode == "error":
            self._json(500, {"error": {"message": "internal error", "type": "server_error"}})
            return
        if mode == "slow":
            time.sleep(owner.slow_seconds)
        text = "\n".join(owner.script)
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._json(200, _envelope("chat.completion", mode, [choice]))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if mode == "malformed":
            self.wfile.write(b'data: {"id": "x", "choices": [{"delta": {"content": "\xe5\xae')
            self.wfile.write(b"\n\ndata: {oops not json}\n\n")
            self.wfile.flush()
            return
        step = owner.chunk_chars
        for i in range(0, len(text), step):
            delta = {"index": 0, "delta": {"content": text[i : i + step]}, "finish_reason": None}
            event = _envelope("chat.completion.chunk", mode, [delta])
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
            if owner.chunk_delay:
                time.sleep(owner.chunk_delay)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def _envelope(kind: str, model: str, choices: list[dict]) -> dict:
    return {
        "id": "chatcmpl-loopback",
        "object": kind,
        "created": 0,
        "model": model,
        "choices": choices,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackOpenAI


class LoopbackOpenAI:
    """Start with `with LoopbackOpenAI(script=[...]) as server:`; use `server.base_url`."""

    def __init__(
        self,
        script: tuple[str, ...] | list[str] = DEFAULT_SCRIPT,
        slow_seconds: float = 2.0,
        chunk_chars: int = 3,
        chunk_delay: float = 0.0,
    ):
        self.script = list(script)
        self.slow_seconds = slow_seconds
        self.chunk_chars = chunk_chars
        self.chunk_delay = chunk_delay
        self.requests: list[dict] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> LoopbackOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
