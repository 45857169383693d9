"""Operators' corrections of how a comment was understood. A ticket keeps the comment's text;
a correction sets its sentiment and intent. The newest correction of a ticket wins; all are
kept (who corrected what, and when). `export` feeds `yunlian danmaku train`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from commerce.errors import InvalidTicket, TicketNotFound
from commerce.models import DanmakuLabel, Ticket
from commerce.tickets import valid_id

if TYPE_CHECKING:
    from commerce.store import Store

MAX_BY = 64
# the analyser's labels (danmaku.messages; commerce does not import the danmaku package)
SENTIMENTS = ("pos", "neu", "neg")
INTENT_PRIORITY = ("spam", "complaint", "question", "purchase", "praise", "greeting", "other")


class LabelService:
    """Store and export label corrections."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def correct(
        self, ticket_id: str, sentiment: str | None, intent: str | None, by: str = ""
    ) -> dict:
        """Record a correction; a field left None keeps the previous correction's value (or,
        for the first one, must be given). Raises TicketNotFound / InvalidTicket."""
        if sentiment is not None and sentiment not in SENTIMENTS:
            raise InvalidTicket(f"情感标签不正确（可选 {'/'.join(SENTIMENTS)}）")
        if intent is not None and intent not in INTENT_PRIORITY:
            raise InvalidTicket(f"意图标签不正确（可选 {'/'.join(INTENT_PRIORITY)}）")
        if sentiment is None and intent is None:
            raise InvalidTicket("至少要改一项：sentiment 或 intent")
        by = (by or "")[:MAX_BY]
        if not valid_id(ticket_id):
            raise TicketNotFound(f"没有这条弹幕：{str(ticket_id)[:32]}")
        async with self.store.db.write() as s:
            ticket = await s.scalar(select(Ticket).where(Ticket.id == ticket_id))
            if ticket is None:
                raise TicketNotFound(f"没有这条弹幕：{ticket_id}")
            last = await s.scalar(
                select(DanmakuLabel)
                .where(DanmakuLabel.ticket_id == ticket_id)
                .order_by(DanmakuLabel.seq.desc())
                .limit(1)
            )
            sentiment = sentiment or (last.sentiment if last else None)
            intent = intent or (last.intent if last else None)
            if sentiment is None or intent is None:
                raise InvalidTicket("第一次更正要同时给出 sentiment 和 intent")
            row = DanmakuLabel(
                ticket_id=ticket_id,
                text=ticket.text,
                sentiment=sentiment,
                intent=intent,
                by=by,
                created_at=self.store.clock(),
            )
            s.add(row)
            await s.flush()
            return _json(row)

    async def export(self) -> list[dict]:
        """The newest correction of each ticket, oldest ticket first."""
        async with self.store.db.read() as s:
            rows = (await s.scalars(select(DanmakuLabel).order_by(DanmakuLabel.seq))).all()
        newest: dict[str, DanmakuLabel] = {}
        for r in rows:
            newest.pop(r.ticket_id, None)
            newest[r.ticket_id] = r
        return [_json(r) for r in newest.values()]


def _json(r: DanmakuLabel) -> dict:
    return {
        "id": r.ticket_id,
        "text": r.text,
        "sentiment": r.sentiment,
        "intent": r.intent,
        "by": r.by,
        "at": r.created_at.isoformat(),
    }
