"""The three hosts' designs, built once per process."""

from __future__ import annotations

import functools

from avatars.art import xiaoli, xiaowang, xiaozhang
from avatars.art.design import Design
from avatars.art.host import Sprites

BUILDERS = {"xiaowang": xiaowang.design, "xiaoli": xiaoli.design, "xiaozhang": xiaozhang.design}


@functools.lru_cache(maxsize=8)
def design(persona_id: str) -> Design:
    """The artwork for a persona id (unknown ids get 小王's, so a room always has a host)."""
    return BUILDERS.get(persona_id, xiaowang.design)()


@functools.lru_cache(maxsize=8)
def sprites(persona_id: str, scale: float) -> Sprites:
    return Sprites(design(persona_id), scale)
