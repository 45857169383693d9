"""Customer-service tickets: complaints and unanswered questions from live rooms, kept in the
shop database so a restart loses none, with a cap per viewer so a flood cannot fill it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError

from commerce.errors import InvalidTicket, TicketAlreadyClosed, TicketNotFound
from commerce.models import Ticket, TicketReply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from commerce.store import Store

KINDS = ("complaint", "question", "refund", "other")
STATUSES = ("open", "closed")
MAX_TEXT = 500
MAX_NOTE = 500
MAX_NAME = 64  # room_id, user_id, nickname, product_sku, closed_by
MAX_REASON = 32
MAX_OPEN_PER_USER = 20
MAX_LIST = 200
MAX_REPLY = 300  # a chat line: the viewer reads it in the room's chat
MAX_REPLIES_SHOWN = 50
SLA = timedelta(minutes=10)  # an open ticket should have its first reply within this
_ID = re.compile(r"cs-[0-9a-f]{12}")
_REASON = re.compile(r"[a-z0-9_]*")
# C0/C1 controls and NUL (PostgreSQL refuses NUL in text); tab and newlines allowed in prose.
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_PROSE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class TicketView:
    """One ticket as plain data. Times are naive UTC; closed_* and note are None while open."""

    id: str
    room_id: str
    user_id: str
    nickname: str
    kind: str
    text: str
    product_sku: str | None
    reason: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    note: str | None
    assigned_to: str | None = None
    first_reply_at: datetime | None = None
    due_at: datetime | None = None  # the SLA: first reply by then


@dataclass(frozen=True, slots=True)
class ReplyView:
    """One reply of customer service to a ticket."""

    ticket_id: str
    author: str
    text: str
    created_at: datetime
    delivered: bool


@dataclass(frozen=True, slots=True)
class TicketStats:
    """Counters of this process since start: tickets inserted, folded into an open one, closed."""

    opened: int
    merged: int
    closed: int


def _view(t: Ticket) -> TicketView:
    return TicketView(
        id=t.id,
        room_id=t.room_id,
        user_id=t.user_id,
        nickname=t.nickname,
        kind=t.kind,
        text=t.text,
        product_sku=t.product_sku,
        reason=t.reason,
        status=t.status,
        created_at=t.created_at,
        closed_at=t.closed_at,
        closed_by=t.closed_by,
        note=t.note,
        assigned_to=t.assigned_to,
        first_reply_at=t.first_reply_at,
        due_at=t.created_at + SLA if t.created_at is not None else None,
    )


def _reply_view(r: TicketReply) -> ReplyView:
    return ReplyView(r.ticket_id, r.author, r.text, r.created_at, bool(r.delivered))


def _clean(value: object, what: str, limit: int, *, required: bool, prose: bool = False) -> str:
    """Strip and check one text field; raise InvalidTicket with a reason a person can act on."""
    if not isinstance(value, str):
        raise InvalidTicket(f"{what}必须是文本")
    if len(value) > limit * 4:  # refuse huge input before scanning it
        raise InvalidTicket(f"{what}过长（最多 {limit} 字）")
    value = value.strip()
    if len(value) > limit:
        raise InvalidTicket(f"{what}过长（最多 {limit} 字）")
    if required and not value:
        raise InvalidTicket(f"{what}不能为空")
    if (_CONTROL_PROSE if prose else _CONTROL_LINE).search(value):
        raise InvalidTicket(f"{what}含有不允许的控制字符")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTicket(f"{what}含有无效的字符编码") from None
    return value


def valid_id(ticket_id: object) -> bool:
    return isinstance(ticket_id, str) and _ID.fullmatch(ticket_id) is not None


def new_id() -> str:
    return "cs-" + secrets.token_hex(6)


class TicketService:
    """Open, list, read and close customer-service tickets.

    A viewer holds at most `max_open_per_user` open tickets per room: past that, `open`
    returns their newest open ticket instead of inserting, and counts a merge.
    """

    def __init__(self, store: Store, *, max_open_per_user: int = MAX_OPEN_PER_USER) -> None:
        self.store = store
        self.max_open_per_user = max_open_per_user
        self._opened = self._merged = self._closed = 0

    def stats(self) -> TicketStats:
        return TicketStats(self._opened, self._merged, self._closed)

    async def open(
        self,
        room_id: str,
        user_id: str,
        nickname: str,
        kind: str,
        text: str,
        product_sku: str | None = None,
        reason: str = "",
    ) -> TicketView:
        """Record a ticket (status "open"), or return the viewer's newest open one at the cap."""
        if kind not in KINDS:
            raise InvalidTicket(f"工单类型不正确：{str(kind)[:32]!r}（可选 {'/'.join(KINDS)}）")
        room_id = _clean(room_id, "直播间", MAX_NAME, required=True)
        user_id = _clean(user_id, "用户", MAX_NAME, required=True)
        nickname = _clean(nickname, "昵称", MAX_NAME, required=False)
        body = _clean(text, "工单内容", MAX_TEXT, required=True, prose=True)
        sku = _clean(product_sku, "商品编码", MAX_NAME, required=False) if product_sku else None
        reason = _clean(reason, "原因", MAX_REASON, required=False)
        if not _REASON.fullmatch(reason):
            raise InvalidTicket("原因只能包含小写字母、数字和下划线，例如 quality、low_confidence")
        fields = dict(
            room_id=room_id,
            user_id=user_id,
            nickname=nickname,
            kind=kind,
            text=body,
            product_sku=sku or None,
            reason=reason,
        )
        for attempt in range(3):
            try:
                view, merged = await self._open_once(fields)
                break
            except IntegrityError:
                if attempt == 2:  # three random 48-bit ids taken: not a collision any more
                    raise
        if merged:
            self._merged += 1
        else:
            self._opened += 1
        return view

    async def _open_once(self, fields: dict) -> tuple[TicketView, bool]:
        async with self.store.db.write() as s:
            if not self.store.db.sqlite:
                # Serialise one viewer's opens so concurrent requests cannot pass the cap
                # together (SQLite's write lock already does this).
                key = f"cs-ticket:{fields['room_id']}:{fields['user_id']}"
                await s.execute(
                    sql("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
                )
            mine = (
                Ticket.room_id == fields["room_id"],
                Ticket.user_id == fields["user_id"],
                Ticket.status == "open",
            )
            count = await s.scalar(select(func.count()).select_from(Ticket).where(*mine))
            if count >= self.max_open_per_user:
                newest = await s.scalar(
                    select(Ticket)
                    .where(*mine)
                    .order_by(Ticket.created_at.desc(), Ticket.seq.desc())
                    .limit(1)
                )
                return _view(newest), True
            row = Ticket(id=new_id(), status="open", created_at=self.store.clock(), **fields)
            s.add(row)
            await s.flush()
            return _view(row), False

    async def get(self, ticket_id: str) -> TicketView:
        if not valid_id(ticket_id):
            raise TicketNotFound(str(ticket_id))
        async with self.store.db.read() as s:
            row = await s.scalar(select(Ticket).where(Ticket.id == ticket_id))
        if row is None:
            raise TicketNotFound(ticket_id)
        return _view(row)

    async def list(
        self,
        status: str | None = "open",
        room_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
        assigned_to: str | None = None,
    ) -> list[TicketView]:
        """Newest first. `status` None lists every ticket; `before` is the id of the last
        ticket of the previous page, and the page holds only tickets older than it;
        `assigned_to` keeps one person's tickets."""
        if status is not None and status not in STATUSES:
            raise InvalidTicket(f"工单状态不正确：{str(status)[:32]!r}（可选 open/closed）")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise InvalidTicket(f"每页数量必须是 1 到 {MAX_LIST} 的整数")
        q = select(Ticket)
        if status is not None:
            q = q.where(Ticket.status == status)
        if room_id is not None:
            q = q.where(Ticket.room_id == _clean(room_id, "直播间", MAX_NAME, required=True))
        if assigned_to is not None:
            q = q.where(
                Ticket.assigned_to == _clean(assigned_to, "处理人", MAX_NAME, required=True)
            )
        async with self.store.db.read() as s:
            if before is not None:
                q = q.where(await _older_than(s, before))
            q = q.order_by(Ticket.created_at.desc(), Ticket.seq.desc()).limit(limit)
            rows = (await s.scalars(q)).all()
        return [_view(t) for t in rows]

    async def count_open(self, room_id: str | None = None) -> int:
        """Open tickets, in one room or in all of them."""
        q = select(func.count()).select_from(Ticket).where(Ticket.status == "open")
        if room_id is not None:
            q = q.where(Ticket.room_id == room_id)
        async with self.store.db.read() as s:
            return await s.scalar(q)

    async def close(self, ticket_id: str, note: str = "", by: str = "") -> TicketView:
        """Close an open ticket with a resolution note; closing twice is TicketAlreadyClosed."""
        if not valid_id(ticket_id):
            raise TicketNotFound(str(ticket_id))
        note = _clean(note, "处理说明", MAX_NOTE, required=False, prose=True)
        by = _clean(by, "处理人", MAX_NAME, required=False)
        now = self.store.clock()
        async with self.store.db.write() as s:
            # One conditional UPDATE: of two concurrent closes exactly one matches.
            done = await s.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == "open")
                .values(status="closed", closed_at=now, closed_by=by, note=note)
            )
            if done.rowcount == 0:
                exists = await s.scalar(select(Ticket.seq).where(Ticket.id == ticket_id))
                if exists is None:
                    raise TicketNotFound(ticket_id)
                raise TicketAlreadyClosed(ticket_id)
            row = await s.scalar(
                select(Ticket)
                .where(Ticket.id == ticket_id)
                .execution_options(populate_existing=True)
            )
            view = _view(row)
        self._closed += 1
        return view

    # --- the desk: assign and reply ---------------------------------------------------
    async def assign(self, ticket_id: str, assignee: str) -> TicketView:
        """Give an open ticket to a staff member (the caller checks who may take tickets);
        an empty `assignee` puts it back in the queue."""
        if not valid_id(ticket_id):
            raise TicketNotFound(str(ticket_id))
        assignee = _clean(assignee, "处理人", MAX_NAME, required=False)
        async with self.store.db.write() as s:
            row = await s.scalar(select(Ticket).where(Ticket.id == ticket_id))
            if row is None:
                raise TicketNotFound(ticket_id)
            if row.status != "open":
                raise TicketAlreadyClosed(ticket_id)
            row.assigned_to = assignee or None
            row.assigned_at = self.store.clock() if assignee else None
            await s.flush()
            return _view(row)

    async def reply(
        self,
        ticket_id: str,
        text: str,
        author: str,
        deliver: Callable[[TicketView, str], Awaitable[bool]] | None = None,
    ) -> tuple[TicketView, ReplyView]:
        """Record a reply to an open ticket, then `deliver` it (to the viewer's chat; True
        when it reached them). The first reply stops the SLA clock; an unassigned ticket
        becomes the replier's."""
        if not valid_id(ticket_id):
            raise TicketNotFound(str(ticket_id))
        body = _clean(text, "回复内容", MAX_REPLY, required=True, prose=True)
        author = _clean(author, "回复人", MAX_NAME, required=True)
        now = self.store.clock()
        async with self.store.db.write() as s:
            row = await s.scalar(select(Ticket).where(Ticket.id == ticket_id))
            if row is None:
                raise TicketNotFound(ticket_id)
            if row.status != "open":
                raise TicketAlreadyClosed(ticket_id)
            if row.first_reply_at is None:
                row.first_reply_at = now
            if not row.assigned_to:
                row.assigned_to, row.assigned_at = author, now
            reply = TicketReply(
                ticket_id=ticket_id, author=author, text=body, created_at=now, delivered=False
            )
            s.add(reply)
            await s.flush()
            view, seq = _view(row), reply.seq
        delivered = False
        if deliver is not None:
            delivered = bool(await deliver(view, body))
        if delivered:
            async with self.store.db.write() as s:
                await s.execute(
                    update(TicketReply).where(TicketReply.seq == seq).values(delivered=True)
                )
        return view, ReplyView(ticket_id, author, body, now, delivered)

    async def replies(self, ticket_id: str) -> list[ReplyView]:
        """A ticket's replies, oldest first (the last MAX_REPLIES_SHOWN)."""
        if not valid_id(ticket_id):
            raise TicketNotFound(str(ticket_id))
        async with self.store.db.read() as s:
            rows = (
                await s.scalars(
                    select(TicketReply)
                    .where(TicketReply.ticket_id == ticket_id)
                    .order_by(TicketReply.seq.desc())
                    .limit(MAX_REPLIES_SHOWN)
                )
            ).all()
        return [_reply_view(r) for r in reversed(rows)]


async def _older_than(s: AsyncSession, before: str):
    """The condition "ordered after ticket `before`" in (created_at desc, seq desc) order."""
    if not valid_id(before):
        raise InvalidTicket("翻页参数 before 不正确")
    anchor = (
        await s.execute(select(Ticket.created_at, Ticket.seq).where(Ticket.id == before))
    ).first()
    if anchor is None:
        raise InvalidTicket("翻页参数 before 指向的工单不存在")
    at, seq = anchor
    return or_(Ticket.created_at < at, and_(Ticket.created_at == at, Ticket.seq < seq))
