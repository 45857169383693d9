"""Room mood: decayed sentiment and intent mix, hysteretic labels, delivery."""

import math

import pytest

from danmaku.messages import INTENT_PRIORITY, Analysis
from danmaku.mood import MOOD_LABELS, Delivery, Mood, RoomMood, delivery_for
from scripts_gen.base import SegmentContext


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


NEG = Analysis("neg", -0.8, "complaint")
POS = Analysis("pos", 0.7, "praise")
BUY = Analysis("neu", 0.1, "purchase")
ASK = Analysis("neu", 0.0, "question")


def feed(mood: RoomMood, clock: FakeClock, analysis: Analysis, n: int, gap: float = 0.5) -> None:
    for _ in range(n):
        clock.t += gap
        mood.update(analysis)


def test_empty_room_is_calm_with_zero_shares():
    snap = RoomMood(clock=FakeClock()).snapshot()
    assert snap.label == "calm" and snap.score == 0.0 and snap.volume == 0.0
    assert set(snap.intents) == set(INTENT_PRIORITY) and sum(snap.intents.values()) == 0.0
    assert delivery_for(snap) == Delivery("neutral", 1.0, 1.0)


def test_negative_run_makes_room_upset_and_host_concerned_and_slower():
    clock = FakeClock()
    mood = RoomMood(half_life=20, clock=clock)
    feed(mood, clock, ASK, 5)
    feed(mood, clock, NEG, 8)
    snap = mood.snapshot()
    assert snap.label == "upset" and snap.score < -0.25
    delivery = delivery_for(snap)
    assert delivery.expression == "concerned"
    assert delivery.rate < 1.0 and delivery.pitch < 1.0


def test_positive_comments_bring_an_upset_room_back():
    clock = FakeClock()
    mood = RoomMood(half_life=20, clock=clock)
    feed(mood, clock, NEG, 8)
    assert mood.snapshot().label == "upset"
    feed(mood, clock, POS, 40)
    snap = mood.snapshot()
    assert snap.label in ("happy", "excited") and snap.score > 0.2
    assert delivery_for(snap).rate > 1.0


def test_buying_room_is_excited():
    clock = FakeClock()
    mood = RoomMood(clock=clock)
    feed(mood, clock, BUY, 10)
    feed(mood, clock, POS, 3)
    snap = mood.snapshot()
    assert snap.label == "excited"
    d = delivery_for(snap)
    assert d.expression == "excited" and d.rate > delivery_for(Mood(0.3, "happy")).rate


def test_mood_decays_back_to_calm_when_the_room_goes_quiet():
    clock = FakeClock()
    mood = RoomMood(half_life=20, clock=clock)
    feed(mood, clock, NEG, 10)
    assert mood.snapshot().label == "upset"
    clock.t += 20
    assert mood.snapshot().volume == pytest.approx(10 * 0.5 ** ((20 + 2.25) / 20), rel=0.05)
    clock.t += 200
    snap = mood.snapshot()
    assert snap.label == "calm" and snap.volume < 0.01 and abs(snap.score) < 0.01


def test_one_comment_does_not_flip_the_label():
    clock = FakeClock()
    mood = RoomMood(clock=clock)
    feed(mood, clock, ASK, 4)
    mood.update(Analysis("neg", -1.0, "complaint"))
    assert mood.snapshot().label == "calm"  # a single complaint in a calm room

    feed(mood, clock, NEG, 12)
    assert mood.snapshot().label == "upset"
    mood.update(Analysis("pos", 1.0, "praise"))
    assert mood.snapshot().label == "upset"  # one kind word does not end it


def test_hysteresis_keeps_label_inside_the_band():
    clock = FakeClock()
    mood = RoomMood(half_life=20, clock=clock)
    feed(mood, clock, Analysis("neg", -0.5, "other"), 12)
    assert mood.snapshot().label == "upset"
    # neutral chatter pulls the score back into the band between exit (-0.10) and enter (-0.25)
    labels = []
    for _ in range(20):
        clock.t += 0.5
        mood.update(Analysis("neu", 0.0, "other"))
        snap = mood.snapshot()
        labels.append((snap.label, round(snap.score, 3)))
    in_band = [label for label, score in labels if -0.25 < score <= -0.10]
    assert in_band and set(in_band) == {"upset"}
    # a fresh room at the same score does not become upset
    fresh_clock = FakeClock()
    fresh = RoomMood(half_life=20, clock=fresh_clock)
    feed(fresh, fresh_clock, Analysis("neg", -0.3, "other"), 3)
    feed(fresh, fresh_clock, Analysis("neu", 0.0, "other"), 4)
    assert -0.25 < fresh.snapshot().score <= -0.10
    assert fresh.snapshot().label == "calm"


