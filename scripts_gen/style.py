"""Persona speaking styles and room-mood prosody, as plain data (persona ids are strings)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PERSONA = "xiaowang"


@dataclass(frozen=True)
class PersonaStyle:
    """How a persona sounds: display name, dialect and base prosody."""

    id: str
    name: str
    dialect: str  # a rules file under scripts_gen/dialect, or "mandarin"
    rate: float
    pitch: float
    manner: str  # one line for model prompts


STYLES: dict[str, PersonaStyle] = {
    "xiaowang": PersonaStyle(
        "xiaowang", "小王", "baoding", 1.0, 1.0, "阜平本地年轻农民，说话实在，带保定口音，爱说“咱”"
    ),
    "xiaoli": PersonaStyle("xiaoli", "小李", "mandarin", 1.08, 1.05, "热心果农大姐，热情，语速快"),
    "xiaozhang": PersonaStyle(
        "xiaozhang", "小张", "mandarin", 0.95, 0.98, "农技员，说话严谨，引用数据和资料"
    ),
}

# mood -> (expression, rate factor, pitch factor)
_MOOD = {
    "calm": ("neutral", 1.0, 1.0),
    "happy": ("happy", 1.03, 1.02),
    "excited": ("excited", 1.08, 1.05),
    "upset": ("sorry", 0.95, 0.97),
}
# sections that lift the expression one step when the room is not upset
_LIFT = {"opening": "happy", "price": "excited", "promo": "excited", "event": "happy"}


def style_for(persona: str) -> PersonaStyle:
    """The persona's style; unknown ids fall back to the default persona (never raises)."""
    return STYLES.get(persona, STYLES[DEFAULT_PERSONA])


def prosody(persona: str, mood: str, section: str = "") -> tuple[str, float, float]:
    """(expression, rate, pitch) for a line of `section` spoken in a room of `mood`."""
    style = style_for(persona)
    expression, rate, pitch = _MOOD.get(mood, _MOOD["calm"])
    if mood != "upset" and expression in ("neutral", "happy") and section in _LIFT:
        expression = _LIFT[section] if expression == "neutral" else "excited"
    if section == "handoff":
        expression = "sorry" if mood == "upset" else "thinking"
    return expression, round(style.rate * rate, 3), round(style.pitch * pitch, 3)
