"""What the host reacts to, and how often: names to greet and thank, complaints to apologise
for, and a cooldown per kind of reaction (the host hears everyone, speaks sparingly)."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

from commerce.facts import ProductFacts
from danmaku.mood import RoomMood
from scripts_gen import Line, reactions

# per-kind cooldowns in seconds
COOLDOWN = {"greet": 20.0, "gift": 8.0, "follow": 15.0, "apology": 10.0, "value": 45.0, "cta": 30.0}
THANKS_INTERVAL = 8.0  # at most one spoken thank-you per this many seconds
MAX_NAMES = 20  # names remembered for the next greeting / thanks (bounded)
PRICE_TREND = 0.15  # complaint share rising by this much (fast vs slow window) re-explains value
PURCHASE_TREND = 0.15


class Cues:
    """Names waiting for a reaction, and when each kind of reaction was last said."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.names: dict[str, deque[str]] = {k: deque(maxlen=MAX_NAMES) for k in COOLDOWN}
        self.gift = "礼物"
        self.complainers: deque[str] = deque(maxlen=MAX_NAMES)
        self._last: dict[str, float] = {k: -v for k, v in COOLDOWN.items()}
        self._last_thanks = -THANKS_INTERVAL

    def heard(self, kind: str, nickname: str, gift: str | None = None) -> None:
        """Someone to react to: kind "greet", "gift", "follow" or "apology"."""
        if kind == "apology":
            self.complainers.append(nickname)
            return
        self.names[kind].append(nickname)
        if gift:
            self.gift = gift

    def due(self, kind: str) -> bool:
        return self.clock() - self._last[kind] >= COOLDOWN[kind]

    def thanks_due(self) -> bool:
        """A buyer may be thanked aloud now (and the next one not before THANKS_INTERVAL)."""
        now = self.clock()
        if now - self._last_thanks < THANKS_INTERVAL:
            return False
        self._last_thanks = now
        return True

    def pick(
        self, persona: str, product: ProductFacts | None, mood: RoomMood, rng: random.Random
    ) -> tuple[str, Line | None] | None:
        """The one reaction most worth saying now, if its cooldown allows; its cooldown
        starts now. The line is None when the reaction was folded (nothing worth saying)."""
        picked = self._choose(persona, product, mood, rng)
        if picked is not None:
            self._last[picked[0]] = self.clock()
        return picked

    def _choose(
        self, pid: str, product: ProductFacts | None, mood: RoomMood, rng: random.Random
    ) -> tuple[str, Line | None] | None:
        if self.complainers and self.due("apology"):
            names = list(self.complainers)
            self.complainers.clear()
            return "apology", reactions.apologize(pid, names, product)
        if product is not None and self.due("value") and mood.trend("complaint") > PRICE_TREND:
            return "value", reactions.reexplain_value(pid, product, rng)
        if (
            product is not None
            and not product.sold_out
            and self.due("cta")
            and mood.trend("purchase") > PURCHASE_TREND
        ):
            return "cta", reactions.call_to_action(pid, product, rng)
        for kind, make in (
            ("gift", lambda names: reactions.thank_gift(pid, names, self.gift, rng)),
            ("follow", lambda names: reactions.thank_follow(pid, names, rng)),
            ("greet", lambda names: reactions.greet(pid, names, rng)),
        ):
            if self.names[kind] and self.due(kind):
                names = list(self.names[kind])
                self.names[kind].clear()
                return kind, make(names)
        return None
