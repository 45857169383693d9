"""How the server runs, in one validated model (pydantic-settings).

Every field has an offline default. `Settings.from_env()` reads, highest first:
1. environment variables `YUNLIAN_<FIELD>` (`YUNLIAN_DB` for `db_url`; lists and objects as
   JSON), an empty value counting as unset;
2. the JSON file named by `YUNLIAN_CONFIG` (keys are the field names);
3. the defaults below.

`Settings(...)` with keyword arguments reads neither (tests, benchmarks), and `load(FILE)`
reads a file over the current values (`yunlian serve --config FILE`). Every value is
validated; an error names the key, where it came from and why (`ConfigError`).
`yunlian config check FILE` validates a file without serving. Backends are the server's to
configure: a room picks one by name, never by URL."""

from __future__ import annotations

import contextvars
import difflib
import ipaddress
import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from streamer.outputs import BadOutput, check_target
from web.alert_rules import AlertRules
from web.urls import check_base_url

WRITER_BACKENDS = ("template", "openai", "transformers")
WRITER_KEYS = {"backend", "base_url", "api_key", "model", "timeout", "model_dir"}
ENV_PREFIX = "YUNLIAN_"
ENV_NAMES = {"db_url": "YUNLIAN_DB"}  # the few env vars not named YUNLIAN_<FIELD>
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """The configuration file is unreadable or names something it may not."""


MAX_WORKERS = 64


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


# while `from_env` builds: the config file's values (None: keyword arguments only)
_FILE_LAYER: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "yunlian_settings_file", default=None
)


