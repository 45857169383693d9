"""Where room messages come from. Every source is one small object behind `Source`:
a name and an async iterator of `RoomMessage` that ends when the source ends or is closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from danmaku.messages import RoomMessage


@runtime_checkable
class Source(Protocol):
    name: str

    def messages(self) -> AsyncIterator[RoomMessage]: ...


__all__ = ["Source"]
