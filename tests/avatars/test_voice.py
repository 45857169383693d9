"""Offline voice: eSpeak NG synthesis, visemes, the energy envelope and the fallback chain."""

import asyncio
from dataclasses import replace

import numpy as np
import pytest

from avatars.espeak import ESpeak
from avatars.personas import PERSONAS
from avatars.voice import (
    ENVELOPE_HZ,
    SAMPLE_RATE,
    VISEMES,
    ESpeakVoice,
    Speech,
    VoiceBackend,
    VoiceChain,
    energy_envelope,
    make_voice_chain,
    phoneme_viseme,
    resample_to_48k,
)

PERSONA = PERSONAS["xiaowang"]
LINE = "你好，阜平大枣，个大肉厚，二十九块九一斤。"


@pytest.fixture(scope="module")
def speech() -> Speech:
    return ESpeakVoice().synthesize_sync(LINE, PERSONA)


class BrokenVoice(VoiceBackend):
    name = "broken"

    async def _synthesize(self, text, persona, rate, pitch):
        raise ConnectionError("TTS service unreachable")


class HangingVoice(VoiceBackend):
    name = "hanging"

    async def _synthesize(self, text, persona, rate, pitch):
        await asyncio.sleep(30)
        raise AssertionError("the chain should have given up on this backend")


# --- eSpeak synthesis ---------------------------------------------------------------


def test_espeak_speaks_chinese_as_48k_int16_longer_than_one_second(speech):
    assert speech.backend == "espeak"
    assert speech.pcm.dtype == np.int16 and speech.pcm.ndim == 1
    assert speech.duration == len(speech.pcm) / SAMPLE_RATE
    assert speech.duration > 1.0


def test_espeak_audio_is_not_silent(speech):
    pcm = speech.pcm.astype(np.float64)
    assert np.sqrt((pcm**2).mean()) > 500
    assert np.abs(pcm).max() > 5000


def test_espeak_visemes_are_present_sorted_and_within_the_utterance(speech):
    assert len(speech.visemes) >= 10
    starts = [t for t, _ in speech.visemes]
    assert starts == sorted(starts)
    assert starts[0] >= 0.0 and starts[-1] <= speech.duration + 0.05
    assert {v for _, v in speech.visemes} <= set(VISEMES)
    # a spoken sentence has more than rest: the lips actually move
    assert {v for _, v in speech.visemes} - {"rest"}


def test_espeak_envelope_covers_the_utterance_and_opens_the_mouth(speech):
    assert abs(len(speech.envelope) - speech.duration * ENVELOPE_HZ) <= 1
    assert speech.envelope.min() >= 0.0 and speech.envelope.max() <= 1.0
    assert speech.envelope.max() > 0.5
    assert speech.openness_at(-1.0) == 0.0
    assert speech.openness_at(speech.duration + 1.0) == 0.0


def test_viseme_at_follows_the_viseme_track(speech):
    assert speech.viseme_at(-0.1) == "rest"
    for start, _ in speech.visemes:
        later = [s for s, _ in speech.visemes if s > start]
        probe = (start + later[0]) / 2 if later else start
        # the last viseme starting at or before `probe` wins
        expected = [v for s, v in speech.visemes if s <= probe][-1]
        assert speech.viseme_at(probe) == expected


@pytest.mark.parametrize("text", ["", " ", "，", "。。。", "😀", "\x00", "a"])
def test_espeak_survives_empty_and_odd_text(text):
    speech = ESpeakVoice().synthesize_sync(text, PERSONA)
    assert speech.pcm.dtype == np.int16
    assert speech.duration < 1.0
    assert speech.openness_at(0.0) >= 0.0
    assert speech.viseme_at(0.0) in VISEMES


@pytest.mark.parametrize("persona_id", sorted(PERSONAS))
def test_every_persona_has_a_working_offline_voice(persona_id):
    speech = ESpeakVoice().synthesize_sync("大家好", PERSONAS[persona_id])
    assert speech.duration > 0.3


# --- phonemes, envelope, resampling --------------------------------------------------


@pytest.mark.parametrize(
    ("phoneme", "viseme"),
    [
        ("A", "open"),
        ("'Au", "open"),
        ("a", "open"),
        ("'ou", "round"),
        ("u", "round"),
        ("'i", "spread"),
        ("m", "closed"),
        ("f", "closed"),
        ("ph", "closed"),
        ("n", "mid"),
        ("ts", "mid"),
        ("_|", "rest"),
        ("_", "rest"),
        ("_:", "rest"),
        ("", "rest"),
    ],
)
def test_phoneme_viseme_maps_espeak_mnemonics(phoneme, viseme):
    assert phoneme_viseme(phoneme) == viseme


def test_energy_envelope_is_zero_on_silence():
    env = energy_envelope(np.zeros(SAMPLE_RATE, np.int16))
    assert len(env) == ENVELOPE_HZ
    assert not env.any()


