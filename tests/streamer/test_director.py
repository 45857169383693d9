"""The speech timeline (media clock side) and the Director that keeps it filled."""

import asyncio
import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from avatars.personas import PERSONAS
from avatars.voice import ENVELOPE_HZ, SAMPLE_RATE, ESpeakVoice, Speech, VoiceChain
from commerce.demo import DEMO_PRODUCTS
from scripts_gen import Line
from streamer import director as director_mod
from streamer.director import LOOKAHEAD_SECONDS, Director, filler_line, product_card
from streamer.timeline import GAP_SECONDS, Playing, SpeechTimeline, Utterance, avatar_state

PERSONA = PERSONAS["xiaowang"]
CHUNK = SAMPLE_RATE // 25  # one video frame of audio, as the media thread reads it
GAP = int(GAP_SECONDS * SAMPLE_RATE)
JUJUBE, WALNUT, CHESTNUT, MILLET = DEMO_PRODUCTS[:4]


# --- helpers -------------------------------------------------------------------------------


def tone_speech(text: str, seconds: float, level: int) -> Speech:
    """A synthetic utterance: constant non-zero PCM so every sample is recognisable."""
    n = int(seconds * SAMPLE_RATE)
    return Speech(
        text=text,
        pcm=np.full(n, level, np.int16),
        visemes=((0.0, "open"), (seconds / 2, "round")),
        envelope=np.full(int(seconds * ENVELOPE_HZ), 0.8, np.float32),
    )


def utt(text: str, seconds: float = 0.2, level: int = 1000, kind: str = "script") -> Utterance:
    return Utterance(speech=tone_speech(text, seconds, level), kind=kind)


def read_all(timeline: SpeechTimeline, chunks: int) -> tuple[np.ndarray, list[Playing]]:
    out, states = [], []
    for _ in range(chunks):
        pcm, playing = timeline.read(CHUNK)
        out.append(pcm)
        states.append(playing)
    return np.concatenate(out), states


def play_through(timeline: SpeechTimeline, max_chunks: int = 2000) -> list[Utterance]:
    """Read the timeline until it is empty; the utterances in the order they started."""
    started = []
    for _ in range(max_chunks):
        _, playing = timeline.read(CHUNK)
        if playing.started:
            started.append(playing.utterance)
        if playing.utterance is None:
            return started
    raise AssertionError("timeline never ran dry")


