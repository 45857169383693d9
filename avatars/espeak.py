"""Offline Mandarin speech through the libespeak-ng that `espeakng-loader` bundles.

The library is driven over ctypes in synchronous mode: one call returns the whole
utterance as 22,050 Hz mono int16 plus phoneme events (for visemes). libespeak-ng keeps
global state, so every call holds one process-wide lock.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass, field

import espeakng_loader
import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_SSML = 0x10
# a sentence ends at these marks; its last spoken character gets the lilt
_SENTENCE_END = set("。！？!?～~")
_SILENT = set("，。！？、；：,.!?;:…～~ \t\n\"'“”‘’（）()《》")


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class RawSpeech:
    """eSpeak output: mono int16 PCM and (ms, phoneme) events.

    `positions` holds (ms, character index into the text, 1-based) for every phoneme, in the
    same order; the speech timeline cuts lines at word boundaries found through them."""

    pcm: np.ndarray
    sample_rate: int
    phonemes: list[tuple[int, str]]
    positions: list[tuple[int, int]] = field(default_factory=list)


class ESpeak:
    """A process-wide handle on libespeak-ng; use `ESpeak.get()`."""

    _instance: ESpeak | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path().encode()
        lib = self._lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise RuntimeError("libespeak-ng failed to initialise")
        self._chunks: list[np.ndarray] = []
        self._phonemes: list[tuple[int, str]] = []
        self._positions: list[tuple[int, int]] = []
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: ctypes does not
        lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()

    @classmethod
    def get(cls) -> ESpeak:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _on_synth(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self._phonemes.append((ev.audio_position, ev.id.string.decode("ascii", "replace")))
                self._positions.append((ev.audio_position, ev.text_position))
            i += 1
        return 0

    def synthesize(
        self,
        text: str,
        voice: str = "cmn",
        rate_wpm: int = 175,
        pitch: int = 50,
        pitch_range: int = 50,
        lilt: int = 0,
    ) -> RawSpeech:
        """Speak `text` and return all of it.

        `voice` may name a variant (`cmn+m3`); rate in words per minute, pitch and
        pitch_range 0-99 (50 is the voice's own); `lilt` raises the last syllable of each
        sentence by that many percent and draws it out (eSpeak SSML prosody), with the
        phoneme positions still pointing into `text`."""
        flags = _CHARS_UTF8
        back: list[int] | None = None
        source = text
        if lilt > 0:
            source, back = lilt_markup(text, int(np.clip(lilt, 0, 100)))
            flags |= _SSML
        data = source.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks, self._phonemes, self._positions = [], [], []
            lib = self._lib
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak has no voice {voice!r}")
            lib.espeak_SetParameter(_PARAM_RATE, int(np.clip(rate_wpm, 80, 450)), 0)
            lib.espeak_SetParameter(_PARAM_PITCH, int(np.clip(pitch, 0, 99)), 0)
            lib.espeak_SetParameter(_PARAM_RANGE, int(np.clip(pitch_range, 0, 99)), 0)
            lib.espeak_SetParameter(_PARAM_VOLUME, 100, 0)
            err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, flags, None, None)
            if err != 0:
                raise RuntimeError(f"espeak_Synth failed with code {err}")
            pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            positions = list(self._positions)
            if back is not None:
                last = len(back) - 1
                positions = [(ms, back[min(max(pos, 0), last)]) for ms, pos in positions]
            return RawSpeech(
                pcm=pcm,
                sample_rate=self.sample_rate,
                phonemes=list(self._phonemes),
                positions=positions,
            )


def lilt_markup(text: str, lilt: int) -> tuple[str, list[int]]:
    """SSML for `text` with each sentence's last spoken character raised by `lilt` percent
    and slowed, plus a map from 1-based SSML character positions to 1-based `text` positions
    (markup maps to the next character of `text`)."""
    finals: set[int] = set()
    last_spoken = -1
    for i, ch in enumerate(text):
        if ch in _SENTENCE_END and last_spoken >= 0:
            finals.add(last_spoken)
            last_spoken = -1
        elif ch not in _SILENT:
            last_spoken = i
    if last_spoken >= 0:
        finals.add(last_spoken)
    # (ssml fragment, the 1-based text position it stands for)
    parts: list[tuple[str, int]] = [("<speak>", 1)]
    for i, ch in enumerate(text):
        if i in finals:
            parts.append((f'<prosody pitch="+{lilt}%" rate="80%">', i + 1))
        escaped = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}.get(ch, ch)
        parts.append((escaped, i + 1))
        if i in finals:
            parts.append(("</prosody>", i + 2))
    parts.append(("</speak>", len(text) + 1))
    back = [0]
    for fragment, pos in parts:
        back.extend([pos] * len(fragment))
    back.append(len(text) + 1)
    return "".join(f for f, _ in parts), back
