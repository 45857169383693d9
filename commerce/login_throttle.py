"""Failed-login throttling per username and per IP, kept in the database so every worker
process shares it.

An attempt is counted as a failure *before* the password is checked and forgiven after a
success, so concurrent guesses cannot all slip in before the first failure is written. After
`max_failures` counted attempts within `window`, the key is locked for `base_lock`, doubling
with each lockout up to `max_lock`; a day without failures forgets past lockouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, or_
from sqlalchemy.exc import IntegrityError

from commerce.errors import LoginThrottled
from commerce.models import LoginThrottle

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from commerce.db import Database


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Limits of failed logins. The 11th wrong password in a row for one user is refused
    with the defaults; one address may fail `ip_max_failures` times (several users)."""

    max_failures: int = 10
    ip_max_failures: int = 30
    window: timedelta = timedelta(minutes=15)
    base_lock: timedelta = timedelta(minutes=1)
    max_lock: timedelta = timedelta(hours=1)
    memory: timedelta = timedelta(days=1)


def user_key(username: str) -> str:
    return "user:" + username


def ip_key(ip: str) -> str:
    return "ip:" + (ip.strip()[:64] or "unknown")


class LoginThrottler:
    """Counts, locks and forgives failed logins in the `login_throttle` table."""

    def __init__(self, db: Database, policy: ThrottlePolicy | None = None) -> None:
        self.db = db
        self.policy = policy or ThrottlePolicy()

    def limit(self, key: str) -> int:
        p = self.policy
        return p.ip_max_failures if key.startswith("ip:") else p.max_failures

    async def admit(self, keys: list[str], now: datetime) -> None:
        """Count one attempt against every key, or raise LoginThrottled (counting nothing)."""
        for attempt in range(3):
            try:
                retry = await self._admit_once(keys, now)
                break
            except IntegrityError:  # two first failures of one key at once (PostgreSQL)
                if attempt == 2:
                    raise
        if retry:
            raise LoginThrottled(retry)

    async def _admit_once(self, keys: list[str], now: datetime) -> int:
        p = self.policy
        async with self.db.write() as s:
            rows = [await self._row(s, k, now) for k in keys]
            retry = 0.0
            for row in rows:
                if row.locked_until is not None and row.locked_until <= now:
                    row.locked_until, row.failures, row.window_start = None, 0, now
                if now - row.last_failure_at > p.memory:
                    row.lockouts = 0
                if now - row.window_start > p.window:
                    row.failures, row.window_start = 0, now
                if row.locked_until is None and row.failures >= self.limit(row.key):
                    lock = min(p.base_lock * (2 ** min(row.lockouts, 20)), p.max_lock)
                    row.locked_until = now + lock
                    row.lockouts += 1
                if row.locked_until is not None:
                    retry = max(retry, (row.locked_until - now).total_seconds())
            if not retry:
                for row in rows:
                    row.failures += 1
                    row.last_failure_at = now
        return max(1, math.ceil(retry)) if retry else 0

    async def _row(self, s: AsyncSession, key: str, now: datetime) -> LoginThrottle:
        row = await s.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(
                key=key,
                failures=0,
                window_start=now,
                last_failure_at=now,
                locked_until=None,
                lockouts=0,
            )
            s.add(row)
            await s.flush()
        return row

    async def forgive(self, user: str | None, ip: str | None) -> None:
        """After a success: the user's record is cleared; the address gets one attempt back
        (not all: one valid account must not reset an address that guesses at others)."""
        async with self.db.write() as s:
            if user is not None:
                row = await s.get(LoginThrottle, user, with_for_update=True)
                if row is not None:
                    await s.delete(row)
            if ip is not None:
                row = await s.get(LoginThrottle, ip, with_for_update=True)
                if row is not None and row.failures > 0:
                    row.failures -= 1

    async def purge(self, now: datetime) -> int:
        """Delete records with no failure for a day and no lock in force."""
        old = now - self.policy.memory
        async with self.db.write() as s:
            res = await s.execute(
                delete(LoginThrottle).where(
                    LoginThrottle.last_failure_at < old,
                    or_(
                        LoginThrottle.locked_until.is_(None),
                        and_(LoginThrottle.locked_until < now),
                    ),
                )
            )
            return res.rowcount or 0
