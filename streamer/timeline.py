"""The room's speech timeline: what is being said at each instant of the media clock.

Audio is the master clock. The media thread reads fixed chunks of PCM from here; the
avatar's lips, expression, caption and product card are all taken from the utterance that
owns the first sample of the chunk, so picture and sound agree by construction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from avatars.gestures import GestureCue, active_cue
from avatars.renderer import AvatarState, Card
from avatars.voice import SAMPLE_RATE, Speech

log = logging.getLogger(__name__)

GAP_SECONDS = 0.35  # pause between sentences


@dataclass(frozen=True)
class Utterance:
    """A spoken line with everything the picture needs while it plays."""

    speech: Speech
    expression: str = "neutral"
    product_sku: str | None = None
    card: Card | None = None
    kind: str = "script"
    priority: int = 2  # 0 answer, 1 reaction, 2 script (lower plays first)
    gestures: tuple[GestureCue, ...] = ()  # from avatars.gestures.plan_gestures
    facts: tuple = ()  # streamer.live_facts.FactRef: what the line claims, checked as it starts
    not_after: float | None = None  # time.monotonic() past which it is too late to start it


@dataclass(frozen=True)
class Playing:
    """The timeline's state at the start of a chunk."""

    utterance: Utterance | None
    offset: float  # seconds into the utterance
    started: bool  # this chunk starts a new utterance


