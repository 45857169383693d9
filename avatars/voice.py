"""Voices: text in, 48 kHz PCM plus a viseme/energy timeline out.

Backends implement one method (`_synthesize`); the `VoiceChain` tries them in order with
a timeout each and counts calls, failures and fallbacks, so a remote voice that is down
costs one timeout and the room keeps talking with the embedded eSpeak voice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import av
import numpy as np

from avatars.espeak import ESpeak
from avatars.personas import Persona

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
ENVELOPE_HZ = 100  # mouth-openness samples per second

# viseme classes the renderer knows how to draw
VISEMES = ("rest", "open", "round", "spread", "closed", "mid")


@dataclass(frozen=True)
class Speech:
    """One utterance, ready for the media clock."""

    text: str
    pcm: np.ndarray  # int16 mono at SAMPLE_RATE
    visemes: tuple[tuple[float, str], ...]  # (start seconds, viseme), sorted
    envelope: np.ndarray  # float32 0..1 at ENVELOPE_HZ, mouth openness
    backend: str = "espeak"
    # where the line may be cut so an answer can go first: (seconds, index into text), sorted
    breaks: tuple[tuple[float, int], ...] = ()

    @property
    def duration(self) -> float:
        return len(self.pcm) / SAMPLE_RATE

    def next_break(self, t: float) -> tuple[float, int] | None:
        """The first cut point at or after `t` seconds that leaves something to say."""
        for at, index in self.breaks:
            if at >= t and at < self.duration - 0.2 and 0 < index < len(self.text):
                if not inside_number(self.text, index):
                    return at, index
        return None

    def split(self, at: float, index: int) -> tuple[Speech, Speech]:
        """The part before `at` seconds (text[:index]) and the rest, each a Speech."""
        n = int(round(at * SAMPLE_RATE))
        e = int(round(at * ENVELOPE_HZ))
        head = Speech(
            text=self.text[:index],
            pcm=self.pcm[:n],
            visemes=tuple(v for v in self.visemes if v[0] < at),
            envelope=self.envelope[:e],
            backend=self.backend,
            breaks=tuple(b for b in self.breaks if b[0] < at),
        )
        before = [v for v in self.visemes if v[0] <= at]
        lead = ((0.0, before[-1][1]),) if before and before[-1][0] < at else ()
        tail = Speech(
            text=self.text[index:],
            pcm=self.pcm[n:],
            visemes=lead + tuple((s - at, v) for s, v in self.visemes if s >= at),
            envelope=self.envelope[e:],
            backend=self.backend,
            breaks=tuple((s - at, i - index) for s, i in self.breaks if s > at and i > index),
        )
        return head, tail

    def viseme_at(self, t: float) -> str:
        """Viseme active at `t` seconds into the utterance."""
        current = "rest"
        for start, vis in self.visemes:
            if start > t:
                break
            current = vis
        return current

    def openness_at(self, t: float) -> float:
        i = int(t * ENVELOPE_HZ)
        if i < 0 or i >= len(self.envelope):
            return 0.0
        return float(self.envelope[i])


def phoneme_viseme(phoneme: str) -> str:
    """Map an eSpeak phoneme mnemonic to a viseme class."""
    p = phoneme.lstrip("'\",%=").lower()
    if not p or p[0] in "_|":
        return "rest"
    head = p[0]
    if head == "a":
        return "open"
    if head in "ouw":
        return "round"
    if head in "iejy@":
        return "spread"
    if head in "mbpf":
        return "closed"
    return "mid"


def energy_envelope(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mouth openness 0..1 at ENVELOPE_HZ from the speech energy (centred smoothing: no lag)."""
    hop = rate // ENVELOPE_HZ
    n = len(pcm) // hop
    if n == 0:
        return np.zeros(0, np.float32)
    frames = pcm[: n * hop].astype(np.float32).reshape(n, hop)
    rms = np.sqrt((frames**2).mean(axis=1))
    ref = np.percentile(rms, 95) or 1.0
    env = np.clip(rms / ref, 0.0, 1.0)
    kernel = np.hanning(7)
    env = np.convolve(env, kernel / kernel.sum(), mode="same")
    env[env < 0.08] = 0.0
    return env.astype(np.float32)


