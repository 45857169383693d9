"""ICE servers for viewers, with TURN credentials that expire (the TURN REST API scheme that
coturn checks with `use-auth-secret` / `static-auth-secret`).

A credential is made from a secret shared with the TURN server, never stored: the username
is `<unix expiry>:<room id>` and the password is base64(HMAC-SHA1(secret, username)). coturn
recomputes it and refuses it after the expiry, so a leaked one is good for at most `ttl`
seconds. `ice_servers()` gives the list the page hands to `RTCPeerConnection`, and
`link_header()` the same in WHEP's `Link` form (RFC 9725, section 4.6).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

MIN_TTL = 60
MAX_TTL = 24 * 3600
DEFAULT_TTL = 3600


class TurnConfigError(ValueError):
    """A TURN/STUN setting that cannot work; the message says which."""


def turn_password(secret: str, username: str) -> str:
    """The password coturn expects for `username` under `static-auth-secret`."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_url(url: object, schemes: tuple[str, ...], what: str) -> None:
    if not isinstance(url, str) or not url.startswith(schemes):
        raise TurnConfigError(f"{what} {url!r} must be a {'/'.join(schemes)} URL")
    if len(url) > 256 or any(c in url for c in '<>" ,;') or not url.isprintable():
        raise TurnConfigError(f"{what} {url!r} has characters a URL may not have")


@dataclass(frozen=True)
class IceConfig:
    """`urls` (STUN, or TURN that needs no password) handed out as they are; `turn_urls`
    with fresh time-limited credentials made from `secret`."""

    urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    secret: str | None = None
    ttl: int = DEFAULT_TTL
    clock: object = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        for url in self.urls:
            _check_url(url, ("stun:", "stuns:", "turn:", "turns:"), "ICE server")
        for url in self.turn_urls:
            _check_url(url, ("turn:", "turns:"), "TURN server")
        if self.turn_urls and not self.secret:
            raise TurnConfigError("TURN servers need the secret shared with them (turn_secret)")
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int):
            raise TurnConfigError("TURN credential lifetime must be whole seconds")
        if not MIN_TTL <= self.ttl <= MAX_TTL:
            raise TurnConfigError(f"TURN credential lifetime must be {MIN_TTL}-{MAX_TTL} s")

    @property
    def enabled(self) -> bool:
        return bool(self.urls or self.turn_urls)

    def credentials(self, room_id: str) -> tuple[str, str]:
        """(username, password) for one viewer of `room_id`, valid for `ttl` seconds."""
        expiry = int(self.clock()) + self.ttl
        username = f"{expiry}:{room_id}"
        return username, turn_password(self.secret or "", username)

    def ice_servers(self, room_id: str) -> list[dict]:
        """RTCIceServer dicts, as the browser's RTCPeerConnection takes them."""
        out: list[dict] = [{"urls": list(self.urls)}] if self.urls else []
        if self.turn_urls:
            username, password = self.credentials(room_id)
            out.append({"urls": list(self.turn_urls), "username": username, "credential": password})
        return out

    def link_header(self, room_id: str) -> str:
        """The same servers as a WHEP `Link` header value (one link per URL)."""
        links = [f'<{url}>; rel="ice-server"' for url in self.urls]
        if self.turn_urls:
            username, password = self.credentials(room_id)
            extra = (
                f"; username={_quote(username)}; credential={_quote(password)}"
                '; credential-type="password"'
            )
            links += [f'<{url}>; rel="ice-server"{extra}' for url in self.turn_urls]
        return ", ".join(links)
