"""The Director: one per room. It decides what the host says next and keeps the speech
timeline a few seconds ahead of the media clock.

Priority: answer > reaction > script. Higher-priority lines go to the front of the queue
and play at the next sentence boundary. A slow writer never stalls the room: after a
deadline the Director fills with a grounded line built from the fact sheet.

The Director decides; its collaborators do, and never call back into it: `RoomFacts`
(read, publish, rebind and check the shop's facts), `Cues` (who to greet or thank, and each
reaction's cooldown), `MoodKeeper` (the room's mood and delivery) and `Speaker` (synthesise,
bind to facts, queue on the timeline).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from avatars.personas import Persona
from avatars.voice import VoiceChain
from commerce.events import (
    FlashSaleEnded,
    FlashSaleStarted,
    OrderPaid,
    ProductPinned,
    ShopEvent,
    SoldOut,
    shop_event,
)
from commerce.facts import ProductFacts
from danmaku.messages import Analysis, Comment, Enter, Follow, Gift, RoomMessage
from danmaku.mood import Mood
from danmaku.topics import complaint_topic
from scripts_gen import Answer, AnswerContext, Line, ScriptWriter, SegmentContext, reactions
from scripts_gen.grammar import grammar
from scripts_gen.style import style_for
from streamer.cues import Cues
from streamer.events import Answered, MoodChanged, Reply, RoomEvent
from streamer.live_facts import FactSnapshot, product_card, refs_for
from streamer.questions import Asker, Question, QuestionInbox
from streamer.room_facts import RoomFacts, filler_line, flash_sale_line
from streamer.room_mood import MoodKeeper
from streamer.speaker import PRIORITY, Speaker
from streamer.takeover import (
    MAX_PENDING,
    TakeoverInvalid,
    TakeoverResult,
    check_mode,
    check_takeover,
)
from streamer.timeline import SpeechTimeline, Utterance

log = logging.getLogger(__name__)

LOOKAHEAD_SECONDS = 3.0
WRITER_DEADLINE = 2.5  # seconds a writer may take for one line before a filler is spoken
ANSWER_DEADLINE = 1.5  # seconds a model backend may take to answer before the desk does
SPOKEN_LATE = 5.0  # an answer is never spoken more than this many seconds after the question
FOLLOW_WAIT = 1.5  # waiting longer than this behind other answers: say only the first sentence
SPOKEN_MAX_CHARS = 32  # a longer spoken answer is cut at a clause (the text reply has it all)
MERGE_MAX = 3  # questions said together in one 「好几位问…」 line
FACTS_SETTLE = 1.0  # seconds an answer waits for a fact read already under way
MAX_TICKET_TASKS = 50
MOOD_TICK = 0.5  # seconds between the mood's own ticks (decay, the return to calm)
CLOSE_GRACE = 5.0  # seconds the director's background work gets to end when the room stops
RECENT_ANSWERS = 8  # answers the live console shows
# shop events after which the room's facts are read again (stock_changed covers every order)
FACT_EVENTS = {
    "flash_sale_started",
    "flash_sale_ended",
    "product_changed",
    "stock_changed",
    "sold_out",
    "coupon_issued",
}
__all__ = [
    "Director",
    "TicketRequest",
    "filler_line",
    "first_sentence",
    "flash_sale_line",
    "product_card",
    "thanks_line",
]


@dataclass(frozen=True)
class TicketRequest:
    """A complaint or an unanswered question for a person to follow up."""

    room_id: str
    user_id: str
    nickname: str
    kind: str  # "complaint" | "question"
    text: str
    product_sku: str | None
    reason: (
        str  # "quality", "shipping", "service"; questions: "safety", "incident", "no_fact",
        # "low_confidence"
    )


@dataclass
class DirectorStats:
    lines: int = 0
    interruptions: int = 0
    writer_errors: int = 0
    products_skipped: int = 0
    heard: dict[str, int] = field(default_factory=dict)  # by intent / message kind
    reactions_skipped: int = 0  # reactions folded into a cooldown
    tickets: int = 0
    tickets_dropped: int = 0
    stale_rebound: int = 0  # lines re-rendered because their facts changed before speech
    stale_dropped: int = 0  # lines dropped for the same reason
    answer_timeouts: int = 0  # the writer's answer missed ANSWER_DEADLINE: the desk answered
    answer_errors: int = 0
    answer_fallbacks: int = 0
    # spoken answers: said whole, cut to the first sentence, or left as the text reply
    spoken: dict[str, int] = field(
        default_factory=lambda: {"full": 0, "shortened": 0, "merged": 0, "text_only": 0}
    )
    last_line: str = ""
    by_kind: dict[str, int] = field(default_factory=dict)
    facts: RoomFacts | None = field(default=None, repr=False)

    @property
    def fillers(self) -> int:
        return self.by_kind.get("filler", 0)

    @property
    def refreshes(self) -> int:
        return self.facts.refreshes if self.facts is not None else 0


def first_sentence(text: str, limit: int | None = None) -> str:
    """The text up to its first full stop (or 。-like mark); past `limit` characters, up to
    the last clause break before it. Cuts fall only between clauses: numbers stay whole."""
    for i, ch in enumerate(text):
        if ch in "。！？!?；" and i + 1 < len(text) and i >= 6:
            text = text[: i + 1]
            break
    if limit is None or len(text) <= limit:
        return text
    cut = max(text.rfind(mark, 0, limit) for mark in "，,；;")
    return text[:cut] + "。" if cut >= 8 else text


def without_lead(text: str, persona: str) -> str:
    """An answer without the persona's lead-in phrase ("问得好，"): the chat keeps it, the
    spoken answer goes straight to the point."""
    for lead in sorted(grammar()["answer"][style_for(persona).id]["lead"], key=len, reverse=True):
        if lead and text.startswith(lead) and len(text) > len(lead) + 4:
            return text[len(lead) :]
    return text


def thanks_line(buyer: str, p: ProductFacts) -> Line:
    """Thank a buyer by masked surname only (李** → 李家朋友)."""
    surname = buyer.strip("*@ ")[:1] or "这位"
    return Line(
        text=f"谢谢{surname}家朋友下单{p.name}，马上给您安排发货！",
        kind="reaction",
        product_sku=p.sku,
        expression="excited",
    )


class Director:
    """Plans and queues the host's speech for one room."""

    def __init__(
        self,
        room_id: str,
        persona: Persona,
        writer: ScriptWriter,
        voice: VoiceChain,
        timeline: SpeechTimeline,
        catalog: Callable[[str | None], Awaitable[list[ProductFacts]]],  # room id -> facts
        lineup: list[str] | None = None,
        on_line: Callable[[Line], None] | None = None,
        desk=None,
        publish: Callable[[RoomEvent], None] | None = None,
        open_ticket: Callable[[TicketRequest], Awaitable[object]] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        shop_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.room_id = room_id
        self.persona = persona
        self.writer = writer
        self.timeline = timeline
        self.lineup = lineup  # SKUs in order; None = whole catalog
        self.desk = desk if desk is not None else getattr(writer, "desk", None)
        self.publish = publish or (lambda event: None)
        self.open_ticket = open_ticket
        self.rng = random.Random(seed)
        self.questions = QuestionInbox()
        self.interrupt_answers = True  # False: answers wait for the line to end (the old way)
        self.live_events: list[str] = []
        self.stats = DirectorStats()
        self._wake = asyncio.Event()
        # collaborators: none of them calls back into the Director
        self.room_facts = RoomFacts(
            room_id,
            catalog,
            timeline,
            self._wake,
            clock,
            shop_clock or (lambda: datetime.now(UTC).replace(tzinfo=None)),
        )
        self.stats.facts = self.room_facts
        self.cues = Cues()
        self.moods = MoodKeeper()
        self.speaker = Speaker(
            room_id,
            persona,
            voice,
            timeline,
            self.room_facts,
            self.moods,
            lambda p, section, ctx: self.writer.render(p, section, ctx),
            self.stats,
            on_line,
        )
        self.timeline.gate = self._holds
        self._ticket_tasks: set[asyncio.Task] = set()
        self._urgent: asyncio.Queue[tuple[Line, ProductFacts | None]] = asyncio.Queue()
        self._product_index = 0
        self._segment: AsyncIterator[Line] | None = None
        self._presenting: ProductFacts | None = None
        self._segment_product: ProductFacts | None = None
        self._pinned: str | None = None
        self._closed = False
        # the console's answer mode: "spoken", "text" (chat replies only) or "muted" (the
        # host leaves questions to people), until a monotonic time or until changed
        self._answer_mode = "spoken"
        self._mode_until: float | None = None
        self.recent_answers: deque[dict] = deque(maxlen=RECENT_ANSWERS)
        self.takeovers = 0
        self._takeovers_synthesising = 0  # accepted, not yet on the timeline

    # --- what others read and set ---------------------------------------------------
    @property
    def current_product(self) -> ProductFacts | None:
        """The product being presented, as the room's facts show it now."""
        p = self._presenting
        return self.room_facts.products.get(p.sku, p) if p is not None else None

    @property
    def voice(self) -> VoiceChain:
        return self.speaker.voice

    @property
    def facts(self) -> FactSnapshot:
        return self.room_facts.snapshot

    @property
    def catalog(self):
        return self.room_facts.catalog

    @catalog.setter
    def catalog(self, value) -> None:
        self.room_facts.catalog = value

    @property
    def clock(self) -> Callable[[], float]:
        return self.room_facts.clock

    @property
    def shop_clock(self) -> Callable[[], datetime]:
        return self.room_facts.shop_clock

    @shop_clock.setter
    def shop_clock(self, value) -> None:
        self.room_facts.shop_clock = value

    @property
    def mood(self) -> str:
        return self.moods.label

    @property
    def delivery(self):
        return self.moods.delivery

    @property
    def _refresh_task(self) -> asyncio.Task | None:
        return self.room_facts.refresh_task

    def say(self, line: Line) -> None:
        """Queue a line from outside (answer, reaction); it jumps ahead of the script.
        Its facts are bound to the fact sheet it was written from: the one held now."""
        self._urgent.put_nowait((line, self.room_facts.products.get(line.product_sku or "")))
        self._wake.set()

    # --- facts ----------------------------------------------------------------------
    def _holds(self, utt: Utterance) -> bool:
        """The media thread's check as a line starts: a dict lookup per fact, no lock."""
        return self.room_facts.holds_utterance(utt)

    async def refresh(self) -> list[ProductFacts]:
        """Read the room's facts again, publish them, and retire lines they contradict."""
        return await self.room_facts.refresh()

    def request_refresh(self) -> None:
        self.room_facts.request_refresh()

    async def aclose(self) -> None:
        """End the director's background work as the room stops, before the shop closes, so
        no read outlives the store it reads: the fact read in flight is cancelled, the reads
        due as sales end are dropped, and tickets being stored get CLOSE_GRACE seconds to
        land (a complaint is not lost to a stop). Whatever is still running then is
        cancelled and logged by name."""
        self._closed = True
        refresh = self.room_facts.close()
        tasks = [t for t in (refresh, *self._ticket_tasks) if t is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=CLOSE_GRACE)
        for t in pending:
            log.error("room %s: %r did not end within %.0f s of stop", self.room_id, t, CLOSE_GRACE)
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    # --- listening ------------------------------------------------------------------
    def hear(self, message: RoomMessage, analysis: Analysis | None = None) -> str:
        """Take in one message that passed moderation; returns what the host will do with it:
        "answer", "merged", "ticket", "react" or "noted". Never blocks, never grows unbounded."""
        kind = type(message).__name__.lower()
        if isinstance(message, Comment) and analysis is not None:
            kind = analysis.intent
            mood = self.moods.hear(analysis)
            if mood is not None:
                self._mood_changed(mood)
        self.stats.heard[kind] = self.stats.heard.get(kind, 0) + 1
        action = "noted"
        if isinstance(message, Comment) and analysis is not None:
            action = self._hear_comment(message, analysis)
        elif isinstance(message, Gift):
            self.cues.heard("gift", message.nickname, message.gift)
            action = "react"
        elif isinstance(message, Follow):
            self.cues.heard("follow", message.nickname)
            action = "react"
        elif isinstance(message, Enter):
            self.cues.heard("greet", message.nickname)
        self._wake.set()
        return action

    def _hear_comment(self, c: Comment, a: Analysis) -> str:
        if a.intent == "question" and self.answer_mode == "muted":
            return "noted"  # the farmer answers in person for now
        if a.intent == "question":
            status, recent = self.questions.add(
                c.text, Asker(c.user_id, c.nickname, c.dedup_id), self._still_true
            )
            if recent is not None:  # just answered: the asker gets the same text at once
                reply = Reply(
                    self.room_id, (c.dedup_id,), c.text, recent[0], recent[1], (c.user_id,)
                )
                self._publish_after_ack(reply)
            return "answer" if status == "queued" else "merged"
        if a.intent == "complaint":
            topic = complaint_topic(c.text)
            if topic == "price":
                return "react"
            self.cues.heard("apology", c.nickname)
            self._file_ticket(
                TicketRequest(
                    self.room_id, c.user_id, c.nickname, "complaint", c.text, self._sku(), topic
                )
            )
            return "ticket"
        if a.intent == "greeting":
            self.cues.heard("greet", c.nickname)
            return "react"
        if a.intent == "purchase":
            return "react"
        return "noted"

    def _publish_after_ack(self, event) -> None:
        """Publish on the loop's next turn: the caller acknowledges the chat line first, so
        an asker always sees the ack of a question before its reply."""
        try:
            asyncio.get_running_loop().call_soon(self.publish, event)
        except RuntimeError:  # no loop (a direct call): nothing to order against
            self.publish(event)

    def _still_true(self, refs: tuple) -> bool:
        """A recent answer may be sent again: its facts hold and none are being re-read."""
        return not self.room_facts.reading and self.room_facts.holds(refs)

    def _sku(self) -> str | None:
        return self._presenting.sku if self._presenting else None

    def _mood_changed(self, mood: Mood) -> None:
        """A new mood changes the delivery now and the script from the next line on."""
        if self._presenting is not None:  # re-plan the same product in the new mood
            self._pinned = self._presenting.sku
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script")
        self.publish(
            MoodChanged(
                self.room_id,
                mood.label,
                round(mood.score, 3),
                {k: round(v, 3) for k, v in mood.intents.items()},
                self.moods.delivery_dict(),
            )
        )

    def tick_mood(self) -> None:
        """The room's own mood tick: decay alone can bring a room back to calm."""
        mood = self.moods.check()
        if mood is not None:
            self._mood_changed(mood)

    def position(self) -> dict:
        """Where the lineup stands: what a room restored elsewhere starts from."""
        presenting = self._pinned or (self._presenting.sku if self._presenting else None)
        return {
            "sku": presenting,
            "product_index": self._product_index,
            "mood": self.moods.room.state(),
            "answer_mode": self.answer_mode_info(),
        }

    def resume(
        self,
        sku: str | None,
        product_index: int = 0,
        mood: dict | None = None,
        answer_mode: dict | None = None,
    ) -> None:
        """Start from a saved position: `sku` is presented first (if it can be), the
        lineup goes on from `product_index`, and the room keeps its mood and the answer
        mode the console set (for the time it had left)."""
        if answer_mode and answer_mode.get("mode") not in (None, "spoken"):
            left = answer_mode.get("seconds_left")
            try:
                self.set_answer_mode(answer_mode["mode"], left / 60 if left else None)
            except (TakeoverInvalid, TypeError):
                log.warning("room %s: saved answer mode unreadable, answers spoken", self.room_id)
        self._product_index = max(0, int(product_index))
        if sku:
            self._pinned = sku
        if mood:
            try:
                self.moods.restore(mood)
            except (TypeError, ValueError):
                log.warning("room %s: saved mood unreadable, starting calm", self.room_id)

    def mood_info(self) -> dict:
        """The mood as last ticked; reading it (stats, /metrics) never moves it."""
        return self.moods.info()

    async def _mood_ticks(self) -> None:
        while True:
            await asyncio.sleep(MOOD_TICK)
            try:
                self.tick_mood()
            except Exception:  # a bad tick must not stop the room's mood for good
                log.exception("director %s: mood tick failed", self.room_id)

    def _file_ticket(self, request: TicketRequest) -> None:
        if self.open_ticket is None or self._closed:
            return
        if len(self._ticket_tasks) >= MAX_TICKET_TASKS:
            self.stats.tickets_dropped += 1
            return
        task = asyncio.ensure_future(self._ticket(request))
        self._ticket_tasks.add(task)
        task.add_done_callback(self._ticket_tasks.discard)

    async def _ticket(self, request: TicketRequest) -> None:
        try:
            await self.open_ticket(request)
            self.stats.tickets += 1
        except Exception:  # a ticket that cannot be stored must not stop the room
            self.stats.tickets_dropped += 1
            log.exception("room %s: ticket not stored", self.room_id)

    async def _answer(self, q: Question, speak: bool = True) -> tuple[Line, tuple] | None:
        """Answer `q` in text to its askers at once, then aloud. With `speak` False the
        spoken line and the facts it names are returned instead (to be merged)."""
        if self.desk is None:
            return None
        first = q.askers[0]
        await self._settle_facts()  # a price change or a sale's end being read: wait for it
        products = list(self.room_facts.products.values()) or await self.catalog(self.room_id)
        ctx = AnswerContext(
            room_id=self.room_id,
            persona=self.persona.id,
            viewer_id=first.user_id,
            products=products,
            current_sku=self._sku(),
            mood=self.mood,
            now=self.shop_clock(),
        )
        answer = await self._ask_writer(q.text, ctx)
        source = {p.sku: p for p in products}.get(answer.product_sku or "")
        refs = refs_for(answer.line, source) if answer.line is not None and source else ()
        self.questions.answered(q, answer.text, answer.handed_off, refs)
        self.recent_answers.append(
            {
                "question": q.text,
                "text": answer.text,
                "handed_off": answer.handed_off,
                "at": round(time.time(), 3),
            }
        )
        self.publish(
            Reply(
                self.room_id,
                tuple(a.question_id for a in q.askers),
                q.text,
                answer.text,
                answer.handed_off,
                tuple(a.user_id for a in q.askers),  # one per question id: see Reply
            )
        )
        self.publish(Answered(self.room_id, q.text, answer.text, answer.handed_off))
        if answer.handed_off:
            reason = {"incident": "incident"}.get(answer.safety or "", "safety")
            self._file_ticket(
                TicketRequest(
                    self.room_id,
                    first.user_id,
                    first.nickname,
                    "question",
                    q.text,
                    answer.product_sku,
                    reason if answer.safety else (answer.handoff_reason or "low_confidence"),
                )
            )
        if answer.line is not None and not speak:
            return answer.line, refs
        if answer.line is not None:
            names = [a.nickname for a in q.askers]

            def spoken(line: Line) -> Line:
                """Said to its askers by name, without the chat's lead-in (問得好…): short."""
                text = without_lead(line.text, self.persona.id)
                return replace(line, text=reactions.answer_to(self.persona.id, names, text))

            def again() -> tuple[Line | None, ProductFacts | None]:
                """The same question answered from the facts held now (the template desk: a
                rebind must not wait on a model)."""
                fresh_products = list(self.room_facts.products.values()) or products
                fresh = self.desk.answer(q.text, replace(ctx, products=fresh_products), self.rng)
                about = {p.sku: p for p in fresh_products}.get(fresh.product_sku or "")
                return (spoken(fresh.line) if fresh.line else None), about

            line = self._fit_to_wait(spoken(answer.line), q.received)
            if line is None:
                return None  # the text reply stands alone: said now it would come too late
            await self.speaker.speak(
                line,
                interrupt=self.interrupt_answers,
                source=source,
                again=again,
                not_after=q.received + SPOKEN_LATE,
            )
        return None

    async def _answer_crowd(self, first: Question) -> None:
        """Questions come faster than they can be said: each asker gets the text reply at
        once, and one line says the short answers together (「好几位问…」)."""
        batch = [first]
        while len(batch) < MERGE_MAX and (q := self.questions.take()) is not None:
            batch.append(q)
        said = [r for r in [await self._answer(q, speak=False) for q in batch] if r]
        if not said:
            return
        if len(said) == 1:
            line, refs = said[0]
            names = [a.nickname for a in first.askers]
            text = reactions.answer_to(
                self.persona.id, names, without_lead(line.text, self.persona.id)
            )
            line = replace(line, text=text)
        else:
            parts = [
                first_sentence(without_lead(line.text, self.persona.id), SPOKEN_MAX_CHARS).rstrip(
                    "。！？!?；"
                )
                for line, _ in said
            ]
            line = replace(said[0][0], text="好几位问，" + "；".join(parts) + "。")
            refs = tuple(r for _, rs in said for r in rs)
        oldest = min(q.received for q in batch)
        fitted = self._fit_to_wait(line, oldest, merged=len(said) if len(said) > 1 else 0)
        if fitted is None:
            return
        await self.speaker.speak(
            fitted,
            interrupt=self.interrupt_answers,
            source=None,
            again=lambda: (None, None),  # facts changed: the text replies stand alone
            not_after=oldest + SPOKEN_LATE,
            refs=refs,
        )

    def _fit_to_wait(self, line: Line, received: float, merged: int = 0) -> Line | None:
        """An answer that would start late is shortened to its first sentence; one that
        would start more than SPOKEN_LATE seconds after it was asked is left as text. A long
        answer is always cut to its first sentence: the next asker's wait stays short."""
        if self.answer_mode == "text":  # the console asked for chat replies only
            self.stats.spoken["text_only"] += max(merged, 1)
            return None
        wait = self.timeline.seconds_before(PRIORITY["answer"])
        late = time.monotonic() - received + wait
        if late > SPOKEN_LATE - 0.5:
            self.stats.spoken["text_only"] += max(merged, 1)
            return None
        if merged:
            self.stats.spoken["merged"] += merged
            return line
        if wait > FOLLOW_WAIT or len(line.text) > SPOKEN_MAX_CHARS:
            short = first_sentence(line.text, SPOKEN_MAX_CHARS)
            if short != line.text:
                self.stats.spoken["shortened"] += 1
                return replace(line, text=short)
        self.stats.spoken["full"] += 1
        return line

    # --- the live console -------------------------------------------------------------
    @property
    def answer_mode(self) -> str:
        if self._mode_until is not None and time.monotonic() >= self._mode_until:
            self._answer_mode, self._mode_until = "spoken", None  # the time is up
        return self._answer_mode

    def set_answer_mode(self, mode: str, minutes: float | None = None) -> dict:
        """Answers spoken (the default), text-only or muted; for `minutes`, or until changed.
        Raises streamer.takeover.TakeoverInvalid for a mode or duration the console lacks."""
        mode, minutes = check_mode(mode, minutes)
        self._answer_mode = mode
        self._mode_until = time.monotonic() + minutes * 60 if minutes else None
        return self.answer_mode_info()

    def answer_mode_info(self) -> dict:
        mode = self.answer_mode
        left = None if self._mode_until is None else max(0.0, self._mode_until - time.monotonic())
        return {"mode": mode, "seconds_left": round(left, 1) if left is not None else None}

    async def take_over(self, text: str, banned_words: tuple[str, ...] = ()) -> TakeoverResult:
        """The farmer's line (主播说), checked like every line against the facts held now,
        and said at the next phrase boundary ahead of script and reactions. A refused line
        is answered with its reasons and never spoken; TakeoverInvalid for text that is not
        a line."""
        await self._settle_facts()
        products = list(self.room_facts.products.values()) or await self.catalog(self.room_id)
        result = check_takeover(text, products, self.live_events, banned_words)
        if not result.accepted:
            return result
        if self.timeline.pending("takeover") + self._takeovers_synthesising >= MAX_PENDING:
            reason = f"前面还有 {MAX_PENDING} 句主播说没有说完，请稍后再发"
            return replace(result, accepted=False, busy=True, reasons=(reason,))
        source = {p.sku: p for p in products}.get(result.sku or "")
        line = Line(text=result.text, kind="takeover", product_sku=result.sku, expression="happy")
        self.takeovers += 1
        self._takeovers_synthesising += 1
        try:
            await self.speaker.speak(
                line,
                interrupt=True,
                source=source,
                again=lambda: (None, None),  # its facts changed before it played: not said
                fallback=self.current_product,
            )
        finally:
            self._takeovers_synthesising -= 1
        return result

    async def _settle_facts(self) -> None:
        await self.room_facts.settle(FACTS_SETTLE)

    async def _ask_writer(self, question: str, ctx: AnswerContext) -> Answer:
        """The room's writer answers (a model backend rephrases, grounded and checked) within
        ANSWER_DEADLINE; past it, or on any error, the template desk answers, counted."""
        if self.writer is None or getattr(self.writer, "desk", None) is None:
            return self.desk.answer(question, ctx, self.rng)
        if self.writer.desk is self.desk and getattr(self.writer, "name", "") == "template":
            return self.desk.answer(question, ctx, self.rng)  # no model: no deadline needed
        try:
            return await asyncio.wait_for(self.writer.answer(question, ctx), ANSWER_DEADLINE)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self.stats.answer_timeouts += 1
        except Exception:  # a failing backend must not cost the viewer an answer
            self.stats.answer_errors += 1
            log.exception("room %s: writer answer failed", self.room_id)
        self.stats.answer_fallbacks += 1
        return self.desk.answer(question, ctx, self.rng)

    async def _react(self) -> None:
        picked = self.cues.pick(self.persona.id, self.current_product, self.moods.room, self.rng)
        if picked is None:
            return
        kind, line = picked
        if line is None:
            self.stats.reactions_skipped += 1
            return
        await self.speaker.speak(line, interrupt=kind == "apology", fallback=self.current_product)

    def on_shop_event(
        self, event: ShopEvent | str, sku: str | None = None, data: dict | None = None
    ) -> None:
        """React to the shop: thank buyers, follow a pinned product, drop a sold-out one.
        Takes the typed event, or its plain form (kind, sku, data) as it crosses the Engine."""
        if isinstance(event, str):
            try:
                event = shop_event(event, self.room_id, sku, data)
            except (ValueError, TypeError):
                log.warning("room %s: unknown shop event %r ignored", self.room_id, event)
                return
        sku = event.sku
        product = self.room_facts.products.get(sku or "")
        if event.kind in FACT_EVENTS:
            if isinstance(event, FlashSaleStarted) and sku:
                self.room_facts.sale_started(sku, event, announce=product is not None)
            elif isinstance(event, FlashSaleEnded) and sku:
                self.room_facts.sale_ended(sku)
            self.request_refresh()
        current = self.current_product
        if isinstance(event, OrderPaid) and product is not None:
            buyer = event.buyer or "有位朋友"
            fact = f"刚刚 @{buyer} 拍了{event.quantity or ''}{event.unit}{product.name}"
            self.live_events = (self.live_events + [fact])[-5:]
            if self.cues.thanks_due():
                self.say(thanks_line(buyer, product))
        elif isinstance(event, ProductPinned | FlashSaleStarted) and sku:
            self._pinned = sku
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script")
            self._wake.set()
        elif isinstance(event, SoldOut) and sku and current is not None and current.sku == sku:
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script" or u.product_sku != sku)
            self._urgent.put_nowait(
                (
                    Line(
                        text=f"{current.title}已经卖完啦，谢谢大家捧场！",
                        kind="reaction",
                        product_sku=sku,
                        expression="happy",
                    ),
                    None,  # true from now on: bound to no changing fact
                )
            )
            self._wake.set()

    async def run(self) -> None:
        ticks = asyncio.create_task(self._mood_ticks(), name=f"mood-{self.room_id}")
        try:
            await self._run()
        finally:
            ticks.cancel()

    async def _run(self) -> None:
        while True:
            try:
                await self._fill()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad line kill the room
                log.exception("director %s: line failed", self.room_id)
                await asyncio.sleep(0.5)
            self._wake.clear()
            try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a stop's cancel
                async with asyncio.timeout(0.1):
                    await self._wake.wait()
            except TimeoutError:
                pass
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

    async def _fill(self) -> None:
        while await self._answer_next():
            pass
        while self.room_facts.announcements:  # flash sales, said once their price is read
            self._urgent.put_nowait(self.room_facts.announcements.popleft())
        while not self._urgent.empty():
            line, source = self._urgent.get_nowait()
            self.stats.interruptions += 1
            await self.speaker.speak(line, source=source, fallback=self.current_product)
        await self._react()
        if self.timeline.queued_seconds() < LOOKAHEAD_SECONDS:
            line = await self._next_script_line()
            if line is not None:
                await self.speaker.speak(
                    line, source=self._segment_product, fallback=self.current_product
                )

    async def _answer_next(self) -> bool:
        q = self.questions.take()
        if q is None:
            return False
        crowded = len(self.questions) > 0
        if crowded and self.timeline.seconds_before(PRIORITY["answer"]) > FOLLOW_WAIT:
            await self._answer_crowd(q)
        else:
            await self._answer(q)
        return True

    async def _next_script_line(self) -> Line | None:
        # a writer may have nothing to say about a product: try each product once
        for _ in range(len(self.room_facts.products) + 2):
            if self._segment is None:
                product = await self._next_product()
                if product is None:
                    return None
                self._start_segment(product)
            try:
                return await asyncio.wait_for(anext(self._segment), WRITER_DEADLINE)
            except StopAsyncIteration:
                self._segment = None
            except TimeoutError:
                self._segment = None
                return self._filler()
            except Exception:
                self.stats.writer_errors += 1
                log.exception("writer failed in room %s", self.room_id)
                self._segment = None
                return self._filler()
        return None

    def _filler(self) -> Line:
        self._segment_product = self.current_product
        return filler_line(self._segment_product)

    def _start_segment(self, product: ProductFacts) -> None:
        self._presenting = self._segment_product = product
        ctx = SegmentContext(
            room_id=self.room_id,
            persona=self.persona.id,
            mood=self.mood,
            live_events=list(self.live_events),
        )
        self.live_events.clear()
        self._segment = aiter(self.writer.segment(product, ctx))

    async def _next_product(self) -> ProductFacts | None:
        products = await self.refresh()
        held = self.room_facts.products
        last = self._presenting.sku if self._presenting else None
        if self.lineup:
            products = [held[s] for s in self.lineup if s in held]
        if self._pinned:
            pinned, self._pinned = self._pinned, None
            if pinned in held and not held[pinned].sold_out:
                return held[pinned]
        available = sum(1 for p in products if not p.sold_out)
        for _ in range(len(products)):
            p = products[self._product_index % len(products)]
            self._product_index += 1
            if p.sold_out:
                self.stats.products_skipped += 1
            elif p.sku != last or available == 1:  # never the product just presented again
                return p
        return None
