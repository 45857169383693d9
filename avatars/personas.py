"""The three host personas: who they are, how they look and how they sound."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    """A digital-human host. `id` is the key every package uses (scripts, voice, look)."""

    id: str
    name: str  # spoken/display name
    role: str  # one-line description shown in the control panel
    dialect: str  # "baoding" or "mandarin"
    # voice: eSpeak NG words-per-minute and pitch (0-99); edge-tts voice when online
    rate_wpm: int
    pitch: int
    edge_voice: str
    # look: BGR colours of the drawn character
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    accent: tuple[int, int, int]


PERSONAS: dict[str, Persona] = {
    p.id: p
    for p in (
        Persona(
            id="xiaowang",
            name="小王",
            role="年轻农民，种菜能手，说保定话",
            dialect="baoding",
            rate_wpm=175,
            pitch=45,
            edge_voice="zh-CN-YunxiNeural",
            skin=(150, 185, 225),
            hair=(30, 30, 35),
            shirt=(60, 140, 60),
            accent=(40, 90, 200),
        ),
        Persona(
            id="xiaoli",
            name="小李",
            role="热心的果农大姐，管果树",
            dialect="mandarin",
            rate_wpm=190,
            pitch=70,
            edge_voice="zh-CN-XiaoxiaoNeural",
            skin=(160, 190, 230),
            hair=(40, 35, 50),
            shirt=(70, 70, 190),
            accent=(60, 170, 230),
        ),
        Persona(
            id="xiaozhang",
            name="小张",
            role="农技员，讲普通话，说话有依据",
            dialect="mandarin",
            rate_wpm=165,
            pitch=40,
            edge_voice="zh-CN-YunyangNeural",
            skin=(145, 180, 220),
            hair=(25, 25, 25),
            shirt=(200, 200, 200),
            accent=(150, 90, 40),
        ),
    )
}

DEFAULT_PERSONA = "xiaowang"


def get_persona(persona_id: str) -> Persona:
    """Look a persona up by id; raises KeyError with the known ids."""
    try:
        return PERSONAS[persona_id]
    except KeyError:
        raise KeyError(f"unknown persona {persona_id!r}; known: {', '.join(PERSONAS)}") from None