def test_energy_envelope_is_empty_for_less_than_one_hop():
    assert len(energy_envelope(np.zeros(100, np.int16))) == 0


def test_energy_envelope_has_no_lag():
    rng = np.random.default_rng(7)
    pcm = np.zeros(SAMPLE_RATE, np.int16)
    a, b = int(0.5 * SAMPLE_RATE), int(0.7 * SAMPLE_RATE)
    pcm[a:b] = rng.integers(-8000, 8000, b - a)
    env = energy_envelope(pcm)
    t = (np.arange(len(env)) + 0.5) / ENVELOPE_HZ  # centre of each envelope bin
    peak = t[int(np.argmax(env))]
    assert 0.5 <= peak <= 0.7
    centre = float((env * t).sum() / env.sum())
    assert abs(centre - 0.6) < 0.015, f"envelope centred at {centre:.3f} s, burst at 0.6 s"
    assert not env[t < 0.45].any() and not env[t > 0.75].any()
    assert env[(t > 0.53) & (t < 0.67)].min() > 0.5


def test_resample_to_48k_keeps_duration_and_dtype():
    rate = 22_050
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.int16)
    out = resample_to_48k(tone, rate)
    assert out.dtype == np.int16
    assert abs(len(out) - SAMPLE_RATE) <= 64
    assert np.abs(out).max() > 6000
    assert resample_to_48k(np.zeros(0, np.int16), rate).size == 0
    same = np.arange(10, dtype=np.int16)
    assert np.array_equal(resample_to_48k(same, SAMPLE_RATE), same)


# --- the chain -------------------------------------------------------------------------


async def test_chain_falls_back_from_a_failing_backend():
    chain = VoiceChain([BrokenVoice(), ESpeakVoice()], timeout=2.0)
    speech = await chain.synthesize("阜平大枣", PERSONA)
    assert speech.backend == "espeak" and speech.duration > 0.3
    assert chain.stats.calls == 1
    assert chain.stats.failures == {"broken": 1}
    assert chain.stats.fallbacks == 1


async def test_chain_falls_back_from_a_backend_that_hangs_past_the_timeout():
    chain = VoiceChain([HangingVoice(), ESpeakVoice()], timeout=0.2)
    speech = await chain.synthesize("阜平大枣", PERSONA)
    assert speech.backend == "espeak" and speech.duration > 0.3
    assert chain.stats.failures == {"hanging": 1}
    assert chain.stats.fallbacks == 1


async def test_chain_counts_failures_per_backend_across_calls():
    chain = VoiceChain([BrokenVoice(), HangingVoice(), ESpeakVoice()], timeout=0.2)
    for _ in range(2):
        assert (await chain.synthesize("好", PERSONA)).backend == "espeak"
    assert chain.stats.calls == 2
    assert chain.stats.failures == {"broken": 2, "hanging": 2}
    assert chain.stats.fallbacks == 2


async def test_chain_without_failures_counts_no_fallback():
    chain = VoiceChain([ESpeakVoice()], timeout=2.0)
    await chain.synthesize("好", PERSONA)
    assert chain.stats.calls == 1 and chain.stats.fallbacks == 0 and chain.stats.failures == {}


async def test_chain_raises_a_clear_error_when_every_backend_fails():
    chain = VoiceChain([BrokenVoice(), HangingVoice()], timeout=0.2)
    with pytest.raises(RuntimeError, match="every voice backend failed") as info:
        await chain.synthesize("阜平大枣", PERSONA)
    assert "TimeoutError" in str(info.value)  # names the last backend's error
    assert chain.stats.failures == {"broken": 1, "hanging": 1}
    assert chain.stats.fallbacks == 0


def test_make_voice_chain_is_offline_espeak_by_default():
    chain = make_voice_chain()
    assert [b.name for b in chain.backends] == ["espeak"]
    online = make_voice_chain(online=True, timeout=1.5)
    assert [b.name for b in online.backends] == ["edge-tts", "espeak"]
    assert online.timeout == 1.5


# --- three voices a listener tells apart ---------------------------------------------

VOICE_LINES = (
    "家人们看这里，阜平大枣个大肉厚，皮薄核小，今天直播间二十九块九一斤，喜欢的朋友点下方购物车。",
    "咱这苹果是山上种的，脆甜多汁。库存不多了，喜欢的赶紧下单！谢谢大家的支持。",
)