class _FileSource(PydanticBaseSettingsSource):
    """The config file's values, below the environment."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        data = _FILE_LAYER.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_LAYER.get() or {})


class SettingsFields(BaseModel):
    """Every setting, its default and its checks. A plain model, so that a config file can be
    validated strictly, as written (pydantic-settings' own `__init__` takes no strict mode)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    db_url: str | None = Field(default=None, validation_alias="YUNLIAN_DB")  # None: SQLite
    demo_room: bool = True
    demo_payments: bool | None = None  # the payment simulator; None: on with the demo room
    online_voice: bool = False  # try edge-tts first (falls back to eSpeak)
    stamp: bool = False
    # The public origin (https://shop.example.cn): absolute URLs handed out (WHEP Location,
    # QR codes) start with it. Unset: only a loopback Host is trusted (see web/urls.py).
    public_url: str | None = None
    listen_url: str | None = None  # where `yunlian serve` listens; printed once rooms are live
    douyin_secret: str | None = None  # verifies Douyin live-data pushes; None = refused
    douyin_rooms: dict[str, str] = Field(default_factory=dict)  # our room id -> Douyin room id
    push_window: float = 300.0  # seconds a signed push stays acceptable (replay window)
    writers: dict[str, dict] = Field(default_factory=dict)  # name -> scripts_gen config
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])  # for watching (WHEP)
    ice_servers: list[str] = Field(default_factory=list)  # stun:/turn: URLs, sent in Link
    max_rooms: int = Field(default=8, ge=0)  # per machine, the demo room included
    workers: int = 0  # room worker processes; 0 = rooms run in the web process
    max_rooms_per_operator: int = Field(default=3, ge=0)
    max_viewers_per_room: int = Field(default=200, ge=0)
    body_limit: int = Field(default=1024 * 1024, ge=1)  # bytes, every route (routes may set lower)
    viewer_limits: bool = True  # False: the old unlimited events sockets (benchmark baseline)
    ws_per_room: int = Field(default=2000, ge=0)  # events sockets per room
    ws_per_address: int = Field(default=16, ge=0)  # events sockets per client address
    ws_rate: float = Field(default=5.0, ge=0)  # chat messages a second per socket (burst 20)
    ws_max_bytes: int = Field(default=64 * 1024, ge=1)  # one WebSocket message; from its header
    backup_dir: str | None = None  # scheduled backups go here when set
    backup_every_hours: float = Field(default=24.0, gt=0)
    backup_keep: int = Field(default=7, ge=1)
    # the first admin's password goes to this 0600 file, never to stdout or a log; None: next
    # to the SQLite file, else var/
    admin_password_file: str | None = None
    # IPs or networks of proxies whose X-Forwarded-For is believed; nobody else's is
    trusted_proxies: list[str] = Field(default_factory=list)
    # 省流模式: every room pushes to this nginx-rtmp application (deploy/nginx-rtmp.conf),
    # and viewers play `hls_url` ({room_id} filled in); either unset: no HLS
    hls_push_url: str | None = None
    hls_url: str | None = None
    media_dir: str = "var/media"  # product photos uploaded from the workbench
    schedule_tz: str = "Asia/Shanghai"  # the 7×24 schedule's local time (IANA zone name)
    # TURN (coturn, deploy/coturn.conf): viewers get these URLs with credentials made from
    # the secret shared with the TURN server, good for turn_ttl seconds (streamer/turn.py)
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str | None = None
    turn_ttl: int = 3600
    # Janus (deploy/janus/): rooms forward their packets to a streaming mountpoint created
    # through janus_url (HTTP API, with the plugin's admin key); browsers use
    # janus_public_url (default janus_url). RTP goes to janus_rtp_host.
    janus_url: str | None = None
    janus_public_url: str | None = None
    janus_admin_key: str | None = None
    janus_rtp_host: str = "127.0.0.1"
    # several nodes: rooms placed by lease rows in PostgreSQL, calls and events over Redis;
    # None: one machine, the bus in-process (the default, and what `make run` does)
    redis_url: str | None = None  # env YUNLIAN_REDIS_URL, or `yunlian serve --redis URL`
    node_id: str | None = None  # this node's name in the leases (default: host name + port)
    lease_ttl: float = Field(default=10.0, ge=2, le=300)  # seconds a room lease lasts unrenewed
    node_secret: str | None = None  # signs the messages between nodes (shared, >= 16 chars)
    log_json: bool = False  # one JSON object a log line, with room and request ids (web/logs.py)
    log_level: str = "INFO"
    log_requests: bool = True  # with log_json: one access line a request
    # the ops desk (web/ops_watch.py) and its alerts (web/alert_rules.py has the defaults)
    ops_interval: float = Field(default=1.0, ge=0.1, le=60)  # seconds between samples
    alert_rules: AlertRules = Field(default_factory=AlertRules)
    alert_webhook: str | None = None  # a WeCom or DingTalk group robot's URL
    alert_webhook_kind: Literal["wecom", "dingtalk"] = "wecom"
    alert_retries: int = Field(default=5, ge=0, le=20)  # after the first attempt
    alert_retry_base_s: float = Field(default=1.0, gt=0, le=60)  # doubled each retry
    # seconds a 场次复盘 row covers (default: web/sessions_api.py's BUCKET_S, 60)
    session_bucket_s: int | None = Field(default=None, ge=1, le=3600)

    # --- checks ----------------------------------------------------------------------------
    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, v: object) -> int:
        return parse_workers(v)

    @field_validator("writers", mode="before")
    @classmethod
    def _writers(cls, v: object) -> object:
        if not isinstance(v, dict):
            raise ValueError("writers must be an object of name -> backend config")
        for name, conf in v.items():
            if not isinstance(conf, dict) or conf.get("backend") not in WRITER_BACKENDS:
                raise ValueError(f"writer {name!r}: backend must be one of {WRITER_BACKENDS}")
            unknown = set(conf) - WRITER_KEYS
            if unknown:
                raise ValueError(f"writer {name!r}: unknown keys {sorted(unknown)}")
        return v

    @field_validator("douyin_rooms", mode="before")
    @classmethod
    def _douyin_rooms(cls, v: object) -> object:
        if not isinstance(v, dict) or not all(
            isinstance(k, str) and isinstance(x, str) and x for k, x in v.items()
        ):
            raise ValueError("douyin_rooms must map room ids to Douyin room ids (strings)")
        return v

    @field_validator("push_window", mode="before")
    @classmethod
    def _push_window(cls, v: object, info: ValidationInfo) -> object:
        if isinstance(v, str) and not (info.context or {}).get("file"):  # the environment
            try:
                v = float(v)
            except ValueError:
                raise ValueError("push_window must be a number of seconds") from None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError("push_window must be a number of seconds")
        if not 10 <= v <= 3600:
            raise ValueError("push_window must be between 10 and 3600 seconds")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        for proxy in v:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {proxy!r} is not an IP address or network"
                ) from None
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        return None if v is None else check_base_url(v)

    @field_validator("hls_push_url")
    @classmethod
    def _hls_push(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                check_target(v, "room")
            except BadOutput as exc:
                raise ValueError(f"hls_push_url: {exc}") from None
        return v

    @field_validator("hls_url")
    @classmethod
    def _hls_url(cls, v: str | None) -> str | None:
        if v is not None and "{room_id}" not in v:
            raise ValueError("hls_url must be a URL with {room_id} in it")
        return v

    @field_validator("ice_servers")
    @classmethod
    def _ice(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("stun:", "turn:", "turns:")):
                raise ValueError(f"ice server {url!r} must be a stun:/turn: URL")
        return v

    @field_validator("alert_webhook")
    @classmethod
    def _webhook(cls, v: str | None) -> str | None:
        if v is not None and (
            not v.startswith(("http://", "https://")) or not urlsplit(v).hostname
        ):
            raise ValueError("alert_webhook must be an http:// or https:// URL")
        return v

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        if v.upper() not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        return v.upper()

    @model_validator(mode="after")
    def _demo_payments(self) -> SettingsFields:
        if self.demo_payments is None:
            self.demo_payments = self.demo_room
        return self

    @field_validator("janus_url", "janus_public_url")
    @classmethod
    def _janus_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{info.field_name} must be an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _turn(self) -> SettingsFields:
        self.ice()  # TurnConfigError is a ValueError: reported naming the key
        return self

    def ice(self):
        """The ICE servers viewers are handed (raises TurnConfigError when unusable)."""
        from streamer.turn import IceConfig

        return IceConfig(
            tuple(self.ice_servers), tuple(self.turn_urls), self.turn_secret, self.turn_ttl
        )


class Settings(SettingsFields, BaseSettings):
    """The settings the server runs with (see the module's doc for the sources' order)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="forbid",
        populate_by_name=True,
        case_sensitive=False,
    )

    # --- sources ---------------------------------------------------------------------------
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _FILE_LAYER.get() is None:  # Settings(...): the arguments and the defaults only
            return (init_settings,)
        return (init_settings, env_settings, _FileSource(settings_cls))

    # --- building ----------------------------------------------------------------------------
    @classmethod
    def from_env(cls) -> Settings:
        """Environment over the config file (`YUNLIAN_CONFIG`) over the defaults."""
        path = os.environ.get("YUNLIAN_CONFIG") or None
        data = read_config(path) if path else {}
        if data:
            check_config(data, path)  # the file alone, strictly (JSON types as written)
        token = _FILE_LAYER.set(data)
        try:
            return cls()
        except ValidationError as exc:
            raise config_error(exc, path, set(data)) from None
        finally:
            _FILE_LAYER.reset(token)

    def load(self, path: str | Path) -> None:
        """Read a JSON config file over the current values."""
        data = read_config(path)
        check_config(data, path)
        merged = {**self.model_dump(), **data}
        try:
            fresh = SettingsFields.model_validate(merged, strict=True, context={"file": True})
        except ValidationError as exc:
            raise config_error(exc, path, set(data), file_only=True) from None
        for name in SettingsFields.model_fields:
            setattr(self, name, getattr(fresh, name))

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


def ice_config(settings: SettingsFields):
    """The ICE servers viewers are handed (raises TurnConfigError when unusable)."""
    return settings.ice()


def env_name(field: str) -> str:
    return ENV_NAMES.get(field, ENV_PREFIX + field.upper())


def read_config(path: str | Path) -> dict:
    """A config file's JSON object, or a ConfigError saying why not."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object")
    return data


def check_config(data: dict, path: str | Path | None = None) -> SettingsFields:
    """Validate a config file's values alone (as written: a string is not a number)."""
    try:
        return SettingsFields.model_validate(data, strict=True, context={"file": True})
    except ValidationError as exc:
        raise config_error(exc, path, set(data), file_only=True) from None


def config_error(
    exc: ValidationError, path, file_keys: set[str], file_only: bool = False
) -> ConfigError:
    """One message naming each bad key, where it came from and why."""
    fields = set(Settings.model_fields)
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        key = loc[0] if loc else "(config)"
        if key == "YUNLIAN_DB":
            key = "db_url"
        if err["type"] == "extra_forbidden":
            near = difflib.get_close_matches(key, fields, n=1) if len(loc) == 1 else []
            hint = f"; did you mean {near[0]!r}?" if near else ""
            parts.append(f"{'.'.join(loc)!r} in config {path}: unknown setting{hint}")
            continue
        if key in fields and os.environ.get(env_name(key)) and not file_only:
            where = f"from env {env_name(key)}"  # the environment wins over the file
        else:
            where = f"in config {path}" if path and key in file_keys else ""
        msg = err["msg"].removeprefix("Value error, ")
        name = ".".join([key, *loc[1:]])
        parts.append(f"{name!r}{' ' + where if where else ''}: {msg}")
    return ConfigError("; ".join(parts))