def test_intent_shares_sum_to_one_and_reflect_the_mix():
    clock = FakeClock()
    mood = RoomMood(clock=clock)
    for i in range(70):
        clock.t += 0.1
        mood.update(Analysis("neu", 0.0, INTENT_PRIORITY[i % 7]))
    shares = mood.snapshot().intents
    assert set(shares) == set(INTENT_PRIORITY)
    assert math.isclose(sum(shares.values()), 1.0, rel_tol=1e-9)
    assert all(0.1 < v < 0.2 for v in shares.values())


def test_trend_shows_complaints_rising():
    clock = FakeClock()
    mood = RoomMood(half_life=10, clock=clock)
    feed(mood, clock, ASK, 60, gap=1.0)
    assert abs(mood.trend("complaint")) < 1e-9
    feed(mood, clock, NEG, 10, gap=1.0)
    assert mood.trend("complaint") > 0.1
    assert mood.trend("question") < 0


def test_out_of_order_and_bad_values_are_absorbed():
    clock = FakeClock()
    mood = RoomMood(clock=clock)
    clock.t = 100
    mood.update(POS, ts=100)
    mood.update(POS, ts=80)  # late: counts at its decayed weight
    mood.update(Analysis("pos", float("nan"), "praise"))
    mood.update(Analysis("pos", 7.0, "made-up-intent"))  # type: ignore[arg-type]
    snap = mood.snapshot()
    assert -1.0 <= snap.score <= 1.0 and math.isfinite(snap.score)
    assert 3.0 < snap.volume < 4.0
    assert math.isclose(sum(snap.intents.values()), 1.0)


def test_labels_are_scripts_gen_moods_and_delivery_stays_in_range():
    context_moods = SegmentContext.__dataclass_fields__["mood"].default
    assert context_moods in MOOD_LABELS
    for label in (*MOOD_LABELS, "unknown"):
        d = delivery_for(Mood(0.0, label))
        assert 0.8 <= d.rate <= 1.25 and 0.85 <= d.pitch <= 1.2


def test_label_follows_a_clear_change_of_balance_within_ten_seconds():
    clock = FakeClock()
    mood = RoomMood(clock=clock)
    feed(mood, clock, NEG, 30, gap=0.25)
    assert mood.snapshot().label == "upset"
    start, happy_at = clock.t, None
    for _ in range(30):
        clock.t += 0.25
        mood.update(POS)
        if happy_at is None and mood.snapshot().label in ("happy", "excited"):
            happy_at = clock.t - start
    assert happy_at is not None and happy_at <= 10.0
    assert mood.snapshot().label == "happy"


def test_silence_returns_a_busy_room_to_calm_within_a_minute():
    for n, gap in ((60, 0.25), (3000, 0.01)):  # a modest room and a flood
        clock = FakeClock()
        mood = RoomMood(clock=clock)
        feed(mood, clock, NEG, n, gap=gap)
        assert mood.snapshot().label == "upset"
        clock.t += 60.0
        assert mood.snapshot().label == "calm"


def test_one_complaint_does_not_end_a_happy_room():
    clock = FakeClock()
    mood = RoomMood(clock=clock)
    feed(mood, clock, Analysis("pos", 0.4, "praise"), 20, gap=0.25)
    assert mood.snapshot().label == "happy"
    clock.t += 0.25
    mood.update(Analysis("neg", -1.0, "complaint"))
    assert mood.snapshot().label == "happy"


def test_a_saved_mood_is_taken_up_by_a_new_room_and_keeps_decaying():
    clock = FakeClock()
    mood = RoomMood(clock=clock)
    feed(mood, clock, POS, 12, gap=0.3)
    before = mood.snapshot()
    assert before.label in ("happy", "excited")
    saved = mood.state()

    later = FakeClock()
    later.t = 1000.0  # another process: another monotonic clock
    restored = RoomMood(clock=later)
    restored.restore(saved)
    after = restored.snapshot()
    assert after.label == before.label
    assert after.score == pytest.approx(before.score, abs=0.02)
    assert after.volume == pytest.approx(before.volume, rel=0.05)
    later.t += 40.0  # silence past SILENCE: calm, as the old room would have been
    assert restored.snapshot().label == "calm"


def test_an_unreadable_saved_mood_starts_calm():
    mood = RoomMood(clock=FakeClock())
    mood.restore({"label": "furious", "fast": {"volume": "x"}})
    assert mood.snapshot().label == "calm"
