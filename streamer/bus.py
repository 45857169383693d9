"""The local bus between the web process and its room workers: typed messages over one
duplex `multiprocessing` pipe per worker (pickled dataclasses; both ends run this program).

In: `Call` (an operation on the worker's engine, with plain-data arguments).
Out: `Result` (the call's value or a named engine error), `Published` (a room event),
`Report` (every second: the rooms' stats, lineup positions and the worker's load) and
`Ready` (once, when the worker can take rooms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamer.engine_base import ENGINE_ERRORS, EngineError, RoomUnavailable
from streamer.events import RoomEvent

# what a worker's engine answers; anything else is refused with a clear error
OPS = frozenset(
    {
        "start_room",
        "stop_room",
        "whep_offer",
        "whep_delete",
        "danmaku",
        "hear_all",
        "simulate_viewers",
        "room_stats",
        "banned_words",
        "ban_word",
        "unban_word",
        "shop_event",
        "take_over",
        "set_answer_mode",
        "add_output",
        "remove_output",
        "attach_janus",
        "ping",
    }
)


# the argument types of the console's operations (checked by the worker before it acts):
# a take-over line and the answer mode of one room
ARG_TYPES: dict[str, tuple] = {
    "take_over": (str, str),  # room id, the line
    "set_answer_mode": (str, str, (int, float, type(None))),  # room id, mode, minutes
    # room id, URL, stream key, name, internal, output id (chosen by the web process)
    "add_output": (str, str, str, str, bool, str),
    "remove_output": (str, str),  # room id, output id
    # room id, and the mountpoint a dead worker forwarded to (id, video port, audio port;
    # zeros for none): the room takes it over when Janus still has it
    "attach_janus": (str, int, int, int),
}


def check_args(op: str, args: tuple) -> None:
    """Refuse a call whose arguments are not of its operation's types (EngineError)."""
    types = ARG_TYPES.get(op)
    if types is None:
        return
    if len(args) != len(types) or not all(
        isinstance(a, t) and (t is bool or not isinstance(a, bool))
        for a, t in zip(args, types, strict=False)
    ):
        raise EngineError(f"bad arguments for bus operation {op!r}")


@dataclass(frozen=True)
class Call:
    id: int
    op: str
    args: tuple = ()


@dataclass(frozen=True)
class Result:
    id: int
    value: Any = None
    error: str | None = None
    error_type: str = "EngineError"  # a name from ENGINE_ERRORS

    def unwrap(self) -> Any:
        if self.error is None:
            return self.value
        raise ENGINE_ERRORS.get(self.error_type, EngineError)(self.error)

    @classmethod
    def failed(cls, call_id: int, exc: BaseException, op: str = "") -> Result:
        if isinstance(exc, EngineError):
            name = type(exc).__name__
            return cls(call_id, error=str(exc), error_type=name if name in ENGINE_ERRORS else "")
        # a fault inside the worker: named, never a traceback across the bus
        detail = f"{op or 'call'} failed in the room worker: {type(exc).__name__}: {exc}"
        return cls(call_id, error=detail[:500], error_type=RoomUnavailable.__name__)


@dataclass(frozen=True)
class Published:
    room_id: str
    event: RoomEvent


@dataclass(frozen=True)
class Report:
    pid: int
    load: float  # cores used by the rooms' media loops over the last 10 s (their tick times)
    rooms: dict[str, dict] = field(default_factory=dict)  # room id -> stats
    positions: dict[str, dict] = field(default_factory=dict)  # room id -> resume state
    viewers: int = 0
    voice: dict = field(default_factory=dict)
    events_dropped: int = 0
    loop_lag_ms: float = 0.0  # how late the worker's event loop woke for this report


@dataclass(frozen=True)
class Ready:
    pid: int