def f0_track(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Voiced-frame F0 in Hz by autocorrelation (40 ms windows, 10 ms hop, 60-400 Hz)."""
    x = pcm.astype(np.float64)[::2]  # 24 kHz is plenty below 400 Hz
    rate //= 2
    hop, win = rate // 100, rate * 40 // 1000
    lo, hi = rate // 400, rate // 60
    out = []
    for start in range(0, len(x) - win, hop):
        frame = x[start : start + win] - x[start : start + win].mean()
        if np.sqrt((frame**2).mean()) < 800:
            continue  # silence or a weak consonant
        ac = np.correlate(frame, frame, "full")[win - 1 :]
        ac /= ac[0] + 1e-9
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5:  # clearly periodic: voiced
            out.append(rate / lag)
    return np.array(out)


def hanzi(text: str) -> int:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.fixture(scope="module")
def voice_profiles() -> dict[str, dict[str, float]]:
    """Median F0 (Hz), speaking rate (syllables/s) and pitch spread (semitones) per persona."""
    out = {}
    for pid, persona in PERSONAS.items():
        speeches = [ESpeakVoice().synthesize_sync(line, persona) for line in VOICE_LINES]
        f0 = np.concatenate([f0_track(s.pcm) for s in speeches])
        median = float(np.median(f0))
        out[pid] = {
            "f0": median,
            "rate": sum(hanzi(s.text) for s in speeches) / sum(s.duration for s in speeches),
            "spread": float(np.std(12 * np.log2(f0 / median))),
        }
    return out


def semitones(a: float, b: float) -> float:
    return 12 * float(np.log2(a / b))


def test_xiaoli_speaks_at_least_five_semitones_above_both_men(voice_profiles):
    li, wang, zhang = (voice_profiles[k]["f0"] for k in ("xiaoli", "xiaowang", "xiaozhang"))
    assert semitones(li, wang) >= 5.0, voice_profiles
    assert semitones(li, zhang) >= 5.0, voice_profiles


def test_xiaowang_speaks_at_least_three_semitones_above_xiaozhang(voice_profiles):
    wang, zhang = voice_profiles["xiaowang"]["f0"], voice_profiles["xiaozhang"]["f0"]
    assert semitones(wang, zhang) >= 3.0, voice_profiles


def test_xiaozhang_speaks_at_least_20_percent_slower_than_the_others(voice_profiles):
    zhang = voice_profiles["xiaozhang"]["rate"]
    for other in ("xiaowang", "xiaoli"):
        assert zhang <= 0.8 * voice_profiles[other]["rate"], voice_profiles
    # and 小李 is the quickest talker of the three
    assert voice_profiles["xiaoli"]["rate"] >= voice_profiles["xiaowang"]["rate"], voice_profiles


def test_xiaowang_swings_his_pitch_far_more_than_xiaozhang(voice_profiles):
    wang, zhang = voice_profiles["xiaowang"]["spread"], voice_profiles["xiaozhang"]["spread"]
    assert wang >= 1.6 * zhang, voice_profiles
    assert zhang <= 2.0, voice_profiles  # calm: within about two semitones


def last_syllable_f0(text: str, persona) -> float:
    raw = ESpeak.get().synthesize(
        text,
        voice=persona.espeak_voice,
        rate_wpm=persona.rate_wpm,
        pitch=persona.pitch,
        pitch_range=persona.pitch_range,
        lilt=persona.lilt,
    )
    # the last syllable: between the last two syllable ends (`_|`)
    ends = [ms for ms, name in raw.phonemes if name == "_|"]
    assert len(ends) >= 2
    a, b = ends[-2] * raw.sample_rate // 1000, ends[-1] * raw.sample_rate // 1000
    pcm = resample_to_48k(raw.pcm[a:b], raw.sample_rate)
    return float(np.median(f0_track(pcm)))


def test_xiaowang_lifts_the_last_syllable_of_a_sentence():
    text = "看这里，一斤。"
    wang = PERSONAS["xiaowang"]
    lifted = last_syllable_f0(text, wang)
    flat = last_syllable_f0(text, replace(wang, lilt=0))
    assert semitones(lifted, flat) >= 2.0, (lifted, flat)


def test_lilt_keeps_phoneme_positions_in_the_original_text():
    text = "看这里，一斤。好&<吃>！"
    raw = ESpeak.get().synthesize(text, voice="cmn+m3", lilt=40)
    plain = ESpeak.get().synthesize(text, voice="cmn+m3", lilt=0)
    assert len(raw.positions) == len(raw.phonemes)
    assert all(0 <= pos <= len(text) + 1 for _, pos in raw.positions)

    def spoken(r):
        pairs = zip(r.phonemes, r.positions, strict=True)
        return [pos for (_, name), (_, pos) in pairs if not name.startswith("_")]

    # the same characters speak in the same order, markup or not
    assert sorted(set(spoken(raw))) == sorted(set(spoken(plain)))
    assert text[spoken(raw)[-1] - 1] == "吃"


@pytest.mark.parametrize("persona_id", sorted(PERSONAS))
def test_every_voice_keeps_word_boundary_breaks_on_a_long_line(persona_id):
    speech = ESpeakVoice().synthesize_sync(VOICE_LINES[0], PERSONAS[persona_id])
    assert len(speech.breaks) >= 3
    times = [t for t, _ in speech.breaks]
    assert times == sorted(times) and 0 < times[0] and times[-1] < speech.duration
    assert all(0 < i < len(speech.text) for _, i in speech.breaks)
    # a cut after "，" resumes at the next word, never on the comma itself
    assert all(speech.text[i] not in "，。" for _, i in speech.breaks)
