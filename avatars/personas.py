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
    # voice character: eSpeak NG voice with variant (voices/!v), pitch range 0-99 (50 is the
    # voice's own), and the percent rise of each sentence's last syllable (0: none)
    espeak_voice: str = "cmn"
    pitch_range: int = 50
    lilt: int = 0


PERSONAS: dict[str, Persona] = {
    p.id: p
    for p in (
        Persona(
            id="xiaowang",
            name="小王",
            role="年轻农民，种菜能手，说保定话",
            dialect="baoding",
            rate_wpm=210,
            pitch=62,
            edge_voice="zh-CN-YunxiNeural",
            skin=(150, 185, 225),
            hair=(30, 30, 35),
            shirt=(60, 140, 60),
            accent=(40, 90, 200),
            # young and lively: a light male variant, fast, wide range, Baoding final lilt
            espeak_voice="cmn+m3",
            pitch_range=90,
            lilt=40,
        ),
        Persona(
            id="xiaoli",
            name="小李",
            role="热心的果农大姐，管果树",
            dialect="mandarin",
            rate_wpm=215,
            pitch=45,
            edge_voice="zh-CN-XiaoxiaoNeural",
            skin=(160, 190, 230),
            hair=(40, 35, 50),
            shirt=(70, 70, 190),
            accent=(60, 170, 230),
            # warm and fast: a breathy female variant in her lower register
            espeak_voice="cmn+f2",
            pitch_range=60,
        ),
        Persona(
            id="xiaozhang",
            name="小张",
            role="农技员，讲普通话，说话有依据",
            dialect="mandarin",
            rate_wpm=150,
            pitch=38,
            edge_voice="zh-CN-YunyangNeural",
            skin=(145, 180, 220),
            hair=(25, 25, 25),
            shirt=(200, 200, 200),
            accent=(150, 90, 40),
            # calm and measured: a steady low male variant, slow, narrow range
            espeak_voice="cmn+m6",
            pitch_range=25,
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
