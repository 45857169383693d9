"""Types shared by every script writer: what the Director asks for and what it gets back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from commerce.facts import ProductFacts

LINE_KINDS = ("script", "answer", "reaction", "filler", "handoff", "takeover")
EXPRESSIONS = ("neutral", "happy", "excited", "sorry", "thinking")


@dataclass(frozen=True)
class Line:
    """One spoken line: grounded, persona-styled, dialect applied."""

    text: str
    kind: str = "script"  # one of LINE_KINDS
    product_sku: str | None = None
    expression: str = "neutral"  # one of EXPRESSIONS
    rate: float = 1.0  # speaking-rate multiplier for TTS
    pitch: float = 1.0  # pitch multiplier for TTS
    sources: tuple[str, ...] = ()  # KB entry ids / "catalog:<sku>"


@dataclass
class SegmentContext:
    """What a writer knows about the room when it plans one product's segment."""

    room_id: str = "demo"
    persona: str = "xiaowang"
    mood: str = "calm"  # "calm" | "happy" | "excited" | "upset"
    live_events: list[str] = field(default_factory=list)  # already-safe facts to weave in
    now: datetime | None = None


@dataclass
class AnswerContext:
    """Who asks, in which room, and what the shop sells right now (live stock included)."""

    room_id: str = "demo"
    persona: str = "xiaowang"
    viewer_id: str = "anon"
    products: Sequence[ProductFacts] = ()
    current_sku: str | None = None  # the product on screen, used when a question names none
    mood: str = "calm"
    now: datetime | None = None


@dataclass(frozen=True)
class Answer:
    """The host's reply to one question, with the entries that back it."""

    text: str
    sources: tuple[str, ...] = ()
    confidence: float = 0.0  # 0..1, retrieval confidence
    handed_off: bool = False  # True when a human will follow up (ticket queued)
    product_sku: str | None = None
    line: Line | None = None  # ready to speak: kind "answer" or "handoff"
    ticket_id: str | None = None
    safety: str | None = None  # the safety kind of the question (scripts_gen.safety), if any
    # why a person follows up, when no safety rule decided it: "no_fact" (the shop holds no
    # answer: a contact, a restock date, a claim to check) or None (low confidence)
    handoff_reason: str | None = None


@runtime_checkable
class ScriptWriter(Protocol):
    """What the Director calls. One instance per room.

    `segment` streams a product's script; `answer` answers a viewer live (grounded and
    checked; the Director bounds it with a deadline and falls back to the template desk);
    `render` says one section again from new facts (a price changed before a line was said).
    `desk` is the template desk every backend falls back to."""

    desk: object

    def segment(self, product: ProductFacts, context: SegmentContext) -> AsyncIterator[Line]: ...

    async def answer(self, question: str, context: AnswerContext) -> Answer: ...

    def render(
        self, product: ProductFacts, section: str, context: SegmentContext
    ) -> Line | None: ...

    def stats(self) -> dict: ...
