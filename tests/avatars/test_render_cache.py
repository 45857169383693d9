"""Cached rendering: the host drawn from cached layers and parts looks as the reference path
(every part drawn from paths each frame) does, and a real line reuses those caches."""

import numpy as np
import pytest
import skia

from avatars.art.parts import PartCache, rasterise_part
from avatars.gestures import plan_gestures
from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, Card
from avatars.voice import ESpeakVoice
from streamer.timeline import SpeechTimeline, Utterance, avatar_state

LINES = (
    "大家好，欢迎来到阜平好物直播间！看这里，阜平大枣个大肉厚，今天只要二十九块九一斤。",
    "谢谢家人们的支持，喜欢的点点关注，拍了的家人们马上发货。",
)
EXPRESSIONS = ("happy", "excited", "neutral", "thinking")
SIZES = {
    "landscape": (1280, 720),
    "portrait": (720, 1280),
    "landscape 480p": (854, 480),
    "portrait 480p": (480, 854),
}
CARD = Card("阜平大枣", "29.9", "斤", ("个大肉厚", "皮薄核小"), category="jujube")


def live_states(persona_id: str, frames: int) -> list:
    """(avatar state, caption, countdown) per frame of a real line with gestures and
    expression changes, as a room's media loop sees them."""
    persona = PERSONAS[persona_id]
    voice = ESpeakVoice()
    speeches = [voice.synthesize_sync(line, persona) for line in LINES]
    timeline = SpeechTimeline()
    out, k, caption = [], 0, ""
    for n in range(frames):
        if timeline.queued_seconds() < 1:
            s = speeches[k % len(speeches)]
            timeline.enqueue(
                Utterance(
                    speech=s,
                    expression=EXPRESSIONS[k % len(EXPRESSIONS)],
                    card=CARD,
                    gestures=plan_gestures(s.text, s.duration, "jujube"),
                )
            )
            k += 1
        _, playing = timeline.read(1920)
        if playing.started and playing.utterance is not None:
            caption = playing.utterance.speech.text
        out.append((avatar_state(playing, n / 25), caption, f"04:{59 - n // 25:02d}"))
    return out


def play(r: AvatarRenderer, states: list, keep_every: int = 1) -> list[np.ndarray]:
    frames = []
    for n, (state, caption, countdown) in enumerate(states):
        r.set_card(
            Card(CARD.title, CARD.price, CARD.unit, CARD.lines, "讲解中", "jujube", countdown)
        )
        r.set_caption(caption)
        img = r.render(state, n)
        if n % keep_every == 0:
            frames.append(img.copy())
    return frames


@pytest.mark.parametrize("orientation", list(SIZES))
@pytest.mark.parametrize("persona", list(PERSONAS))
def test_cached_rendering_looks_like_the_reference_renderer(persona, orientation):
    w, h = SIZES[orientation]
    states = live_states(persona, 200)
    ref = play(AvatarRenderer(PERSONAS[persona], width=w, height=h, cached=False), states, 5)
    fast = AvatarRenderer(PERSONAS[persona], width=w, height=h)
    got = play(fast, states, 5)
    background = fast._base[:, :, :3].astype(np.int16)
    for a, b in zip(ref, got, strict=True):
        assert np.abs(a.astype(np.int16) - b).mean() <= 2.0
        # the host's pixels in the reference (off the cached background) are there too
        host = np.abs(a.astype(np.int16) - background).max(axis=2) > 24
        there = np.abs(b.astype(np.int16) - background).max(axis=2) > 24
        assert host.sum() > 10_000
        assert (host & ~there).sum() <= 0.005 * host.sum()


def test_a_live_line_reuses_the_cached_layers():
    states = live_states("xiaowang", 250)
    assert any(s.gesture for s, _, _ in states)  # the line gestures
    assert len({s.expression for s, _, _ in states}) >= 2  # and changes expression
    r = AvatarRenderer(PERSONAS["xiaowang"])
    before = r.cache_stats  # head, hand and face parts are shared by the persona's renderers
    play(r, states, keep_every=1000)
    stats = r.cache_stats
    for shared in ("heads", "hands", "eyes", "brows", "cheeks", "mouths"):
        for count in ("hits", "misses"):
            stats[shared][count] -= before[shared][count]
    assert stats["scene"]["hits"] == 250 and stats["scene"]["misses"] == 1
    assert stats["card"]["hits"] > 0  # countdown ticks re-show cached card parts
    assert stats["hands"]["hits"] >= 2 * 250 * 0.6
    assert stats["heads"]["hits"] > 250 * 0.8
    # two eyes, brows and cheeks a frame, from parts drawn once per quantised pose
    assert stats["eyes"]["hits"] >= 2 * 250 * 0.7
    assert stats["brows"]["hits"] >= 2 * 250 * 0.85
    assert stats["cheeks"]["hits"] >= 2 * 250 * 0.85
    assert stats["mouths"]["hits"] > 0  # a closed mouth; an open one is drawn from its paths
    assert stats["countdowns"]["misses"] <= 11  # one per second shown
    for name, layer in stats.items():
        assert layer["size"] <= layer["limit"], name


def test_part_caches_stay_bounded_through_many_gestures():
    r = AvatarRenderer(PERSONAS["xiaoli"])
    states = live_states("xiaoli", 600)
    before = r.cache_stats["hands"]
    play(r, states, keep_every=1000)
    hands = r.cache_stats["hands"]
    assert hands["size"] <= hands["limit"]
    assert (hands["hits"] + hands["misses"]) - (before["hits"] + before["misses"]) == 2 * 600
    assert hands["hits"] - before["hits"] > 600


def test_a_part_cache_keeps_its_limit_and_drops_the_least_recently_used():
    cache = PartCache(limit=3)
    made = []

    def make(key):
        made.append(key)
        return rasterise_part(lambda c: c.drawCircle(0, 0, 4, skia.Paint()), (-5, -5, 5, 5), 1.0)

    for key in (1, 2, 3, 1, 4, 1, 2):
        cache.get(key, lambda k=key: make(k))
    assert made == [1, 2, 3, 4, 2]  # 2 was the oldest when 4 came in
    assert cache.stats == {"size": 3, "limit": 3, "hits": 2, "misses": 5}


class WholeBox(AvatarRenderer):
    """Redraws the whole character box every frame (what the renderer did before it kept
    track of the host's own region)."""

    def render(self, state, frame_index=0):
        self._last_host = None  # region unknown: the whole box
        return super().render(state, frame_index)


@pytest.mark.parametrize("orientation", list(SIZES))
@pytest.mark.parametrize("persona", list(PERSONAS))
def test_redrawing_only_the_hosts_region_gives_the_same_frames(persona, orientation):
    w, h = SIZES[orientation]
    states = live_states(persona, 150)
    region = AvatarRenderer(PERSONAS[persona], width=w, height=h)
    got = play(region, states, 3)
    want = play(WholeBox(PERSONAS[persona], width=w, height=h), states, 3)
    for n, (a, b) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(a, b), f"frame {3 * n} differs"
    x0, y0, x1, y1 = region.layout.char_box
    box_share = (x1 - x0) * (y1 - y0) / (w * h)
    assert 0.1 < region.host_region_share < 0.85 * box_share
