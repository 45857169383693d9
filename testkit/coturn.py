"""Debian's coturn (`turnserver`), run from deploy/coturn.conf on loopback for tests and
benchmarks: its own temp dir, free ports, the TURN REST API secret. Every wait is bounded."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from pathlib import Path

from aioice import stun

from testkit.nginx_rtmp import free_port
from testkit.proc import end_process, log_tail

TURNSERVER = "/usr/bin/turnserver"
TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "coturn.conf"


def host_ip() -> str:
    """This machine's first non-loopback IPv4 address (127.0.0.1 when it has none). Janus
    (libnice) drops relay candidates on loopback, so a TURN server for Janus viewers relays
    from the host's own address, as a real one relays from its public address."""
    import ifaddr

    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    return "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Coturn:
    """One coturn on 127.0.0.1 that relays to loopback peers: `url` and `secret`."""

    def __init__(self, prefix: Path, secret: str | None = None, relay_ip: str = "127.0.0.1"):
        self.prefix = Path(prefix)
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port()
        base = 40_000 + (free_port() % 20_000)  # a relay port range unlikely to clash
        self.secret = secret or secrets.token_hex(16)
        self.conf = self.prefix / "turnserver.conf"
        self.log = self.prefix / "turnserver.log"
        fields = {
            "LISTEN_IP": "127.0.0.1",
            "RELAY_IP": relay_ip,
            "PORT": str(self.port),
            "MIN_PORT": str(base),
            "MAX_PORT": str(base + 200),
            "SECRET": self.secret,
            "REALM": "yunlian.test",
            "PREFIX": str(self.prefix),
            "LOOPBACK": "allow-loopback-peers",  # the media server is on this machine
        }
        text = TEMPLATE.read_text()
        for k, v in fields.items():
            text = text.replace(f"@{k}@", v)
        self.conf.write_text(text)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def _answers(self) -> bool:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(bytes(request), ("127.0.0.1", self.port))
            try:
                data, _ = s.recvfrom(2048)
            except OSError:
                return False
        return stun.parse_message(data).transaction_id == request.transaction_id

    def start(self, timeout: float = 60.0) -> Coturn:
        if not Path(TURNSERVER).exists():
            raise RuntimeError("coturn is not installed (apt-get install coturn)")
        self.proc = subprocess.Popen(
            [TURNSERVER, "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited at start: {self.log_text()}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"turnserver did not answer within {timeout:g} s: {self.log_text()}")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        end_process(proc, timeout)

    def log_text(self) -> str:
        return log_tail(self.log, 2000)

    def __enter__(self) -> Coturn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
