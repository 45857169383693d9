"""The host's voice in a room: a line is delivered in the room's mood, synthesised, bound to
the facts it was written from, and queued on the speech timeline.

Facts or the mood may change while a line is synthesised: the line is then said again from
the new facts (an answer is answered again) or dropped, and counted. The Speaker reads its
collaborators (facts, mood) and never calls the Director."""

from __future__ import annotations

from collections.abc import Callable

from avatars.gestures import plan_gestures
from avatars.personas import Persona
from avatars.voice import VoiceChain
from commerce.facts import ProductFacts
from scripts_gen import Line, SegmentContext
from streamer.live_facts import product_card, refs_for
from streamer.room_facts import RoomFacts
from streamer.room_mood import MoodKeeper
from streamer.timeline import SpeechTimeline, Utterance

PRIORITY = {"answer": 0, "handoff": 0, "takeover": 0, "reaction": 1, "filler": 2, "script": 2}
Rebind = Callable[[], tuple[Line | None, ProductFacts | None]]


class Speaker:
    """Synthesises and queues the host's lines for one room."""

    def __init__(
        self,
        room_id: str,
        persona: Persona,
        voice: VoiceChain,
        timeline: SpeechTimeline,
        facts: RoomFacts,
        mood: MoodKeeper,
        render,  # ScriptWriter.render: a section said again from new facts
        stats,  # lines, stale_rebound, stale_dropped, last_line, by_kind (DirectorStats)
        on_line: Callable[[Line], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.persona = persona
        self.voice = voice
        self.timeline = timeline
        self.facts = facts
        self.mood = mood
        self.render = render
        self.on_line = on_line
        self.stats = stats

    async def speak(
        self,
        line: Line,
        interrupt: bool = False,
        source: ProductFacts | None | bool = True,
        again: Rebind | None = None,
        not_after: float | None = None,
        fallback: ProductFacts | None = None,
        refs: tuple | None = None,
    ) -> None:
        """Synthesise and queue `line`, bound to the facts it was written from (`source`;
        True: the room's current ones, None: it names no changing fact). A line whose facts
        changed is re-rendered from the new ones before and after synthesis (an answer is
        answered again: `again`), or dropped. `fallback` is the product whose card shows
        when the line names none; `refs` overrides the facts the line is bound to."""
        if source is True:
            source = self.facts.products.get(line.product_sku or "")
        if refs is None:  # given: a merged answer names the facts of several products
            refs = refs_for(line, source) if isinstance(source, ProductFacts) else ()
        for attempt in range(4):  # facts or the room's mood may change during synthesis
            if not self.facts.holds(refs):
                if attempt == 3:
                    self.stats.stale_dropped += 1
                    return
                line, product = again() if again is not None else self._rebind(line, refs)
                if line is None:
                    self.stats.stale_dropped += 1
                    return
                self.stats.stale_rebound += 1
                source, refs = product, refs_for(line, product)
            mood = self.mood.label
            said = self.mood.deliver(line, self.persona.id)
            speech = await self.voice.synthesize(said.text, self.persona, said.rate, said.pitch)
            if mood == self.mood.label and self.facts.holds(refs):
                break
        line = said
        # the card comes from the very fact sheet the line was checked against
        product = source if isinstance(source, ProductFacts) else None
        product = product or self.facts.products.get(line.product_sku or "") or fallback
        card = product_card(product) if product else None
        utt = Utterance(
            speech=speech,
            expression=line.expression,
            product_sku=line.product_sku,
            card=card,
            gestures=plan_gestures(speech.text, speech.duration, card.category if card else None),
            kind=line.kind,
            facts=refs,
            not_after=not_after,
        )
        self.timeline.enqueue(utt, priority=PRIORITY.get(line.kind, 2), interrupt=interrupt)
        self.stats.lines += 1
        self.stats.by_kind[line.kind] = self.stats.by_kind.get(line.kind, 0) + 1
        self.stats.last_line = line.text
        if self.on_line:
            self.on_line(line)

    def _rebind(self, line: Line, refs: tuple) -> tuple[Line | None, ProductFacts | None]:
        ctx = SegmentContext(room_id=self.room_id, persona=self.persona.id, mood=self.mood.label)
        return self.facts.rebind(line, refs, self.render, ctx)