async def until(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait for `cond` (a safety net, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


class FakeWriter:
    """A ScriptWriter whose segment yields `lines(product)`; records what it was asked."""

    def __init__(self, lines: Callable[[object], list[str]] | None = None, endless: bool = False):
        self.lines = lines or (lambda p: [f"{p.title}，个大肉厚。", f"{p.title}，甜。"])
        self.endless = endless
        self.asked: list[str] = []  # SKUs, one per segment
        self.pulled = 0

    async def segment(self, product, context):
        self.asked.append(product.sku)
        i = 0
        while True:
            for text in self.lines(product):
                self.pulled += 1
                i += 1
                yield Line(text=text, product_sku=product.sku)
            if not self.endless:
                return

    async def answer(self, question, context):
        raise NotImplementedError

    def render(self, product, section, context):
        return None  # nothing to say again: the Director falls back to a filler

    def stats(self) -> dict:
        return {}


class HangingWriter(FakeWriter):
    async def segment(self, product, context):
        self.asked.append(product.sku)
        await asyncio.sleep(3600)
        yield Line(text="never")


class BrokenWriter(FakeWriter):
    async def segment(self, product, context):
        self.asked.append(product.sku)
        raise RuntimeError("model backend exploded")
        yield Line(text="never")  # pragma: no cover - makes this an async generator


def catalog_of(*products):
    async def catalog(room_id=None):
        return list(products)

    return catalog


@pytest.fixture
def voice() -> VoiceChain:
    return VoiceChain([ESpeakVoice()], timeout=5.0)


@pytest.fixture
async def run_director(voice):
    """Start Directors as tasks; they are cancelled when the test ends."""
    tasks: list[asyncio.Task] = []

    def start(writer, products=DEMO_PRODUCTS, **kw) -> tuple[Director, SpeechTimeline, list]:
        timeline = SpeechTimeline()
        spoken: list[Line] = []
        d = Director(
            "test-room",
            PERSONA,
            writer,
            voice,
            timeline,
            catalog_of(*products),
            on_line=spoken.append,
            **kw,
        )
        tasks.append(asyncio.create_task(d.run()))
        return d, timeline, spoken

    yield start
    for t in tasks:
        t.cancel()
    for t in tasks:
        with pytest.raises(asyncio.CancelledError):
            await t


# --- SpeechTimeline ------------------------------------------------------------------------


def test_empty_timeline_reads_silence():
    timeline = SpeechTimeline()
    pcm, playing = timeline.read(CHUNK)
    assert pcm.dtype == np.int16 and len(pcm) == CHUNK and not pcm.any()
    assert playing == Playing(None, 0.0, False)
    assert timeline.queued_seconds() == 0.0 and timeline.current is None


def test_timeline_plays_utterances_in_order_with_a_gap_between_them():
    timeline = SpeechTimeline()
    a, b = utt("a", 0.2, 1000), utt("b", 0.3, 2000)
    timeline.enqueue(a)
    timeline.enqueue(b)
    assert timeline.queued_seconds() == pytest.approx(0.2 + 0.3 + 2 * GAP_SECONDS)
    pcm, _ = read_all(timeline, 60)
    na, nb = len(a.speech.pcm), len(b.speech.pcm)
    assert (pcm[:na] == 1000).all()
    b_start = int(np.argmax(pcm == 2000))
    assert b_start >= na + GAP  # at least the sentence gap of silence
    assert b_start - (na + GAP) < CHUNK  # ... and no more than rounding up to a chunk
    assert not pcm[na:b_start].any()
    assert (pcm[b_start : b_start + nb] == 2000).all()
    assert not pcm[b_start + nb :].any()
    assert timeline.utterances_played == 2
    assert timeline.queued_seconds() == 0.0


def test_playing_started_is_true_only_on_the_first_chunk_of_each_utterance():
    timeline = SpeechTimeline()
    a, b = utt("a"), utt("b")
    timeline.enqueue(a)
    timeline.enqueue(b)
    _, states = read_all(timeline, 60)
    starts = [(i, s.utterance) for i, s in enumerate(states) if s.started]
    assert [u for _, u in starts] == [a, b]
    assert starts[0][0] == 0
    for s in states:
        if s.started:
            assert s.offset == 0.0
        elif s.utterance is not None:
            assert s.offset > 0.0
    assert states[-1].utterance is None  # played out


def test_front_enqueue_plays_after_the_current_sentence():
    timeline = SpeechTimeline()
    first, second, urgent = utt("first"), utt("second"), utt("urgent", kind="answer")
    timeline.enqueue(first)
    timeline.enqueue(second)
    timeline.read(CHUNK)  # `first` is now playing
    timeline.enqueue(urgent, priority=0)
    assert [u.speech.text for u in play_through(timeline)] == ["urgent", "second"]


def test_clear_pending_keeps_the_current_and_accepted_utterances():
    timeline = SpeechTimeline()
    for u in (utt("now"), utt("s1"), utt("a1", kind="answer"), utt("s2")):
        timeline.enqueue(u)
    timeline.read(CHUNK)
    assert timeline.clear_pending(keep=lambda u: u.kind == "answer") == 2
    assert timeline.current.speech.text == "now"
    assert [u.speech.text for u in play_through(timeline)] == ["a1"]


def test_avatar_state_speaks_during_the_utterance_and_not_in_the_trailing_gap():
    timeline = SpeechTimeline()
    u = Utterance(speech=tone_speech("a", 0.4, 1000), expression="happy")
    timeline.enqueue(u)
    _, states = read_all(timeline, 40)
    faces = [(s, avatar_state(s, i / 25)) for i, s in enumerate(states)]
    talking = [f for s, f in faces if s.utterance is u and s.offset < 0.4]
    in_gap = [f for s, f in faces if s.utterance is u and s.offset >= 0.4]
    after = [f for s, f in faces if s.utterance is None]
    assert talking and in_gap and after
    assert all(f.speaking and f.expression == "happy" and f.openness > 0.5 for f in talking)
    assert {f.viseme for f in talking} == {"open", "round"}
    assert not any(f.speaking for f in in_gap)
    assert all(f.openness == 0.0 for f in in_gap)
    assert not any(f.speaking for f in after)
    assert all(f.expression == "neutral" and f.viseme == "rest" for f in after)


# --- Director ------------------------------------------------------------------------------


def test_filler_line_and_card_are_grounded_in_the_fact_sheet():
    line = filler_line(JUJUBE)
    assert line.kind == "filler" and line.product_sku == JUJUBE.sku
    assert JUJUBE.title in line.text and "29.9" in line.text and JUJUBE.unit in line.text
    assert line.sources == (f"catalog:{JUJUBE.sku}",)
    card = product_card(JUJUBE)
    assert (card.title, card.price, card.unit) == (JUJUBE.title, "29.9", "斤")
    assert card.lines == (*JUJUBE.features[:3], JUJUBE.promo)


async def test_director_fills_the_timeline_up_to_the_lookahead_and_stops(run_director):
    writer = FakeWriter(endless=True)
    d, timeline, spoken = run_director(writer)
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    lines = d.stats.lines
    await asyncio.sleep(0.5)  # several Director cycles: an unread timeline must not grow
    assert d.stats.lines == lines
    assert writer.pulled == lines
    queued = list(timeline._queue)
    assert len(queued) == lines == len(spoken)
    # it only added a line while below the lookahead
    before_last = sum(u.speech.duration + GAP_SECONDS for u in queued[:-1])
    assert before_last < LOOKAHEAD_SECONDS
    assert all(u.speech.duration > 0.3 and u.kind == "script" for u in queued)
    assert [u.speech.text for u in queued] == [line.text for line in spoken]
    assert all(u.card is not None and u.card.title == JUJUBE.title for u in queued)
    assert d.current_product == JUJUBE


async def test_director_keeps_the_timeline_ahead_while_it_is_read(run_director):
    writer = FakeWriter()
    d, timeline, _ = run_director(writer)
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    for _ in range(40):  # the media thread consumes several sentences
        timeline.read(SAMPLE_RATE // 2)
        await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "refilled")
    # two-line segments: it moved on through the lineup in catalogue order
    assert writer.asked[:3] == [p.sku for p in DEMO_PRODUCTS[:3]]
    assert d.stats.fillers == 0 and d.stats.writer_errors == 0


async def test_said_answer_plays_right_after_the_current_sentence(run_director):
    d, timeline, _ = run_director(FakeWriter(endless=True))
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    timeline.read(CHUNK)
    current = timeline.current
    d.say(Line(text="这位朋友问得好，大枣包邮。", kind="answer", product_sku=JUJUBE.sku))
    await until(lambda: d.stats.by_kind.get("answer") == 1, "answer synthesized")
    started = play_through(timeline)
    assert current.kind == "script"
    assert started[0].kind == "answer"
    assert started[0].speech.text == "这位朋友问得好，大枣包邮。"
    assert all(u.kind == "script" for u in started[1:])
    assert d.stats.interruptions == 1


async def test_two_answers_play_in_the_order_they_were_said(run_director):
    d, timeline, _ = run_director(FakeWriter(endless=True))
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    timeline.read(CHUNK)
    d.say(Line(text="第一位朋友，大枣是今年的新枣。", kind="answer"))
    d.say(Line(text="第二位朋友，顺丰包邮。", kind="answer"))
    await until(lambda: d.stats.by_kind.get("answer") == 2, "answers synthesized")
    answers = [u.speech.text for u in play_through(timeline) if u.kind == "answer"]
    assert answers == ["第一位朋友，大枣是今年的新枣。", "第二位朋友，顺丰包邮。"]


async def test_an_answer_is_not_overtaken_by_a_later_reaction(run_director):
    # documented priority: answer > reaction > script
    d, timeline, _ = run_director(FakeWriter(endless=True))
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    timeline.read(CHUNK)
    d.say(Line(text="这位朋友问得好，大枣包邮。", kind="answer"))
    d.say(Line(text="谢谢大家的点赞！", kind="reaction"))
    await until(lambda: d.stats.lines >= 2 and "reaction" in d.stats.by_kind, "lines synthesized")
    kinds = [u.kind for u in play_through(timeline) if u.kind != "script"]
    assert kinds == ["answer", "reaction"]


async def test_hanging_writer_gets_a_filler_after_the_deadline(run_director, monkeypatch):
    monkeypatch.setattr(director_mod, "WRITER_DEADLINE", 0.2)
    d, timeline, spoken = run_director(HangingWriter())
    await until(lambda: d.stats.by_kind.get("filler", 0) >= 1, "a filler line")
    filler = spoken[0]
    assert filler.kind == "filler"
    assert JUJUBE.title in filler.text and "29.9" in filler.text
    assert filler.product_sku == JUJUBE.sku
    assert d.stats.fillers >= 1 and d.stats.writer_errors == 0
    first = timeline.read(CHUNK)[1].utterance
    assert first.kind == "filler" and first.card.title == JUJUBE.title
    assert first.speech.duration > 1.0


async def test_writer_that_raises_gets_a_filler_and_is_counted(run_director):
    writer = BrokenWriter()
    d, timeline, spoken = run_director(writer)
    await until(lambda: d.stats.writer_errors >= 1 and spoken, "a filler after the error")
    assert spoken[0].kind == "filler"
    assert JUJUBE.title in spoken[0].text and "29.9" in spoken[0].text
    for _ in range(20):  # the media thread plays the filler; the Director tries the next product
        if len(writer.asked) >= 2:
            break
        timeline.read(SAMPLE_RATE)
        await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "refilled")
    assert writer.asked[:2] == [JUJUBE.sku, WALNUT.sku]  # it moves on, the room keeps talking
    assert d.stats.writer_errors >= 2


async def test_sold_out_products_are_skipped_and_counted(run_director):
    sold_out = [dataclasses.replace(p, stock=0) for p in (JUJUBE, CHESTNUT)]
    lineup = (sold_out[0], WALNUT, sold_out[1], MILLET)
    writer = FakeWriter(lambda p: [f"{p.title}好。"])
    d, timeline, spoken = run_director(writer, products=lineup)
    for _ in range(20):
        await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
        if len(writer.asked) >= 3:
            break
        timeline.read(SAMPLE_RATE)
    assert writer.asked[:3] == [WALNUT.sku, MILLET.sku, WALNUT.sku]
    assert d.stats.products_skipped >= 2
    assert {line.product_sku for line in spoken} <= {WALNUT.sku, MILLET.sku}


async def test_lineup_limits_and_orders_the_products(run_director):
    writer = FakeWriter(lambda p: [f"{p.title}好。"])
    d, timeline, _ = run_director(writer, lineup=[MILLET.sku, "no-such-sku", WALNUT.sku])
    for _ in range(20):
        await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
        if len(writer.asked) >= 3:
            break
        timeline.read(SAMPLE_RATE)
    assert writer.asked[:3] == [MILLET.sku, WALNUT.sku, MILLET.sku]
    assert d.stats.products_skipped == 0


async def test_paid_order_gets_a_thanks_by_surname_and_becomes_a_live_fact(run_director):
    d, timeline, spoken = run_director(FakeWriter(endless=True))
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    d.on_shop_event("order_paid", JUJUBE.sku, {"buyer": "李**", "quantity": 2, "unit": "斤"})
    d.on_shop_event("order_paid", JUJUBE.sku, {"buyer": "王*", "quantity": 1, "unit": "斤"})
    await until(lambda: d.stats.by_kind.get("reaction") == 1, "one thank-you")
    thanks = next(line for line in spoken if line.kind == "reaction")
    assert "李" in thanks.text and "*" not in thanks.text and "@" not in thanks.text
    assert d.live_events == ["刚刚 @李** 拍了2斤大枣", "刚刚 @王* 拍了1斤大枣"]
    # rate-limited: the second order is a live fact, not a second thank-you
    assert d.stats.by_kind.get("reaction") == 1


async def test_pinned_product_is_presented_next(run_director):
    writer = FakeWriter(endless=True)
    d, timeline, _ = run_director(writer)
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    d.on_shop_event("product_pinned", MILLET.sku, {"label": "讲解中"})
    timeline.read(SAMPLE_RATE * 10)
    await until(lambda: MILLET.sku in writer.asked, "the pinned product's segment")
    assert writer.asked[-1] == MILLET.sku
    queued = [u for u in timeline._queue if u.kind == "script"]
    assert queued and all(u.product_sku == MILLET.sku for u in queued)


async def test_sold_out_current_product_is_dropped_with_a_reaction(run_director):
    writer = FakeWriter(endless=True)
    d, timeline, spoken = run_director(writer)
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    d.on_shop_event("sold_out", JUJUBE.sku, {"available": 0})
    await until(lambda: d.stats.by_kind.get("reaction") == 1, "sold-out reaction")
    assert "卖完" in spoken[-1].text or any("卖完" in line.text for line in spoken)
    assert not any(u.kind == "script" and u.product_sku == JUJUBE.sku for u in timeline._queue)


async def test_flash_sale_is_announced_with_the_shops_price_and_presented_next(run_director):
    writer = FakeWriter(endless=True)
    d, timeline, spoken = run_director(writer)
    await until(lambda: timeline.queued_seconds() >= LOOKAHEAD_SECONDS, "lookahead filled")
    d.on_shop_event("flash_sale_started", WALNUT.sku, {"id": 7, "price": "19.9", "cap": 100})
    await until(lambda: d.stats.by_kind.get("reaction") == 1, "flash sale announced")
    line = next(x for x in spoken if x.kind == "reaction")
    assert "秒杀" in line.text and "19.9" in line.text and "100" in line.text
    timeline.read(SAMPLE_RATE * 10)
    await until(lambda: WALNUT.sku in writer.asked, "the flash-sale product's segment")
