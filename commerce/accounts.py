"""Staff accounts: users and roles, argon2 passwords, throttled logins, browser sessions and
scoped API tokens. Secrets handed out (session ids, tokens) are kept only as SHA-256 digests.

Roles: admin (everything), operator (农户: one shop's rooms, products and orders), cs (客服)
and ops (运维: read-only health). Which route needs which role is the web layer's decision.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from commerce.errors import (
    BadCredentials,
    InvalidAccount,
    ScopeNotAllowed,
    UserExists,
    UserNotFound,
)
from commerce.login_throttle import LoginThrottler, ThrottlePolicy, ip_key, user_key
from commerce.models import ApiToken, User, UserSession
from commerce.passwords import (
    MAX_PASSWORD,
    ROLES,
    Hasher,
    argon2_parameters,
    check_password,
    clean_role,
    clean_shop_id,
    clean_username,
    random_password,
)

if TYPE_CHECKING:
    from commerce.store import Store

DEFAULT_SHOP = "default"
SESSION_IDLE = timedelta(hours=12)
SESSION_ABSOLUTE = timedelta(days=7)
SESSION_TOUCH = timedelta(minutes=1)  # write last_seen_at at most this often
MAX_SESSIONS_PER_USER = 20
MAX_TOKENS_PER_USER = 50
TOKEN_PREFIX = "ylt_"
_SECRET = re.compile(r"[A-Za-z0-9_\-]{20,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as plain data, never with the password hash. Times are naive UTC."""

    id: int
    username: str
    role: str
    shop_id: str | None
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TokenView:
    """An API token's public facts; the token itself is shown once, at creation."""

    id: int
    username: str
    prefix: str
    scope: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _view(u: User) -> UserView:
    return UserView(u.id, u.username, u.role, u.shop_id, u.disabled, u.created_at, u.updated_at)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def can_grant(role: str, scope: str) -> bool:
    """Scopes a user may put on a token: an admin any role, everyone else only their own."""
    return scope in ROLES and (role == "admin" or role == scope)


