"""Debian's Janus (`janus`), run from deploy/janus/ on loopback for tests and benchmarks:
only the streaming plugin and the HTTP transport, its own temp dir, free ports, an admin key
for creating mountpoints. Every wait is bounded."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx

from testkit.nginx_rtmp import free_port
from testkit.proc import end_process, log_tail

JANUS = "/usr/bin/janus"
LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
TEMPLATES = Path(__file__).resolve().parents[1] / "deploy" / "janus"


def _libdir() -> Path:
    for d in (LIBDIR, *Path("/usr/lib").glob("*/janus")):
        if (d / "plugins" / "libjanus_streaming.so").exists():
            return d
    raise RuntimeError("janus is not installed (apt-get install janus)")


class Janus:
    """One Janus on 127.0.0.1: `api_url` (HTTP API) and `admin_key` (streaming plugin)."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = Path(prefix)
        self.conf_dir = self.prefix / "conf"
        plugins, transports, empty = (self.prefix / n for n in ("plugins", "transports", "empty"))
        for d in (self.conf_dir, plugins, transports, empty):
            d.mkdir(parents=True, exist_ok=True)
        lib = _libdir()
        for src, dst in (
            (lib / "plugins" / "libjanus_streaming.so", plugins / "libjanus_streaming.so"),
            (lib / "transports" / "libjanus_http.so", transports / "libjanus_http.so"),
        ):
            if not dst.exists():
                os.symlink(src, dst)
        self.http_port = free_port()
        base = 20_000 + (free_port() % 15_000)
        self.admin_key = secrets.token_hex(12)
        fields = {
            "CONFIGS": str(self.conf_dir),
            "PLUGINS": str(plugins),
            "TRANSPORTS": str(transports),
            "EMPTY": str(empty),
            "PREFIX": str(self.prefix),
            "RTP_RANGE": f"{base}-{base + 400}",  # WebRTC towards viewers
            "RTP_IN_RANGE": f"{base + 401}-{base + 800}",  # RTP in from rooms
            "HTTP_PORT": str(self.http_port),
            "HTTP_IP": "127.0.0.1",
            "ADMIN_KEY": self.admin_key,
        }
        for template in TEMPLATES.glob("*.jcfg"):
            text = template.read_text()
            for k, v in fields.items():
                text = text.replace(f"@{k}@", v)
            (self.conf_dir / template.name).write_text(text)
        self.log = self.prefix / "janus.log"
        self.proc: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/janus"

    def start(self, timeout: float = 60.0) -> Janus:
        if not Path(JANUS).exists():
            raise RuntimeError("janus is not installed (apt-get install janus)")
        self.proc = subprocess.Popen(
            [JANUS, "-C", str(self.conf_dir / "janus.jcfg"), "-F", str(self.conf_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"janus exited at start: {self.log_text()}")
            try:
                info = httpx.post(
                    self.api_url, json={"janus": "info", "transaction": "t"}, timeout=1
                )
                if info.status_code == 200 and "janus.plugin.streaming" in info.json().get(
                    "plugins", {}
                ):
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"janus did not answer within {timeout:g} s: {self.log_text()}")

    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def log_text(self) -> str:
        return log_tail(self.log)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        end_process(proc, timeout)

    def __enter__(self) -> Janus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class JanusViewer:
    """A viewer through Janus's own HTTP API, as janus.js would do it: session, streaming
    handle, `watch`, Janus's offer, our answer with `start`. `decode=False` reads no frames
    (the benchmark's clients, which also swap aiortc's decoders for a null one)."""

    def __init__(self, api_url: str, mountpoint: int, decode: bool = True) -> None:
        self.api_url = api_url.rstrip("/")
        self.mountpoint = mountpoint
        self.decode = decode
        self.frames: list[tuple[float, int, int]] = []  # (wall time, width, height)
        self.audio_frames = 0
        self.pc = None
        self.session: int | None = None
        self._tasks: list = []
        self._http = httpx.AsyncClient(timeout=40)

    async def _call(self, path: str, payload: dict) -> dict:
        payload = {**payload, "transaction": secrets.token_hex(6)}
        res = (await self._http.post(self.api_url + path, json=payload)).json()
        if res.get("janus") == "error":
            raise RuntimeError(f"Janus refused {payload['janus']}: {res}")
        return res

    async def _event(self, timeout: float) -> dict:
        """The next event of our handle (long poll, bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            res = await self._http.get(f"{self.api_url}/{self.session}?maxev=1")
            ev = res.json()
            if ev.get("janus") == "event":
                return ev
        raise TimeoutError(f"no event from Janus within {timeout:g} s")

    async def connect(self, timeout: float = 30.0) -> None:
        import asyncio

        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
        from aiortc.mediastreams import MediaStreamError

        self.session = (await self._call("", {"janus": "create"}))["data"]["id"]
        handle = (
            await self._call(
                f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.streaming"}
            )
        )["data"]["id"]
        path = f"/{self.session}/{handle}"
        await self._call(
            path, {"janus": "message", "body": {"request": "watch", "id": self.mountpoint}}
        )
        ev = await self._event(timeout)
        if "jsep" not in ev:
            raise RuntimeError(f"Janus sent no offer: {ev}")
        self.pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        async def read(track) -> None:
            try:
                while True:
                    frame = await track.recv()
                    if track.kind == "video":
                        self.frames.append((time.time(), frame.width, frame.height))
                    else:
                        self.audio_frames += 1
            except MediaStreamError:
                return

        if self.decode:
            pc.on("track", lambda t: self._tasks.append(asyncio.ensure_future(read(t))))
        await pc.setRemoteDescription(RTCSessionDescription(ev["jsep"]["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self._call(
            path,
            {
                "janus": "message",
                "body": {"request": "start"},
                "jsep": {"type": "answer", "sdp": pc.localDescription.sdp},
            },
        )
        self._tasks.append(asyncio.ensure_future(self._keepalive()))

    async def _keepalive(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(20)
            try:
                await self._call(f"/{self.session}", {"janus": "keepalive"})
            except (httpx.HTTPError, RuntimeError, ValueError):
                return

    async def close(self) -> None:
        import asyncio

        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.pc is not None:
            await self.pc.close()
        if self.session is not None:
            try:
                await self._call(f"/{self.session}", {"janus": "destroy"})
            except (httpx.HTTPError, RuntimeError, ValueError):
                pass
        await self._http.aclose()
