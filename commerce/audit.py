"""操作日志: an append-only record of every change, who made it, from where, before → after.

There is no update or delete here, and the database refuses both through triggers (see
migration 0007). `before` and `after` are bounded: a JSON value over 16 kB is replaced by a
marker holding its size and the start of its text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from commerce.errors import InvalidAudit
from commerce.models import AuditLog

if TYPE_CHECKING:
    from commerce.store import Store

MAX_JSON = 16 * 1024  # bytes of UTF-8 JSON per before/after value
PREVIEW = 2048  # characters of an oversized value kept in its marker
MAX_LIST = 500
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SYSTEM = "system"
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row as plain data; `at` is naive UTC."""

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    before: Any
    after: Any
    ip: str
    user_agent: str


def _entry(r: AuditLog) -> AuditEntry:
    return AuditEntry(
        r.id, r.at, r.actor, r.role, r.action, r.target, r.before, r.after, r.ip, r.user_agent
    )


def _line(value: object, limit: int) -> str:
    """A short single-line text field: controls removed, cut to `limit` characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return _CONTROL.sub("", text[: limit * 4])[:limit]


def bounded(value: Any) -> Any:
    """`value` as stored: JSON-safe (datetimes, Decimals as text) and at most MAX_JSON bytes."""
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    size = len(text.encode())
    if size <= MAX_JSON:
        return json.loads(text)
    return {"_truncated": True, "bytes": size, "preview": text[:PREVIEW]}


def check_action(action: object) -> str:
    if not isinstance(action, str) or len(action) > 64 or not _ACTION.fullmatch(action):
        raise InvalidAudit(f"操作名称不正确：{str(action)[:64]!r}（例如 product.update）")
    return action


def make_row(
    at: datetime,
    actor: str,
    action: str,
    target: str = "",
    *,
    role: str = "",
    before: Any = None,
    after: Any = None,
    ip: str = "",
    user_agent: str = "",
) -> AuditLog:
    """An audit row to add in the caller's own transaction (`session.add(row)`), so the
    change and its record commit together."""
    return AuditLog(
        at=at,
        actor=_line(actor, 64) or ANONYMOUS,
        role=_line(role, 16),
        action=check_action(action),
        target=_line(target, 128),
        before=bounded(before),
        after=bounded(after),
        ip=_line(ip, 64),
        user_agent=_line(user_agent, 256),
    )


class AuditService:
    """Write and read the audit log (`store.audit`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        *,
        role: str = "",
        before: Any = None,
        after: Any = None,
        ip: str = "",
        user_agent: str = "",
    ) -> AuditEntry:
        """Append one entry in its own transaction. `actor` is a username, "anonymous" or
        "system"; texts are cut to their column sizes rather than refused."""
        row = make_row(
            self.store.clock(),
            actor,
            action,
            target,
            role=role,
            before=before,
            after=after,
            ip=ip,
            user_agent=user_agent,
        )
        async with self.store.db.write() as s:
            s.add(row)
            await s.flush()
            return _entry(row)

    async def list(
        self,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        """Newest first. `action` "product.*" matches every product action; `before_id` is
        the id of the last entry of the previous page; `until` is exclusive."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise InvalidAudit(f"每页数量必须是 1 到 {MAX_LIST} 的整数")
        q = select(AuditLog)
        if actor is not None:
            q = q.where(AuditLog.actor == _filter(actor, "操作人", 64))
        if action is not None:
            if isinstance(action, str) and action.endswith(".*"):
                prefix = check_action(action[:-2]) + "."
                q = q.where(AuditLog.action >= prefix, AuditLog.action < prefix[:-1] + "/")
            else:
                q = q.where(AuditLog.action == check_action(action))
        if target is not None:
            q = q.where(AuditLog.target == _filter(target, "对象", 128))
        for value, what in ((since, "起始时间"), (until, "结束时间")):
            if value is not None and not isinstance(value, datetime):
                raise InvalidAudit(f"{what}必须是时间")
        if since is not None:
            q = q.where(AuditLog.at >= _naive(since))
        if until is not None:
            q = q.where(AuditLog.at < _naive(until))
        if before_id is not None:
            if isinstance(before_id, bool) or not isinstance(before_id, int) or before_id < 1:
                raise InvalidAudit("翻页参数 before_id 必须是正整数")
            q = q.where(AuditLog.id < before_id)
        async with self.store.db.read() as s:
            rows = (await s.scalars(q.order_by(AuditLog.id.desc()).limit(limit))).all()
        return [_entry(r) for r in rows]


def _filter(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidAudit(f"{what}筛选条件必须是最多 {limit} 个字符的文本")
    return value


def _naive(at: datetime) -> datetime:
    """Aware times are converted to naive UTC, the way the table keeps them."""
    if at.tzinfo is None:
        return at
    from datetime import UTC

    return at.astimezone(UTC).replace(tzinfo=None)