class SpeechTimeline:
    """Thread-safe queue of utterances, consumed in real time by the media thread."""

    def __init__(self, gate: Callable[[Utterance], bool] | None = None) -> None:
        # gate(utt) runs on the media thread as an utterance would start: False drops it
        self.gate = gate
        self.dropped = 0
        self._lock = threading.Lock()
        self._queue: deque[Utterance] = deque()
        self._current: Utterance | None = None
        self._pos = 0  # samples into current (may exceed its length: trailing gap)
        self._cut: tuple[float, int] | None = None  # where the current line yields to an answer
        self.cuts = 0
        self.late_dropped = 0
        self.utterances_played = 0

    def enqueue(self, utt: Utterance, priority: int | None = None, interrupt: bool = False) -> None:
        """Queue an utterance behind everything of the same or higher priority (lower number).

        It never cuts a word: with `interrupt`, a lower-priority line that is playing stops at
        its next word or phrase boundary, this one plays, and the rest of that line follows."""
        if priority is not None:
            utt = replace(utt, priority=priority)
        with self._lock:
            self._insert(utt, after_equal=True)
            cur = self._current
            if interrupt and cur is not None and utt.priority < cur.priority and self._cut is None:
                self._cut = cur.speech.next_break(self._pos / SAMPLE_RATE + 0.02)

    def _insert(self, utt: Utterance, after_equal: bool) -> None:
        for i, queued in enumerate(self._queue):
            if queued.priority > utt.priority or (
                not after_equal and queued.priority == utt.priority
            ):
                self._queue.insert(i, utt)
                return
        self._queue.append(utt)

    def clear_pending(self, keep=lambda u: False) -> int:
        """Drop queued (not playing) utterances except those `keep` accepts."""
        with self._lock:
            before = len(self._queue)
            self._queue = deque(u for u in self._queue if keep(u))
            return before - len(self._queue)

    def pending(self, kind: str) -> int:
        """Queued (not yet playing) utterances of one kind."""
        with self._lock:
            return sum(1 for u in self._queue if u.kind == kind)

    def queued_seconds(self) -> float:
        with self._lock:
            total = sum(u.speech.duration + GAP_SECONDS for u in self._queue)
            if self._current is not None:
                total += max(
                    0.0, self._current.speech.duration + GAP_SECONDS - self._pos / SAMPLE_RATE
                )
            return total

    def seconds_before(self, priority: int) -> float:
        """How long until a line of `priority` queued now would start: what plays now (to its
        next break when it is less urgent) and every queued line at least as urgent."""
        with self._lock:
            total = sum(
                u.speech.duration + GAP_SECONDS for u in self._queue if u.priority <= priority
            )
            cur = self._current
            if cur is not None:
                left = max(0.0, cur.speech.duration - self._pos / SAMPLE_RATE)
                total += left if cur.priority <= priority else min(left, 0.6)
            return total

    @property
    def current(self) -> Utterance | None:
        return self._current

    def read(self, n: int) -> tuple[np.ndarray, Playing]:
        """Take the next `n` samples of the room's audio (silence when nothing is queued)."""
        out = np.zeros(n, np.int16)
        with self._lock:
            started = False
            if self._current is not None:
                length = len(self._current.speech.pcm) + int(GAP_SECONDS * SAMPLE_RATE)
                if self._cut is not None and self._pos >= int(self._cut[0] * SAMPLE_RATE):
                    self._yield_current()
                elif self._pos >= length or self._answer_waits_in_gap():
                    self._current = None
            while self._current is None and self._queue:
                nxt = self._queue.popleft()
                if nxt.not_after is not None and time.monotonic() > nxt.not_after:
                    self.late_dropped += 1  # an answer this late is left as the text reply
                    continue
                if not self._passes(nxt):
                    self.dropped += 1
                    continue
                self._current, self._pos = nxt, 0
                self._cut = None
                self.utterances_played += 1
                started = True
            cur = self._current
            if cur is None:
                return out, Playing(None, 0.0, False)
            state = Playing(cur, self._pos / SAMPLE_RATE, started)
            pcm = cur.speech.pcm
            end = len(pcm) if self._cut is None else int(self._cut[0] * SAMPLE_RATE)
            if self._pos < end:
                take = pcm[self._pos : min(self._pos + n, end)]
                out[: len(take)] = take
            self._pos += n
            return out, state

    def _answer_waits_in_gap(self) -> bool:
        """The line has been said and only its trailing pause is left: an answer (or any
        more urgent line) waiting behind it starts now instead of after the pause."""
        cur = self._current
        return (
            self._pos >= len(cur.speech.pcm)
            and bool(self._queue)
            and self._queue[0].priority < cur.priority
        )

    def _passes(self, utt: Utterance) -> bool:
        if self.gate is None or not utt.facts:
            return True
        try:
            return bool(self.gate(utt))
        except Exception:  # a failing check must not stop the stream; unchecked is unsaid
            log.exception("timeline gate failed")
            return False

    def revalidate(self, holds: Callable[[Utterance], bool]) -> tuple[int, bool]:
        """Facts changed: drop queued lines `holds` rejects and cut the playing one at its next
        break if it is rejected too (its rest is dropped as it would start).
        Returns (dropped, cut)."""
        with self._lock:
            before = len(self._queue)
            self._queue = deque(u for u in self._queue if not u.facts or holds(u))
            dropped = before - len(self._queue)
            self.dropped += dropped
            cur, cut = self._current, False
            if cur is not None and cur.facts and self._cut is None and not holds(cur):
                at = self._pos / SAMPLE_RATE + 0.02
                if at < cur.speech.duration:
                    self._cut = cur.speech.next_break(at)
                    cut = self._cut is not None
            return dropped, cut

    def _yield_current(self) -> None:
        """Stop the current line at its cut; its rest plays after the lines that cut in."""
        cur, (at, index) = self._current, self._cut
        _, rest = cur.speech.split(at, index)
        # gestures that had not begun move with the rest of the line; one under way ends here
        later = tuple(replace(g, start=g.start - at) for g in cur.gestures if g.start >= at)
        self._insert(replace(cur, speech=rest, gestures=later), after_equal=False)
        self._current, self._cut = None, None
        self.cuts += 1


def avatar_state(playing: Playing, t: float) -> AvatarState:
    """The host's face and arms at media time `t` for what the timeline is playing."""
    utt = playing.utterance
    if utt is None:
        return AvatarState(t=t)
    off = playing.offset
    speech = utt.speech
    speaking = off < speech.duration
    openness = speech.openness_at(off)
    # stress: the envelope rising above where it was 150 ms ago (only past samples: no lead)
    stress = (
        max(0.0, min(1.0, 2.5 * (openness - speech.openness_at(off - 0.15)))) if speaking else 0.0
    )
    cue = active_cue(utt.gestures, off)
    category = utt.card.category if utt.card is not None else None
    return AvatarState(
        t=t,
        viseme=speech.viseme_at(off),
        openness=openness,
        expression=utt.expression,
        speaking=speaking,
        gesture=cue[0].kind if cue else None,
        gesture_progress=cue[1] if cue else 0.0,
        stress=stress,
        presenting=bool(cue and cue[0].kind in ("present", "point")),
        product=(cue[0].category if cue and cue[0].category else category),
    )
