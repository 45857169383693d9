"""Typed events a room publishes: what the host said, what viewers said, mood, shop notices.

Every stage builds one of these instead of a dict; the web layer turns them into JSON with
`as_dict()`. An event with an `audience` goes only to those viewers (a reply to an asker).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import ClassVar


@dataclass(frozen=True)
class RoomEvent:
    room_id: str
    type: ClassVar[str] = "event"
    # viewer ids this event is for; empty = everyone in the room
    audience: ClassVar[tuple[str, ...]] = ()

    def as_dict(self) -> dict:
        return {"type": self.type, **asdict(self)}

    def visible_to(self, viewer_id: str | None) -> bool:
        return not self.audience or viewer_id in self.audience


@dataclass(frozen=True)
class RoomStarted(RoomEvent):
    type: ClassVar[str] = "room_started"


@dataclass(frozen=True)
class RoomStopped(RoomEvent):
    type: ClassVar[str] = "room_stopped"


@dataclass(frozen=True)
class ViewerJoined(RoomEvent):
    type: ClassVar[str] = "viewer_joined"


@dataclass(frozen=True)
class ViewerLeft(RoomEvent):
    type: ClassVar[str] = "viewer_left"


@dataclass(frozen=True)
class LineStarted(RoomEvent):
    """A line starts playing: captions and the product card on the viewer page."""

    type: ClassVar[str] = "line"
    text: str = ""
    kind: str = "script"
    sku: str | None = None
    expression: str = "neutral"
    card: dict | None = None


@dataclass(frozen=True)
class DanmakuShown(RoomEvent):
    """A comment that passed moderation, for every viewer's overlay and list."""

    type: ClassVar[str] = "danmaku"
    id: str = ""
    nickname: str = ""
    text: str = ""
    intent: str = "other"
    sentiment: str = "neu"
    source: str = "viewer"
    ts: float = 0.0


@dataclass(frozen=True)
class Notice(RoomEvent):
    """A gift, a follow or an arrival, shown in the chat list."""

    type: ClassVar[str] = "notice"
    kind: str = ""  # "gift" | "follow" | "enter"
    nickname: str = ""
    text: str = ""


@dataclass(frozen=True)
class Reply(RoomEvent):
    """The host's answer to a question, sent at once to the viewers who asked it.

    `question_ids[i]` was asked by `to[i]`. The room publishes one Reply for all askers;
    each asker receives `for_viewer(their id)`, which names only them and their own
    questions, so merged askers never learn each other's ids."""

    type: ClassVar[str] = "reply"
    question_ids: tuple[str, ...] = ()  # the danmaku ids of every asker's copy
    question: str = ""
    text: str = ""
    handed_off: bool = False
    to: tuple[str, ...] = ()  # the asker of each question id, in the same order

    @property
    def audience(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.to

    def for_viewer(self, viewer_id: str) -> Reply:
        """This reply as one asker receives it: their question ids, their id alone."""
        mine = tuple(
            q for q, asker in zip(self.question_ids, self.to, strict=False) if asker == viewer_id
        )
        return replace(self, question_ids=mine, to=(viewer_id,))


@dataclass(frozen=True)
class Answered(RoomEvent):
    """An answer, for everyone (the room's questions list); carries no viewer ids."""

    type: ClassVar[str] = "answer"
    question: str = ""
    text: str = ""
    handed_off: bool = False


@dataclass(frozen=True)
class ServiceReply(RoomEvent):
    """A customer-service reply to a viewer's ticket, shown in that viewer's chat only."""

    type: ClassVar[str] = "cs_reply"
    ticket_id: str = ""
    text: str = ""
    by: str = ""  # the agent's display name ("客服"), never their account name
    to: tuple[str, ...] = ()

    @property
    def audience(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.to


@dataclass(frozen=True)
class MoodChanged(RoomEvent):
    type: ClassVar[str] = "mood"
    label: str = "calm"
    score: float = 0.0
    intents: dict = field(default_factory=dict)
    delivery: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ShopNotice(RoomEvent):
    type: ClassVar[str] = "shop"
    kind: str = ""
    sku: str | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DanmakuAck(RoomEvent):
    """What became of one chat line sent over the events socket (to its sender only)."""

    type: ClassVar[str] = "danmaku_ack"
    id: str = ""
    accepted: bool = True
    reason: str = "ok"  # moderation's reason: "ok", "rate_limited", "spam", …
    detail: str = ""  # for the viewer, in Chinese
    sentiment: str = "neu"
    score: float = 0.0
    intent: str = "other"
    action: str = "noted"  # what the host will do: "answer", "merged", "ticket", …
    text: str = ""


@dataclass(frozen=True)
class DanmakuRejected(DanmakuAck):
    """A chat line not taken: too long, not JSON, or refused by moderation."""

    type: ClassVar[str] = "danmaku_rejected"
    accepted: bool = False
    reason: str = "invalid"
    action: str = "blocked"


def chat_reply(room_id: str, heard, text: str) -> DanmakuAck:
    """The socket's reply for a `streamer.listener.Heard`: an ack, or a rejection."""
    cls = DanmakuAck if heard.accepted else DanmakuRejected
    return cls(room_id, **{k: v for k, v in vars(heard).items()}, text=text[:200])
