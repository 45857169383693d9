"""A room's ears: every message from any source passes moderation, then analysis, then
reaches the Director, in one synchronous step that never blocks and never queues unbounded.

Sources (viewer chat, platform webhooks, replay, simulator) all end in `Listener.hear`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from danmaku.analysis import Analyzer
from danmaku.analysis.rules import STRONG_SPAM
from danmaku.dedup import Deduper
from danmaku.messages import Analysis, Comment, Enter, Follow, Gift, Like, RoomMessage
from danmaku.moderation import Moderator
from danmaku.sources import Source
from scripts_gen.reactions import speakable_name
from scripts_gen.understand import is_english, looks_like_question
from streamer.director import Director
from streamer.events import DanmakuShown, Notice, RoomEvent

log = logging.getLogger(__name__)

MAX_NICKNAME = 24
MAX_SOURCES = 4


@dataclass(frozen=True)
class Heard:
    """What became of one message: the contract of POST /api/rooms/{id}/danmaku."""

    id: str
    accepted: bool
    reason: str  # moderation reason: "ok", "rate_limited", "spam", …, or "duplicate_id"
    detail: str = ""
    sentiment: str = "neu"
    score: float = 0.0
    intent: str = "other"
    action: str = "noted"  # "answer" | "merged" | "ticket" | "react" | "noted" | "blocked"


@dataclass
class ListenerStats:
    messages: int = 0
    comments: int = 0
    shown: int = 0
    blocked: dict[str, int] = field(default_factory=dict)
    duplicate_ids: int = 0
    likes: int = 0
    source_errors: int = 0


def asked(text: str, analysis: Analysis, allowed: bool = True) -> Analysis:
    """A question by its form is a question: the sentiment model reads 甜不甜 as praise,
    退货运费谁出 as other, and plain English as spam (moderation, which passed it, decides
    what spam is; its handles and links never reach here as `allowed`)."""
    english = is_english(text)
    if analysis.intent == "spam" and allowed and english and not STRONG_SPAM.search(text.lower()):
        intent = "question" if looks_like_question(text) else "other"
        return replace(analysis, intent=intent, sentiment="neu", score=0.0)
    if analysis.intent in ("praise", "other") and looks_like_question(text):
        return replace(analysis, intent="question")
    return analysis


class Listener:
    """One per room: moderation, dedup, analysis and mood in front of the Director."""

    def __init__(
        self,
        room_id: str,
        director: Director,
        analyzer: Analyzer,
        publish: Callable[[RoomEvent], None],
        moderator: Moderator | None = None,
    ) -> None:
        self.room_id = room_id
        self.director = director
        self.analyzer = analyzer
        self.publish = publish
        self.moderator = moderator or Moderator()
        self.dedup = Deduper(max_size=50_000, ttl=600.0)
        self.stats = ListenerStats()
        self._sources: dict[str, asyncio.Task] = {}

    def nickname(self, raw: str) -> str:
        """Display names are moderated text too: cut, normalised, never a contact or an ad."""
        name = (raw or "").strip()[:MAX_NICKNAME]
        if not name or self.moderator.is_unsafe_name(name):
            return "游客"
        return speakable_name(name)

    def hear(self, msg: RoomMessage, as_question: bool = False) -> Heard:
        """`as_question`: the viewer used the question box, so anything that is not spam or a
        complaint is treated as a question."""
        self.stats.messages += 1
        if msg.source != "viewer" and not self.dedup.first_time(f"{msg.source}:{msg.dedup_id}"):
            self.stats.duplicate_ids += 1
            return Heard(msg.dedup_id, False, "duplicate_id", "重复的消息", action="blocked")
        if isinstance(msg, Comment):
            return self._comment(msg, as_question)
        name = self.nickname(msg.nickname)
        msg = replace(msg, nickname=name)
        if isinstance(msg, Like):
            self.stats.likes += msg.count
            return Heard(msg.dedup_id, True, "ok", action="noted")
        action = self.director.hear(msg)
        if isinstance(msg, Gift):
            text = f"送出 {msg.gift or '礼物'} ×{max(1, msg.count)}"
            self.publish(Notice(self.room_id, "gift", name, text))
        elif isinstance(msg, Follow):
            self.publish(Notice(self.room_id, "follow", name, "关注了主播"))
        elif isinstance(msg, Enter):
            self.publish(Notice(self.room_id, "enter", name, "来了"))
        return Heard(msg.dedup_id, True, "ok", action=action)

    def _comment(self, c: Comment, as_question: bool = False) -> Heard:
        self.stats.comments += 1
        verdict = self.moderator.check(c.user_id, c.text)
        if not verdict.allowed and verdict.reason not in ("spam", "banned_word"):
            self._count_block(verdict.reason)
            return Heard(c.dedup_id, False, verdict.reason, verdict.detail, action="blocked")
        analysis = asked(verdict.text, self.analyzer.analyze(verdict.text), verdict.allowed)
        if as_question and analysis.intent not in ("spam", "complaint", "question"):
            analysis = replace(analysis, intent="question")
        if not verdict.allowed or analysis.intent == "spam":
            reason = verdict.reason if not verdict.allowed else "spam"
            self._count_block(reason)
            # the poster sees their own line; nobody else does (no hint for spammers)
            return Heard(
                c.dedup_id,
                True,
                reason,
                "",
                analysis.sentiment,
                round(analysis.score, 3),
                "spam",
                "blocked",
            )
        c = replace(c, text=verdict.text, nickname=self.nickname(c.nickname))
        action = self.director.hear(c, analysis)
        self.stats.shown += 1
        self.publish(
            DanmakuShown(
                self.room_id,
                c.dedup_id,
                c.nickname,
                c.text,
                analysis.intent,
                analysis.sentiment,
                c.source,
                c.ts,
            )
        )
        return Heard(
            c.dedup_id,
            True,
            "ok",
            "",
            analysis.sentiment,
            round(analysis.score, 3),
            analysis.intent,
            action,
        )

    def _count_block(self, reason: str) -> None:
        self.stats.blocked[reason] = self.stats.blocked.get(reason, 0) + 1

    # --- sources -------------------------------------------------------------------
    def attach(self, name: str, source: Source) -> None:
        """Feed a source's messages into this room until it ends or is detached."""
        if name in self._sources:
            self.detach(name)
        if len(self._sources) >= MAX_SOURCES:
            raise ValueError(f"a room takes at most {MAX_SOURCES} sources")
        self._sources[name] = asyncio.ensure_future(self._pump(name, source))

    def detach(self, name: str) -> bool:
        task = self._sources.pop(name, None)
        if task is None:
            return False
        task.cancel()
        return True

    @property
    def sources(self) -> list[str]:
        return sorted(self._sources)

    async def _pump(self, name: str, source: Source) -> None:
        try:
            async for msg in source.messages():
                try:
                    self.hear(msg)
                except Exception:  # one bad message never ends the source
                    self.stats.source_errors += 1
                    log.exception("room %s: source %s message failed", self.room_id, name)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.source_errors += 1
            log.exception("room %s: source %s failed", self.room_id, name)
        finally:
            self._sources.pop(name, None)
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        for name in list(self._sources):
            self.detach(name)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Detach every source and wait (bounded) for its pump to end and close it."""
        tasks = list(self._sources.values())
        self.close()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for t in pending:
                log.error(
                    "room %s: source pump %r did not end within %.0f s", self.room_id, t, timeout
                )

    def info(self) -> dict:
        s = self.stats
        return {
            "messages": s.messages,
            "comments": s.comments,
            "shown": s.shown,
            "blocked": dict(s.blocked),
            "duplicate_ids": s.duplicate_ids,
            "likes": s.likes,
            "source_errors": s.source_errors,
            "sources": self.sources,
            "moderation": self.moderator.stats(),
            "dedup": self.dedup.stats(),
        }
