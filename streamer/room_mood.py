"""The room's mood as the host shows it: the label, and the delivery (expression, pace,
pitch) that goes with it. A new label is returned to the caller, which re-plans and tells
the room; this keeper only tracks. The mood moves when a comment is heard or the room ticks
(`check`), never when it is read (`info`)."""

from __future__ import annotations

from dataclasses import replace

from danmaku.messages import Analysis
from danmaku.mood import Delivery, Mood, RoomMood, delivery_for
from scripts_gen import Line
from scripts_gen.style import style_for


class MoodKeeper:
    """One room's mood: heard comments in, a label and a delivery out."""

    def __init__(self) -> None:
        self.room = RoomMood()
        self.mood: Mood = self.room.snapshot()
        self.label = self.mood.label
        self.delivery: Delivery = delivery_for(self.mood)

    def hear(self, analysis: Analysis) -> Mood | None:
        """Take in one comment; the new mood when its label changed, else None."""
        self.room.update(analysis)
        return self.check()

    def check(self) -> Mood | None:
        """The room's tick: decay alone can bring a room back to calm. The new mood when the
        label moved, else None."""
        mood = self.mood = self.room.snapshot()
        if mood.label == self.label:
            return None
        self.label = mood.label
        self.delivery = delivery_for(mood)
        return mood

    def restore(self, state: dict) -> None:
        """Take up the mood a room had before it moved (see RoomMood.state)."""
        self.room.restore(state)
        self.mood = self.room.snapshot()
        self.label = self.mood.label
        self.delivery = delivery_for(self.mood)

    def delivery_dict(self) -> dict:
        d = self.delivery
        return {"expression": d.expression, "rate": d.rate, "pitch": d.pitch}

    def info(self) -> dict:
        """The mood as of the last comment or tick: reading it changes nothing."""
        mood = self.mood
        return {
            "mood": {
                "score": round(mood.score, 3),
                "label": mood.label,
                "intents": {k: round(v, 3) for k, v in mood.intents.items()},
            },
            "delivery": self.delivery_dict(),
        }

    def deliver(self, line: Line, persona: str) -> Line:
        """Script lines take the room's current delivery; reactions keep their own."""
        if line.kind not in ("script", "filler"):
            return line
        style, d = style_for(persona), self.delivery
        expression = d.expression if d.expression != "neutral" else line.expression
        if self.label != "upset" and line.expression == "excited":
            expression = "excited"
        return replace(
            line,
            expression=expression,
            rate=round(style.rate * d.rate, 3),
            pitch=round(style.pitch * d.pitch, 3),
        )
