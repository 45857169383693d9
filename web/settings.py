"""How the server runs: every field has an offline default; a JSON file (`--config` or
`YUNLIAN_CONFIG`) names the script backends, CORS origins, ICE servers, caps and backups.
Backends are the server's to configure: a room picks one by name, never by URL."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from streamer.outputs import BadOutput, check_target
from streamer.turn import IceConfig
from web.urls import check_base_url

WRITER_BACKENDS = ("template", "openai", "transformers")
WRITER_KEYS = {"backend", "base_url", "api_key", "model", "timeout", "model_dir"}


class ConfigError(ValueError):
    """The configuration file is unreadable or names something it may not."""


MAX_WORKERS = 64


def ice_config(settings: Settings) -> IceConfig:
    """The ICE servers viewers are handed (TurnConfigError when they cannot work)."""
    return IceConfig(
        tuple(settings.ice_servers),
        tuple(settings.turn_urls),
        settings.turn_secret,
        settings.turn_ttl,
    )


def parse_workers(value: object) -> int:
    """A worker count: 0 (rooms in the web process), N, or "auto" (one per core)."""
    if value == "auto":
        return os.cpu_count() or 1
    try:
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"workers must be a number from 0 to {MAX_WORKERS} or 'auto'") from None
    if not 0 <= n <= MAX_WORKERS:
        raise ConfigError(f"workers must be a number from 0 to {MAX_WORKERS} or 'auto'")
    return n


@dataclass
class Settings:
    db_url: str | None = None  # None = SQLite file under ./var
    demo_room: bool = True
    demo_payments: bool | None = None  # the payment simulator; None: on with the demo room
    online_voice: bool = False  # try edge-tts first (falls back to eSpeak)
    stamp: bool = False
    # The public origin (https://shop.example.cn): absolute URLs handed out (WHEP Location,
    # QR codes) start with it. Unset: only a loopback Host is trusted (see web/urls.py).
    public_url: str | None = None
    listen_url: str | None = None  # where `yunlian serve` listens; printed once rooms are live
    douyin_secret: str | None = None  # verifies Douyin live-data pushes; None = refused
    douyin_rooms: dict[str, str] = field(default_factory=dict)  # our room id -> Douyin room id
    push_window: float = 300.0  # seconds a signed push stays acceptable (replay window)
    writers: dict[str, dict] = field(default_factory=dict)  # name -> scripts_gen config
    cors_origins: list[str] = field(default_factory=lambda: ["*"])  # for watching (WHEP)
    ice_servers: list[str] = field(default_factory=list)  # stun:/turn: URLs, sent in Link
    max_rooms: int = 8  # per machine, the demo room included
    workers: int = 0  # room worker processes; 0 = rooms run in the web process
    max_rooms_per_operator: int = 3
    max_viewers_per_room: int = 200
    body_limit: int = 1024 * 1024  # bytes, every route (routes may set lower limits)
    viewer_limits: bool = True  # False: the old unlimited events sockets (benchmark baseline)
    ws_per_room: int = 2000  # events sockets per room
    ws_per_address: int = 16  # events sockets per client address
    ws_rate: float = 5.0  # chat messages a second per events socket (burst 20)
    ws_max_bytes: int = 64 * 1024  # one WebSocket message; refused from its frame header
    backup_dir: str | None = None  # scheduled backups go here when set
    backup_every_hours: float = 24.0
    backup_keep: int = 7
    # the first admin's password goes to this 0600 file, never to stdout or a log; None: next
    # to the SQLite file, else var/
    admin_password_file: str | None = None
    # IPs or networks of proxies whose X-Forwarded-For is believed; nobody else's is
    trusted_proxies: list[str] = field(default_factory=list)
    # 省流模式: every room pushes to this nginx-rtmp application (deploy/nginx-rtmp.conf),
    # and viewers play `hls_url` ({room_id} filled in); either unset: no HLS
    hls_push_url: str | None = None
    hls_url: str | None = None
    media_dir: str = "var/media"  # product photos uploaded from the workbench
    # TURN (coturn, deploy/coturn.conf): viewers get these URLs with credentials made from
    # the secret shared with the TURN server, good for turn_ttl seconds (streamer/turn.py)
    turn_urls: list[str] = field(default_factory=list)
    turn_secret: str | None = None
    turn_ttl: int = 3600
    # Janus (deploy/janus/): rooms forward their packets to a streaming mountpoint created
    # through janus_url (HTTP API, with the plugin's admin key); browsers use
    # janus_public_url (default janus_url). RTP goes to janus_rtp_host.
    janus_url: str | None = None
    janus_public_url: str | None = None
    janus_admin_key: str | None = None
    janus_rtp_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if self.demo_payments is None:
            self.demo_payments = self.demo_room

    @classmethod
    def from_env(cls) -> Settings:
        s = cls(
            db_url=os.environ.get("YUNLIAN_DB") or None,
            demo_room=os.environ.get("YUNLIAN_DEMO_ROOM", "1") != "0",
            demo_payments={"1": True, "0": False}.get(os.environ.get("YUNLIAN_DEMO_PAYMENTS", "")),
            online_voice=os.environ.get("YUNLIAN_ONLINE_VOICE", "0") == "1",
            douyin_secret=os.environ.get("YUNLIAN_DOUYIN_SECRET") or None,
            turn_secret=os.environ.get("YUNLIAN_TURN_SECRET") or None,
            janus_admin_key=os.environ.get("YUNLIAN_JANUS_ADMIN_KEY") or None,
        )
        workers = os.environ.get("YUNLIAN_WORKERS", "").strip()
        if workers:
            s.workers = parse_workers(workers)
        path = os.environ.get("YUNLIAN_CONFIG")
        if path:
            s.load(path)
        return s

    def load(self, path: str | Path) -> None:
        """Read a JSON config file over the defaults."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("config must be a JSON object")
        writers = data.get("writers", {})
        if not isinstance(writers, dict):
            raise ConfigError("writers must be an object of name -> backend config")
        for name, conf in writers.items():
            if not isinstance(conf, dict) or conf.get("backend") not in WRITER_BACKENDS:
                raise ConfigError(f"writer {name!r}: backend must be one of {WRITER_BACKENDS}")
            unknown = set(conf) - WRITER_KEYS
            if unknown:
                raise ConfigError(f"writer {name!r}: unknown keys {sorted(unknown)}")
        self.writers = dict(writers)
        for key in (
            "cors_origins",
            "ice_servers",
            "max_rooms",
            "workers",
            "max_rooms_per_operator",
            "max_viewers_per_room",
            "body_limit",
            "viewer_limits",
            "ws_per_room",
            "ws_per_address",
            "ws_rate",
            "ws_max_bytes",
            "public_url",
            "douyin_secret",
            "douyin_rooms",
            "push_window",
            "backup_dir",
            "backup_every_hours",
            "backup_keep",
            "trusted_proxies",
            "admin_password_file",
            "hls_push_url",
            "hls_url",
            "turn_urls",
            "turn_secret",
            "turn_ttl",
            "janus_url",
            "janus_public_url",
            "janus_admin_key",
            "janus_rtp_host",
        ):
            if key in data:
                setattr(self, key, data[key])
        self.workers = parse_workers(self.workers)
        if not isinstance(self.douyin_rooms, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in self.douyin_rooms.items()
        ):
            raise ConfigError("douyin_rooms must map room ids to Douyin room ids (strings)")
        if isinstance(self.push_window, bool) or not isinstance(self.push_window, int | float):
            raise ConfigError("push_window must be a number of seconds")
        if not 10 <= self.push_window <= 3600:
            raise ConfigError("push_window must be between 10 and 3600 seconds")
        if self.admin_password_file is not None and not isinstance(self.admin_password_file, str):
            raise ConfigError("admin_password_file must be a path")
        if not isinstance(self.trusted_proxies, list):
            raise ConfigError("trusted_proxies must be a list of IP addresses or networks")
        for proxy in self.trusted_proxies:
            try:
                if not isinstance(proxy, str):
                    raise TypeError(proxy)
                ipaddress.ip_network(proxy, strict=False)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"trusted proxy {proxy!r} is not an IP address or network"
                ) from None
        if self.public_url is not None:
            try:
                self.public_url = check_base_url(str(self.public_url))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if self.hls_push_url is not None:
            try:
                check_target(self.hls_push_url, "room")
            except BadOutput as exc:
                raise ConfigError(f"hls_push_url: {exc}") from None
        if self.hls_url is not None and (
            not isinstance(self.hls_url, str) or "{room_id}" not in self.hls_url
        ):
            raise ConfigError("hls_url must be a URL with {room_id} in it")
        for url in self.ice_servers:
            if not isinstance(url, str) or not url.startswith(("stun:", "turn:", "turns:")):
                raise ConfigError(f"ice server {url!r} must be a stun:/turn: URL")
        try:
            ice_config(self)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        for key in ("janus_url", "janus_public_url"):
            value = getattr(self, key)
            if value is not None and (
                not isinstance(value, str) or not value.startswith(("http://", "https://"))
            ):
                raise ConfigError(f"{key} must be an http:// or https:// URL")

    def server_options(self) -> dict:
        """uvicorn settings the app relies on: a WebSocket message over `ws_max_bytes` is
        refused (close 1009) from its frame header, before its payload is read. Proxy headers
        are off: the app honours X-Forwarded-For only from `trusted_proxies`."""
        if not self.viewer_limits:  # uvicorn's defaults: the flood benchmark's baseline
            return {"ws_max_size": 16 * 1024 * 1024, "proxy_headers": False}
        # chat frames are tiny: compressing them costs more CPU than it saves
        return {
            "ws_max_size": self.ws_max_bytes,
            "ws_per_message_deflate": False,
            "proxy_headers": False,
        }

    def writer(self, name: str | None) -> dict | None:
        """The config of the named backend; None for the embedded template."""
        if name in (None, "", "template"):
            return None
        if name not in self.writers:
            names = ", ".join(["template", *self.writers])
            raise ConfigError(f"no script backend named {name!r}; configured: {names}")
        return dict(self.writers[name])
