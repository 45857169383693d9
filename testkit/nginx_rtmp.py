"""Debian's nginx with libnginx-mod-rtmp, run from deploy/nginx-rtmp.conf on loopback ports.

Started in the foreground (`daemon off`) with its own prefix, config and pid under a temp
dir, so it needs no root and leaves nothing behind. Every wait is bounded.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from testkit.proc import end_process

NGINX = "/usr/sbin/nginx"
MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules")
TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "nginx-rtmp.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rtmp_module() -> str:
    for d in MODULE_DIRS:
        path = Path(d) / "ngx_rtmp_module.so"
        if path.exists():
            return str(path)
    raise RuntimeError("libnginx-mod-rtmp is not installed (apt-get install libnginx-mod-rtmp)")


class NginxRtmp:
    """One nginx-rtmp on 127.0.0.1: rtmp_url to push to, hls_url(name) to play."""

    def __init__(self, prefix: Path, workers: int = 1) -> None:
        self.prefix = Path(prefix)
        self.www = self.prefix / "www"
        (self.www / "hls").mkdir(parents=True, exist_ok=True)
        self.rtmp_port = free_port()
        self.http_port = free_port()
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self.conf = self.prefix / "nginx.conf"
        self.log = self.prefix / "nginx.log"
        root = os.geteuid() == 0
        self.publish_key = "key-" + secrets.token_hex(8)  # what the `keyed` app accepts
        fields = {
            "MODULE": rtmp_module(),
            # one process unless asked for workers; as root, workers stay root so that they
            # may write the temp dir
            "MASTER": "on" if workers > 1 else "off",
            "USER": "user root root;" if root and workers > 1 else "",
            "WORKERS": str(workers),
            "PREFIX": str(self.prefix),
            "WWW_DIR": str(self.www),
            "RTMP_HOST": "127.0.0.1",
            "RTMP_PORT": str(self.rtmp_port),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.http_port),
            "PUBLISH_KEY": self.publish_key,
        }
        text = TEMPLATE.read_text()
        for k, v in fields.items():
            text = text.replace(f"@{k}@", v)
        self.conf.write_text(text)

    @property
    def rtmp_url(self) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live"

    @property
    def keyed_url(self) -> str:
        """An application that, like a platform, takes only `publish_key` as stream key."""
        return f"rtmp://127.0.0.1:{self.rtmp_port}/keyed"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def hls_url(self, name: str) -> str:
        return f"{self.http_url}/hls/{name}.m3u8"

    def start(self, timeout: float = 10.0) -> NginxRtmp:
        if not Path(NGINX).exists():
            raise RuntimeError("nginx is not installed (apt-get install nginx libnginx-mod-rtmp)")
        logf = open(self.log, "ab")  # noqa: SIM115 - kept for the process's life
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.conf)],
            stdout=logf,
            stderr=logf,
            stdin=subprocess.DEVNULL,
        )
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited at start: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.rtmp_port), 0.5):
                    pass
                if httpx.get(self.http_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except (OSError, httpx.HTTPError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start within {timeout:g} s: {self.log.read_text()}")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        end_process(proc, timeout)  # fast shutdown: connections close at once

    def kill(self) -> None:
        """A crash, not a shutdown: the pushes see their connection die."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __enter__(self) -> NginxRtmp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cleanup(self) -> None:
        shutil.rmtree(self.prefix, ignore_errors=True)