def _short(value: object, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    return _CONTROL.sub("", text)[:limit]


class AccountService:
    """Users, logins, sessions and tokens of one shop database (`store.accounts`)."""

    def __init__(self, store: Store, policy: ThrottlePolicy | None = None) -> None:
        self.store = store
        self.hasher = Hasher()
        self.throttle = LoginThrottler(store.db, policy)
        self._attempts = 0

    # -- users -------------------------------------------------------------------------------
    async def create_user(
        self, username: str, password: str, role: str, shop_id: str | None = None
    ) -> UserView:
        """Operators get the shop "default" when none is given (one shop today)."""
        username = clean_username(username)
        role = clean_role(role)
        shop_id = clean_shop_id(shop_id)
        if role == "operator" and shop_id is None:
            shop_id = DEFAULT_SHOP
        check_password(password, username)
        hashed = await self.hasher.hash(password)
        now = self.store.clock()
        row = User(
            username=username,
            password_hash=hashed,
            role=role,
            shop_id=shop_id,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.store.db.write() as s:
                if await s.scalar(select(User.id).where(User.username == username)):
                    raise UserExists(username)
                s.add(row)
                await s.flush()
                return _view(row)
        except IntegrityError:
            raise UserExists(username) from None

    async def get_user(self, username: str) -> UserView:
        name = clean_username(username)
        async with self.store.db.read() as s:
            row = await s.scalar(select(User).where(User.username == name))
        if row is None:
            raise UserNotFound(name)
        return _view(row)

    async def list_users(self) -> list[UserView]:
        async with self.store.db.read() as s:
            return [_view(u) for u in await s.scalars(select(User).order_by(User.id))]

    async def set_password(self, username: str, password: str) -> UserView:
        """Change a password and end the user's browser sessions (tokens stay valid)."""
        name = clean_username(username)
        check_password(password, name)
        hashed = await self.hasher.hash(password)
        return await self._update(name, password_hash=hashed)

    async def set_disabled(self, username: str, disabled: bool = True) -> UserView:
        """A disabled user cannot log in, and their sessions and tokens stop working."""
        return await self._update(clean_username(username), disabled=bool(disabled))

    async def _update(self, name: str, **values: object) -> UserView:
        async with self.store.db.write() as s:
            row = await s.scalar(select(User).where(User.username == name))
            if row is None:
                raise UserNotFound(name)
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = self.store.clock()
            await s.execute(delete(UserSession).where(UserSession.user_id == row.id))
            await s.flush()
            return _view(row)

    async def ensure_admin(self) -> str | None:
        """First start: with no admin account at all, create "admin" with a random password
        and return it (show it once; only its hash is kept). Otherwise None."""
        async with self.store.db.read() as s:
            admins = await s.scalar(select(func.count()).where(User.role == "admin"))
        if admins:
            return None
        password = random_password()
        try:
            await self.create_user("admin", password, "admin")
        except UserExists:  # another worker made it first, or "admin" has another role
            return None
        return password

    # -- login -------------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str, ip: str = "") -> UserView:
        """Check a login; raise BadCredentials or LoginThrottled(retry_after).

        Unknown users and disabled accounts cost one argon2 verification too, so timing does
        not tell which usernames exist.
        """
        now = self.store.clock()
        try:
            name: str | None = clean_username(username)
        except InvalidAccount:
            name = None
        keys = [ip_key(_short(ip, 64))] + ([user_key(name)] if name else [])
        self._attempts += 1
        if self._attempts % 500 == 0:
            await self.throttle.purge(now)
        await self.throttle.admit(keys, now)
        row = None
        ok, rehashed = False, None
        if name and isinstance(password, str) and len(password) <= MAX_PASSWORD:
            async with self.store.db.read() as s:
                row = await s.scalar(select(User).where(User.username == name))
            ok, rehashed = await self.hasher.verify(password, row.password_hash if row else None)
        if not ok or row is None or row.disabled:
            raise BadCredentials()
        await self.throttle.forgive(keys[1], keys[0])
        if rehashed:  # parameters changed since this hash was made
            async with self.store.db.write() as s:
                await s.execute(
                    update(User).where(User.id == row.id).values(password_hash=rehashed)
                )
        return _view(row)

    # -- sessions ----------------------------------------------------------------------------
    async def create_session(
        self, user: UserView, ip: str = "", user_agent: str = ""
    ) -> tuple[str, str]:
        """A new browser session: (session id for the cookie, CSRF token). Expires after 12 h
        idle or 7 days in all; a user keeps at most 20 sessions (the oldest end first)."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.store.clock()
        async with self.store.db.write() as s:
            row = await s.get(User, user.id)
            if row is None or row.disabled:
                raise UserNotFound(user.username)
            s.add(
                UserSession(
                    id_hash=digest(session_id),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + SESSION_ABSOLUTE,
                    ip=_short(ip, 64),
                    user_agent=_short(user_agent, 256),
                )
            )
            await s.flush()
            keep = (
                select(UserSession.id_hash)
                .where(UserSession.user_id == user.id)
                .order_by(UserSession.created_at.desc(), UserSession.id_hash)
                .limit(MAX_SESSIONS_PER_USER)
            )
            await s.execute(
                delete(UserSession).where(
                    UserSession.user_id == user.id,
                    UserSession.id_hash.not_in(keep.scalar_subquery()),
                )
            )
        return session_id, csrf

    async def session_user(self, session_id: str) -> tuple[UserView, str] | None:
        """(user, CSRF token) of a live session, else None (unknown, expired, disabled)."""
        if not isinstance(session_id, str) or not _SECRET.fullmatch(session_id):
            return None
        key = digest(session_id)
        now = self.store.clock()
        async with self.store.db.read() as s:
            found = (
                await s.execute(
                    select(UserSession, User)
                    .join(User, User.id == UserSession.user_id)
                    .where(UserSession.id_hash == key)
                )
            ).first()
        if found is None:
            return None
        sess, user = found
        if now >= sess.expires_at or now - sess.last_seen_at >= SESSION_IDLE or user.disabled:
            await self.end_session(session_id)
            return None
        if now - sess.last_seen_at >= SESSION_TOUCH:
            async with self.store.db.write() as s:
                await s.execute(
                    update(UserSession).where(UserSession.id_hash == key).values(last_seen_at=now)
                )
        return _view(user), sess.csrf_token

    async def end_session(self, session_id: str) -> bool:
        if not isinstance(session_id, str) or not _SECRET.fullmatch(session_id):
            return False
        async with self.store.db.write() as s:
            res = await s.execute(
                delete(UserSession).where(UserSession.id_hash == digest(session_id))
            )
            return bool(res.rowcount)

    async def purge_expired(self) -> int:
        """Delete ended sessions and stale throttle records; returns sessions deleted."""
        now = self.store.clock()
        async with self.store.db.write() as s:
            res = await s.execute(
                delete(UserSession).where(
                    (UserSession.expires_at <= now)
                    | (UserSession.last_seen_at <= now - SESSION_IDLE)
                )
            )
        await self.throttle.purge(now)
        return res.rowcount or 0

    # -- API tokens --------------------------------------------------------------------------
    async def create_token(self, user: UserView, scope: str, name: str = "") -> str:
        """A new API token with `scope` (a role the user may grant); returned once only."""
        scope = clean_role(scope, "令牌权限")
        if not isinstance(name, str) or len(name) > 64 or _CONTROL.search(name):
            raise InvalidAccount("令牌名称最多 64 个字符，且不能包含控制字符")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.store.clock()
        async with self.store.db.write() as s:
            row = await s.get(User, user.id)
            if row is None or row.disabled:
                raise UserNotFound(user.username)
            if not can_grant(row.role, scope):
                raise ScopeNotAllowed(f"{row.role} 用户不能创建 {scope} 权限的令牌")
            live = await s.scalar(
                select(func.count()).where(
                    ApiToken.user_id == row.id, ApiToken.revoked_at.is_(None)
                )
            )
            if live >= MAX_TOKENS_PER_USER:
                raise InvalidAccount(
                    f"每个用户最多 {MAX_TOKENS_PER_USER} 个有效令牌，请先吊销旧令牌"
                )
            s.add(
                ApiToken(
                    token_hash=digest(token),
                    prefix=token[:12],
                    user_id=row.id,
                    scope=scope,
                    name=name.strip(),
                    created_at=now,
                )
            )
        return token

    async def token_user(self, token: str) -> tuple[UserView, str] | None:
        """(user, scope) of a live token, else None. A token whose scope the user's current
        role may no longer grant stops working."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            return None
        if not _SECRET.fullmatch(token[len(TOKEN_PREFIX) :]):
            return None
        key = digest(token)
        now = self.store.clock()
        async with self.store.db.read() as s:
            found = (
                await s.execute(
                    select(ApiToken, User)
                    .join(User, User.id == ApiToken.user_id)
                    .where(ApiToken.token_hash == key)
                )
            ).first()
        if found is None:
            return None
        tok, user = found
        if tok.revoked_at is not None or user.disabled or not can_grant(user.role, tok.scope):
            return None
        if tok.last_used_at is None or now - tok.last_used_at >= SESSION_TOUCH:
            async with self.store.db.write() as s:
                await s.execute(
                    update(ApiToken).where(ApiToken.id == tok.id).values(last_used_at=now)
                )
        return _view(user), tok.scope

    async def list_tokens(self, username: str | None = None) -> list[TokenView]:
        q = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
        if username is not None:
            q = q.where(User.username == clean_username(username))
        async with self.store.db.read() as s:
            rows = (await s.execute(q.order_by(ApiToken.id))).all()
        return [
            TokenView(
                t.id, name, t.prefix, t.scope, t.name, t.created_at, t.last_used_at, t.revoked_at
            )
            for t, name in rows
        ]

    async def revoke_token(self, token: int | str) -> bool:
        """Revoke by id (from list_tokens) or by the token itself; False if none was live."""
        if isinstance(token, bool) or not isinstance(token, (int, str)):
            return False
        cond = (
            ApiToken.id == token if isinstance(token, int) else ApiToken.token_hash == digest(token)
        )
        async with self.store.db.write() as s:
            res = await s.execute(
                update(ApiToken)
                .where(cond, ApiToken.revoked_at.is_(None))
                .values(revoked_at=self.store.clock())
            )
            return bool(res.rowcount)


async def login_p95(store: Store | None = None, n: int = 40) -> dict:
    """Time `n` successful logins (argon2 verify + throttle bookkeeping) on `store`, or on a
    throwaway SQLite file; returns milliseconds and the argon2 parameters."""
    import tempfile
    from pathlib import Path

    from commerce.store import open_store

    tmp = None
    if store is None:
        tmp = tempfile.TemporaryDirectory(prefix="yl-login-")
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
        own = await open_store(url, seed_demo=False, secret_key="bench", background=False)
    else:
        own = store
    try:
        name = "bench-" + secrets.token_hex(4)
        password = random_password()
        await own.accounts.create_user(name, password, "ops")
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            await own.accounts.authenticate(name, password, "127.0.0.1")
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return {
            "n": n,
            "p50_ms": round(times[len(times) // 2], 1),
            "p95_ms": round(times[min(n - 1, math.ceil(n * 0.95) - 1)], 1),
            "max_ms": round(times[-1], 1),
            "argon2": argon2_parameters(),
        }
    finally:
        if tmp is not None:
            await own.close()
            tmp.cleanup()
