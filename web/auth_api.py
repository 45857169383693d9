"""Logging in and out, who am I, and the audit log (操作日志) for admins."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from commerce.errors import BadCredentials, LoginThrottled
from web.security import SESSION_COOKIE, client_ip, principal

SESSION_MAX_AGE = 7 * 24 * 3600
MAX_AUDIT_ID = 2**63 - 1  # a BIGINT: past it the database driver overflows (a 500)
DEFAULT_NEXT = "/panel"
# What a browser's URL parser drops before it reads a URL: tab, CR and LF anywhere, and
# C0 controls and spaces at either end.
_DROPPED = re.compile(r"[\t\n\r]")
_ENDS = "".join(map(chr, range(0x21)))


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=256)
    next: str | None = Field(default=None, max_length=2048)  # where the login page goes next


def _same_origin_path(text: str) -> bool:
    if not text.startswith("/") or text[1:2] in ("/", "\\"):
        return False
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def safe_next(raw: str | None) -> str:
    """Where to send a browser after login: `raw` only when it stays on this site.

    Read as a browser would (tabs and newlines dropped, ends trimmed, "\\" as "/"), it must
    be a path: "/\\evil.example/", "/%09/evil.example/", "//evil", "https://evil" and
    "javascript:" all go to the panel. Percent-decoding it must not change that either.
    """
    if not raw:
        return DEFAULT_NEXT
    text = _DROPPED.sub("", raw).strip(_ENDS).replace("\\", "/")
    probe = text
    for _ in range(3):  # a proxy or a framework may decode once more
        if not _same_origin_path(probe.replace("\\", "/")):
            return DEFAULT_NEXT
        decoded = unquote(probe)
        if decoded == probe:
            break
        probe = _DROPPED.sub("", decoded).strip(_ENDS)
    else:
        return DEFAULT_NEXT
    return text


def build_router(store, pages) -> APIRouter:
    r = APIRouter()

    @r.get("/login", include_in_schema=False)
    async def login_page() -> HTMLResponse:
        return HTMLResponse(pages("login.html"))

    @r.get("/admin/audit", include_in_schema=False)
    async def audit_page() -> HTMLResponse:
        return HTMLResponse(pages("audit.html"))

    @r.post("/api/auth/login")
    async def login(body: Login, request: Request) -> JSONResponse:
        ip = client_ip(request)
        agent = request.headers.get("user-agent", "")[:200]
        try:
            user = await store.accounts.authenticate(body.username, body.password, ip)
        except (BadCredentials, LoginThrottled) as exc:
            # who tried which name from where: the trail of a password-guessing run
            reason = "throttled" if isinstance(exc, LoginThrottled) else "bad_credentials"
            await store.audit.record(
                "anonymous",
                "auth.login_failed",
                body.username,
                after={"reason": reason},
                ip=ip,
                user_agent=agent,
            )
            raise
        sid, csrf = await store.accounts.create_session(
            user, ip, request.headers.get("user-agent", "")[:200]
        )
        await store.audit.record(
            user.username,
            "auth.login",
            user.username,
            role=user.role,
            ip=ip,
            user_agent=agent,
        )
        res = JSONResponse(
            {
                "username": user.username,
                "role": user.role,
                "shop_id": user.shop_id,
                "csrf": csrf,
                "next": safe_next(body.next),
            }
        )
        res.set_cookie(
            SESSION_COOKIE,
            sid,
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return res

    @r.post("/api/auth/logout")
    async def logout(request: Request) -> JSONResponse:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            found = await store.accounts.session_user(sid[:200])
            if await store.accounts.end_session(sid[:200]) and found is not None:
                user, _ = found
                await store.audit.record(
                    user.username,
                    "auth.logout",
                    user.username,
                    role=user.role,
                    ip=client_ip(request),
                    user_agent=request.headers.get("user-agent", "")[:200],
                )
        res = JSONResponse({"ok": True})
        res.delete_cookie(SESSION_COOKIE, path="/")
        return res

    @r.get("/api/auth/me")
    async def me(request: Request) -> dict:
        who = principal(request)
        if not who.staff:
            return {"username": None, "role": None}
        return {
            "username": who.username,
            "role": who.role,
            "shop_id": who.shop_id,
            "csrf": who.csrf,
            "via": who.via,
        }

    @r.get("/api/audit")
    async def audit(
        actor: str | None = Query(default=None, max_length=64),
        action: str | None = Query(default=None, max_length=64),
        target: str | None = Query(default=None, max_length=200),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = Query(default=100, ge=1, le=500),
        before_id: int | None = Query(default=None, ge=1, le=MAX_AUDIT_ID),
    ) -> list[dict]:
        if since and until and since > until:
            raise HTTPException(422, "since 晚于 until")
        rows = await store.audit.list(
            actor=actor,
            action=action,
            target=target,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )
        return [asdict(row) for row in rows]

    return r
