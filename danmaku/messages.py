"""What the room says, as typed, frozen messages: every source produces these, every stage
after moderation consumes them. Plain data, so they cross process boundaries unchanged."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

Sentiment = Literal["pos", "neu", "neg"]
Intent = Literal["spam", "complaint", "question", "purchase", "praise", "greeting", "other"]

# when several intents fit, the first in this order wins (DESIGN.md contract)
INTENT_PRIORITY: tuple[str, ...] = (
    "spam",
    "complaint",
    "question",
    "purchase",
    "praise",
    "greeting",
    "other",
)
SENTIMENTS: tuple[str, ...] = ("pos", "neu", "neg")


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Message:
    """Fields every room message carries."""

    room_id: str
    user_id: str
    nickname: str
    source: str = "viewer"  # "viewer" | "api" | "douyin" | "replay" | "simulator"
    dedup_id: str = field(default_factory=new_id)  # platform message id when there is one
    ts: float = field(default_factory=time.time)  # unix seconds when it was said


@dataclass(frozen=True)
class Comment(Message):
    """A danmaku line typed by a viewer."""

    text: str = ""


@dataclass(frozen=True)
class Gift(Message):
    gift: str = ""
    count: int = 1
    value_fen: int = 0  # platform value in fen, 0 when unknown


@dataclass(frozen=True)
class Like(Message):
    count: int = 1


@dataclass(frozen=True)
class Enter(Message):
    """A viewer arrived in the room."""


@dataclass(frozen=True)
class Follow(Message):
    """A viewer followed the host or joined the fan club."""


@dataclass(frozen=True)
class Purchase(Message):
    """A viewer bought something (from the shop or a platform notification)."""

    sku: str | None = None
    quantity: int = 1


RoomMessage = Comment | Gift | Like | Enter | Follow | Purchase


@dataclass(frozen=True)
class Analysis:
    """Sentiment and intent of one comment."""

    sentiment: Sentiment
    score: float  # -1 (very negative) .. 1 (very positive)
    intent: Intent
    confidence: float = 1.0  # 0..1, how sure the analyser is of the intent