def resample_to_48k(pcm: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono int16 to 48 kHz with libswresample."""
    if rate == SAMPLE_RATE or len(pcm) == 0:
        return pcm.astype(np.int16, copy=False)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    frame = av.AudioFrame.from_ndarray(
        pcm.reshape(1, -1).astype(np.int16), format="s16", layout="mono"
    )
    frame.sample_rate = rate
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.int16) if out else np.zeros(0, np.int16)


PUNCTUATION = set("，。！？、；：,.!?;:…～~ ")


def word_starts(text: str) -> set[int]:
    """Indices where a word (or a punctuation mark) begins, by jieba's segmentation."""
    import jieba

    starts, i = set(), 0
    for word in jieba.cut(text):
        starts.add(i)
        i += len(word)
    return starts


_NUMERAL = set("0123456789.零〇一二两三四五六七八九十百千万亿点半")
_NUMBER_UNIT = set("块元毛角分斤克盒瓶袋箱份个月号日年天%")


def inside_number(text: str, index: int) -> bool:
    """True when a cut before text[index] would split a number, a price or its unit
    ("三十九块|九", "二十九块九|一斤", "两|斤"): the whole figure is said before a cut."""
    if not 0 < index < len(text):
        return False
    left, right = text[index - 1], text[index]
    if left in _NUMERAL:
        return right in _NUMERAL or right in _NUMBER_UNIT
    return left in "块毛点" and right in _NUMERAL


def espeak_breaks(
    text: str, phonemes: list[tuple[int, str]], positions: list[tuple[int, int]]
) -> tuple[tuple[float, int], ...]:
    """Cut points of an eSpeak line: the end of each syllable that ends a word, and each pause.

    eSpeak marks a syllable's end with the phoneme `_|` and reports, for every phoneme, the
    1-based index of the character it came from, so a syllable end at character p is a word
    boundary when a word starts at index p."""
    if not positions or len(positions) != len(phonemes):
        return ()
    starts = word_starts(text)
    out: dict[int, float] = {}
    for (ms, name), (_, pos) in zip(phonemes, positions, strict=True):
        if name == "_|" and 0 < pos < len(text):
            index = pos
            while index < len(text) and text[index] in PUNCTUATION:
                index += 1  # a cut before "，" resumes after it
            if pos in starts and index < len(text):
                out.setdefault(index, ms / 1000.0)
    return tuple(sorted((t, i) for i, t in out.items()))


def pause_breaks(text: str, pcm: np.ndarray, min_gap: float = 0.12):
    """Cut points from silences in the audio (backends without phoneme events): each pause
    of at least `min_gap` seconds, mapped to the punctuation marks of the text in order."""
    marks = [
        i + 1 for i, ch in enumerate(text) if ch in "，。！？、；：,.!?;:" and i + 1 < len(text)
    ]
    hop = SAMPLE_RATE // 100
    n = len(pcm) // hop
    if not marks or n == 0:
        return ()
    loud = np.abs(pcm[: n * hop].astype(np.int32)).reshape(n, hop).max(axis=1) > 300
    gaps, run = [], 0
    for k, is_loud in enumerate(loud):
        if not is_loud:
            run += 1
        elif run:
            if run * 0.01 >= min_gap and k - run > 0:
                gaps.append((k - run) * 0.01)
            run = 0
    return tuple(zip(gaps, marks, strict=False))


class VoiceBackend:
    """A TTS backend: implement `_synthesize`; chaining, timeouts and counters come from VoiceChain."""

    name = "base"

    async def _synthesize(self, text: str, persona: Persona, rate: float, pitch: float) -> Speech:
        raise NotImplementedError


class ESpeakVoice(VoiceBackend):
    """Embedded offline Mandarin (eSpeak NG `cmn` with each persona's variant and prosody)."""

    name = "espeak"

    def synthesize_sync(
        self, text: str, persona: Persona, rate: float = 1.0, pitch: float = 1.0
    ) -> Speech:
        raw = ESpeak.get().synthesize(
            text,
            voice=persona.espeak_voice,
            rate_wpm=int(persona.rate_wpm * rate),
            pitch=int(persona.pitch * pitch),
            pitch_range=persona.pitch_range,
            lilt=persona.lilt,
        )
        pcm = resample_to_48k(raw.pcm, raw.sample_rate)
        visemes = tuple((ms / 1000.0, phoneme_viseme(ph)) for ms, ph in raw.phonemes)
        return Speech(
            text=text,
            pcm=pcm,
            visemes=visemes,
            envelope=energy_envelope(pcm),
            backend=self.name,
            breaks=espeak_breaks(text, raw.phonemes, raw.positions),
        )

    async def _synthesize(self, text: str, persona: Persona, rate: float, pitch: float) -> Speech:
        return await asyncio.to_thread(self.synthesize_sync, text, persona, rate, pitch)


class EdgeVoice(VoiceBackend):
    """Microsoft Edge online voices through `edge-tts` (needs the network)."""

    name = "edge-tts"

    async def _synthesize(self, text: str, persona: Persona, rate: float, pitch: float) -> Speech:
        import edge_tts

        pct = int(round((rate - 1.0) * 100))
        hz = int(round((pitch - 1.0) * 50))
        comm = edge_tts.Communicate(text, persona.edge_voice, rate=f"{pct:+d}%", pitch=f"{hz:+d}Hz")
        mp3 = bytearray()
        async for chunk in comm.stream():
            if chunk["type"] == "audio":
                mp3.extend(chunk["data"])
        pcm = await asyncio.to_thread(_decode_to_48k, bytes(mp3))
        env = energy_envelope(pcm)
        # no phoneme events online: derive the shape from the energy alone
        visemes = tuple(
            (i / ENVELOPE_HZ, "open" if v > 0.6 else "mid" if v > 0.2 else "rest")
            for i, v in enumerate(env[::4])
        )
        return Speech(
            text=text,
            pcm=pcm,
            visemes=visemes,
            envelope=env,
            backend=self.name,
            breaks=pause_breaks(text, pcm),
        )


def _decode_to_48k(data: bytes) -> np.ndarray:
    import io

    out: list[np.ndarray] = []
    with av.open(io.BytesIO(data)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(audio=0):
            out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    if not out:
        raise ValueError("no audio in TTS response")
    return np.concatenate(out).astype(np.int16)


@dataclass
class VoiceStats:
    calls: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    last_ms: float = 0.0


class VoiceChain:
    """Tries each backend in turn (timeout each); the last one should be offline."""

    def __init__(self, backends: list[VoiceBackend] | None = None, timeout: float = 4.0) -> None:
        self.backends = backends or [ESpeakVoice()]
        self.timeout = timeout
        self.stats = VoiceStats()

    async def synthesize(
        self, text: str, persona: Persona, rate: float = 1.0, pitch: float = 1.0
    ) -> Speech:
        self.stats.calls += 1
        t0 = time.perf_counter()
        last_error: Exception | None = None
        for i, backend in enumerate(self.backends):
            try:
                speech = await asyncio.wait_for(
                    backend._synthesize(text, persona, rate, pitch), self.timeout
                )
                if i:
                    self.stats.fallbacks += 1
                self.stats.last_ms = (time.perf_counter() - t0) * 1000
                return speech
            except Exception as exc:  # any backend failure falls through to the next one
                last_error = exc
                self.stats.failures[backend.name] = self.stats.failures.get(backend.name, 0) + 1
                log.warning("voice backend %s failed: %r", backend.name, exc)
        raise RuntimeError(f"every voice backend failed: {last_error!r}")


def make_voice_chain(online: bool = False, timeout: float = 4.0) -> VoiceChain:
    """Offline eSpeak by default; with `online`, edge-tts first and eSpeak as the fallback."""
    backends: list[VoiceBackend] = [EdgeVoice()] if online else []
    return VoiceChain(backends + [ESpeakVoice()], timeout=timeout)
