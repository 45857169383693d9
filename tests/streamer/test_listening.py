"""The host hears the room: answers cut in at a word boundary, mood changes delivery and
lines, and a 1,000-a-second flood neither stalls the stream nor grows memory."""

import asyncio
import gc
import os
import time

import numpy as np
import psutil
import pytest

from avatars.personas import PERSONAS
from avatars.voice import SAMPLE_RATE, ESpeakVoice, VoiceChain
from commerce.demo import DEMO_PRODUCTS
from danmaku.analysis import make_analyzer
from danmaku.messages import Comment, Enter, Gift
from danmaku.moderation import ModerationConfig, Moderator
from scripts_gen.template import TemplateWriter
from streamer.director import Director
from streamer.engine import Engine
from streamer.listener import Listener
from streamer.room import RoomConfig
from streamer.timeline import SpeechTimeline, Utterance

PERSONA = PERSONAS["xiaowang"]
CHUNK = SAMPLE_RATE // 25


def espeak(text: str):
    return ESpeakVoice().synthesize_sync(text, PERSONA)


async def catalog(room_id=None):
    return list(DEMO_PRODUCTS)


# --- timeline: cut at a word boundary ------------------------------------------------------


def test_speech_breaks_fall_on_word_boundaries_and_split_keeps_every_sample():
    s = espeak("阜平大枣个大肉厚，皮薄核小，今天直播间二十九块九一斤。")
    assert len(s.breaks) >= 5
    gaps = np.diff([0.0] + [b[0] for b in s.breaks] + [s.duration])
    assert gaps.max() < 1.5  # never more than a word or two between cut points
    at, index = s.breaks[len(s.breaks) // 2]
    head, tail = s.split(at, index)
    assert head.text + tail.text == s.text
    assert len(head.pcm) + len(tail.pcm) == len(s.pcm)
    assert s.text[index - 1] not in "大枣" or s.text[index] != "枣"  # never 阜平大|枣


def test_an_interrupting_answer_cuts_the_line_at_its_next_break_and_the_rest_follows():
    timeline = SpeechTimeline()
    line = espeak("阜平大枣个大肉厚，皮薄核小，今天直播间二十九块九一斤，喜欢的朋友点下方购物车。")
    timeline.enqueue(Utterance(line, kind="script"), priority=2)
    for _ in range(10):  # 0.4 s into the line
        timeline.read(CHUNK)
    answer = espeak("包邮的。")
    timeline.enqueue(Utterance(answer, kind="answer"), priority=0, interrupt=True)
    kinds, waited = [], 0
    for i in range(600):
        _, playing = timeline.read(CHUNK)
        if playing.started:
            kinds.append((playing.utterance.kind, playing.utterance.speech.text))
            if playing.utterance.kind == "answer":
                waited = i * CHUNK / SAMPLE_RATE
        if len(kinds) == 2:
            break
    assert kinds[0][0] == "answer" and kinds[1][0] == "script"
    assert waited < 1.5
    assert line.text.endswith(kinds[1][1]) and kinds[1][1] != line.text
    assert timeline.cuts == 1


def test_without_interrupt_an_answer_waits_for_the_whole_line():
    timeline = SpeechTimeline()
    line = espeak("阜平大枣个大肉厚，皮薄核小，今天直播间二十九块九一斤。")
    timeline.enqueue(Utterance(line, kind="script"), priority=2)
    timeline.read(CHUNK)
    timeline.enqueue(Utterance(espeak("包邮的。"), kind="answer"), priority=0)
    waited = 0.0
    for _ in range(1000):
        _, playing = timeline.read(CHUNK)
        if playing.started:
            break
        waited += CHUNK / SAMPLE_RATE
    assert playing.utterance.kind == "answer"
    assert waited >= line.duration - 0.1
    assert timeline.cuts == 0


# --- mood drives delivery ----------------------------------------------------------------


@pytest.fixture
async def room_ears():
    tasks = []

    def start():
        timeline = SpeechTimeline()
        spoken, events, tickets = [], [], []

        async def open_ticket(t):
            tickets.append(t)

        d = Director(
            "mood-room",
            PERSONA,
            TemplateWriter(seed=3),
            VoiceChain([ESpeakVoice()]),
            timeline,
            catalog,
            on_line=spoken.append,
            publish=events.append,
            open_ticket=open_ticket,
            seed=3,
        )
        ears = Listener("mood-room", d, make_analyzer(), events.append)
        tasks.append(asyncio.create_task(d.run()))
        return d, ears, timeline, spoken, events, tickets

    yield start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def drain(timeline: SpeechTimeline, seconds: float) -> None:
    """Play the timeline faster than real time so the Director keeps writing."""
    for _ in range(int(seconds * 25)):
        timeline.read(CHUNK)
        await asyncio.sleep(0.01)


NEGATIVE = ["太贵了", "发货太慢了", "大枣烂了好几个", "质量太差了", "客服不回消息", "不新鲜"]
POSITIVE = ["好吃", "yyds", "666", "大枣真甜", "支持家乡", "主播真实在", "回购了", "太香了"]


async def test_negative_then_positive_comments_change_delivery_and_lines(room_ears):
    d, ears, timeline, spoken, events, tickets = room_ears()
    await drain(timeline, 2)
    calm = d.mood_info()
    assert calm["mood"]["label"] == "calm"
    base_rate = d.delivery.rate

    for i in range(24):
        heard = ears.hear(Comment("mood-room", f"neg-{i}", f"买家{i}", text=NEGATIVE[i % 6]))
        assert heard.accepted
    upset = d.mood_info()
    assert upset["mood"]["label"] == "upset"
    assert upset["delivery"]["expression"] == "concerned"
    assert upset["delivery"]["rate"] < base_rate and upset["delivery"]["pitch"] < 1.0
    assert any(e.type == "mood" and e.label == "upset" for e in events)
    n0 = len(spoken)
    await drain(timeline, 20)
    after = spoken[n0:]
    scripts = [ln for ln in after if ln.kind in ("script", "filler")]
    assert scripts and all(ln.expression == "concerned" for ln in scripts)
    assert all(ln.rate < base_rate for ln in scripts)
    apologies = [ln for ln in after if ln.expression == "apologetic"]
    assert apologies and "对不住" in apologies[0].text
    await asyncio.sleep(0.1)
    assert tickets and {t.reason for t in tickets} <= {"quality", "shipping", "service"}

    for i in range(120):
        ears.hear(Comment("mood-room", f"pos-{i}", f"老乡{i}", text=POSITIVE[i % 8]))
    back = d.mood_info()
    assert back["mood"]["label"] in ("happy", "excited")
    assert back["delivery"]["expression"] in ("happy", "excited")
    n1 = len(spoken)
    await drain(timeline, 20)
    scripts = [ln for ln in spoken[n1:] if ln.kind in ("script", "filler")]
    assert scripts and all(ln.expression in ("happy", "excited") for ln in scripts)
    assert all(ln.rate >= base_rate for ln in scripts)


async def test_gifts_and_arrivals_are_thanked_once_per_cooldown_by_name(room_ears):
    d, ears, timeline, spoken, events, _ = room_ears()
    for i in range(30):
        ears.hear(Gift("mood-room", f"g{i}", "枣乡人", gift="小心心"))
        ears.hear(Enter("mood-room", f"e{i}", f"新朋友{chr(0x4E00 + i)}"))
    await drain(timeline, 4)
    thanks = [ln for ln in spoken if "小心心" in ln.text]
    greets = [ln for ln in spoken if "欢迎" in ln.text]
    assert len(thanks) == 1 and "枣乡人" in thanks[0].text
    assert len(greets) <= 1
    assert d.stats.heard["gift"] == 30


async def test_hostile_nicknames_never_reach_the_hosts_mouth(room_ears):
    d, ears, timeline, spoken, _, _ = room_ears()
    for name in ("全场一元", "加V123456", "<script>", "最好的大枣"):
        ears.hear(Gift("mood-room", f"h-{name}", name, gift="玫瑰"))
    await drain(timeline, 2)
    said = " ".join(ln.text for ln in spoken)
    for bad in ("一元", "123456", "<", "最好"):
        assert bad not in said


# --- a flood: 1,000 comments a second for 10 s -----------------------------------------


async def test_a_flood_of_comments_keeps_the_stream_at_25_fps_and_memory_bounded():
    tickets = []

    async def open_ticket(t):
        tickets.append(t)

    engine = Engine(catalog, open_ticket=open_ticket)
    try:
        await engine.start_room(RoomConfig(room_id="flood"))
        room = engine.rooms["flood"]
        room.listener.moderator = Moderator(ModerationConfig(room_rate=2000, room_burst=2000))
        q = engine.subscribe("flood", maxsize=100)
        await asyncio.sleep(3)  # past start-up (the renderer fills its caches), then measure
        # a long test session leaves a heap no server carries; freeze it so the flood's own
        # garbage collections cost what they would in `yunlian serve`, not a stalled GIL
        gc.collect()
        gc.freeze()
        proc = psutil.Process(os.getpid())
        rss0 = proc.memory_info().rss
        await asyncio.sleep(1)  # before the flood is measured
        frames0, skipped0 = room.metrics.frames, room.metrics.skipped_frames
        engine.simulate("flood", rate=1000, mood="mixed", duration=10)
        await asyncio.sleep(10.5)
        frames = room.metrics.frames - frames0
        skipped = room.metrics.skipped_frames - skipped0
        gc.collect()  # after the frames are counted
        growth = proc.memory_info().rss - rss0
        stats = room.listener.info()
    finally:
        gc.unfreeze()
        await engine.close()
    assert stats["messages"] >= 9000
    # every 40 ms tick ran (audio is never skipped); a video frame is skipped only when the
    # machine stalls the media thread 200 ms, which a flood alone must not cause
    assert frames + skipped >= 255 and frames >= 245, (frames, skipped)
    assert skipped <= 0.02 * (frames + skipped), (frames, skipped)
    mod = stats["moderation"]
    reasons = {k: v for k, v in mod.items() if k not in ("checked", "evicted_users")}
    assert sum(reasons.values()) == mod["checked"] == stats["comments"]
    assert len(room.director.questions) <= 32
    assert q.qsize() <= 100 and engine.events_dropped > 0
    assert room.director.questions.stats.merged + room.director.questions.stats.dropped > 0
    assert growth < 150 * 2**20, f"memory grew {growth / 2**20:.0f} MB"


def test_an_answer_queued_in_a_lines_trailing_pause_starts_at_once():
    timeline = SpeechTimeline()
    line = espeak("阜平大枣。")
    timeline.enqueue(Utterance(line, kind="script"), priority=2)
    while True:  # play the line to its last sample; only its pause is left
        _, playing = timeline.read(CHUNK)
        if playing.offset + CHUNK / SAMPLE_RATE >= line.duration:
            break
    timeline.read(CHUNK)
    timeline.enqueue(Utterance(espeak("包邮的。"), kind="answer"), priority=0, interrupt=True)
    _, playing = timeline.read(CHUNK)
    assert playing.started and playing.utterance.kind == "answer"


def _room_on_a_hand_clock(room_id: str):
    """A Director and its Listener whose mood runs on a clock the test moves by hand."""
    events: list = []
    d = Director(
        room_id,
        PERSONA,
        TemplateWriter(seed=3),
        VoiceChain([ESpeakVoice()]),
        SpeechTimeline(),
        catalog,
        publish=events.append,
        seed=3,
    )
    ears = Listener(room_id, d, make_analyzer(), events.append)
    now = [time.monotonic()]
    d.moods.room._clock = lambda: now[0]  # the room's time, moved by hand
    return events, d, ears, now


async def test_reading_the_mood_changes_nothing_and_the_tick_moves_it():
    events, d, ears, now = _room_on_a_hand_clock("poll-room")
    for i in range(24):
        now[0] += 0.25
        ears.hear(Comment("poll-room", f"neg-{i}", f"买家{i}", text=NEGATIVE[i % 6]))
    assert d.mood_info()["mood"]["label"] == "upset"
    now[0] += 120.0  # long silence: only a tick may bring the room back to calm
    seen, n_events = d.mood_info(), len(events)
    for _ in range(100):  # 100 reads a second for one second
        assert d.mood_info() == seen
        await asyncio.sleep(0.01)
    assert len(events) == n_events and d.moods.label == "upset"
    d.tick_mood()
    assert d.mood_info()["mood"]["label"] == "calm"
    assert [e.label for e in events[n_events:] if e.type == "mood"] == ["calm"]
    await d.aclose()


async def test_thirty_complaints_then_thirty_praises_make_the_room_happy_within_ten_seconds():
    events, d, ears, now = _room_on_a_hand_clock("turn-room")
    for i in range(30):
        now[0] += 0.25
        ears.hear(Comment("turn-room", f"neg-{i}", f"买家{i}", text=NEGATIVE[i % 6]))
    assert d.mood_info()["mood"]["label"] == "upset"
    start, happy_at = now[0], None
    for i in range(30):
        now[0] += 0.25
        ears.hear(Comment("turn-room", f"pos-{i}", f"老乡{i}", text=POSITIVE[i % 8]))
        d.tick_mood()
        if happy_at is None and d.mood_info()["mood"]["label"] in ("happy", "excited"):
            happy_at = now[0] - start
    assert happy_at is not None and happy_at <= 10.0, happy_at
    assert d.delivery.expression in ("happy", "excited") and d.delivery.rate > 1.0
    quiet, calm_at = now[0], None
    while calm_at is None and now[0] - quiet < 60.0:
        now[0] += 0.5  # the room's own tick
        d.tick_mood()
        if d.mood_info()["mood"]["label"] == "calm":
            calm_at = now[0] - quiet
    assert calm_at is not None, "silence did not bring the room back to calm within 60 s"
    assert [e.label for e in events if e.type == "mood"][-1] == "calm"
    await d.aclose()
