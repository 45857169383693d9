"""Absolute URLs this server hands out (WHEP Location, QR codes, links): from the configured
`public_url`, or from the request only when its Host names this machine. Any other Host
header is the client's claim, and reflecting it would let one request plant a link to
another site (a poisoned cache, a QR code that sends buyers elsewhere)."""

from __future__ import annotations

import ipaddress
import logging
import os
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

log = logging.getLogger(__name__)
PUBLIC_URL_ENV = "YUNLIAN_PUBLIC_URL"


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(raw: str) -> str:
    """`raw` as a base URL without its trailing slash; ValueError unless it is http(s) with
    a host and nothing after the path."""
    parts = urlsplit(raw.strip())
    _ = parts.port  # a ValueError for a port that is not a number
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"public_url {raw!r} must be an http(s) URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"public_url {raw!r} must not carry credentials, a query or a fragment")
    return raw.strip().rstrip("/")


def configured_base(conn: HTTPConnection) -> str | None:
    """The server's configured public origin: settings.public_url, else YUNLIAN_PUBLIC_URL."""
    settings = getattr(conn.app.state, "settings", None)
    for source, raw in (
        ("public_url", getattr(settings, "public_url", None) or ""),
        (PUBLIC_URL_ENV, os.environ.get(PUBLIC_URL_ENV, "")),
    ):
        if not raw.strip():
            continue
        try:
            return check_base_url(raw)
        except ValueError:
            log.warning("%s=%r is not an http(s) base URL; ignoring it", source, raw)
    return None


def loopback_base(conn: HTTPConnection) -> str | None:
    """The request's own origin when its Host is this machine (a demo on localhost)."""
    scheme = conn.url.scheme if conn.url.scheme in ("http", "https", "ws", "wss") else "http"
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    try:
        host, port = conn.url.hostname or "", conn.url.port
    except ValueError:  # a Host header such as "localhost:abc"
        return None
    if not host or not is_loopback(host):
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port else "")


def public_base(conn: HTTPConnection) -> str | None:
    """The origin to put in front of a path, or None when only a relative link is safe."""
    return configured_base(conn) or loopback_base(conn)


def absolute(conn: HTTPConnection, path: str) -> str:
    """`path` made absolute from a trusted origin; the bare path (a relative reference,
    resolved by the client against the URL it called) when the Host is not trusted."""
    base = public_base(conn)
    return base + path if base else path
