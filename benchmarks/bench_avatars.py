"""Avatar render cost per frame, for each persona, landscape 1280×720 and portrait 720×1280,
with a card, captions and a promotion countdown on screen.

"typical": the caption changes with each sentence and the countdown every second.
"worst": caption, card and countdown all change on every frame (unique strings each time);
the card redraws only its changed parts (title, price) from cached layers.
Target: ≤ 4 ms a frame on one core, median and p95.
"""

from __future__ import annotations

import time

import numpy as np

from avatars.gestures import plan_gestures
from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, Card
from avatars.voice import ESpeakVoice
from streamer.timeline import SpeechTimeline, Utterance, avatar_state

LINES = (
    "大家好，欢迎来到阜平好物直播间！",
    "看这里，阜平大枣个大肉厚，今天只要二十九块九一斤。",
    "谢谢家人们的支持，喜欢的点点关注。",
)
FRAMES = 250  # 10 s of video per case, measured after WARMUP frames
WARMUP = 125  # fills the per-tilt head cache, as a running room has


def _case(persona_id: str, width: int, height: int, worst: bool) -> dict:
    persona = PERSONAS[persona_id]
    voice = ESpeakVoice()
    speeches = [voice.synthesize_sync(line, persona) for line in LINES]
    card = Card("阜平大枣", "29.9", "斤", ("个大肉厚", "皮薄核小"), category="jujube")
    timeline = SpeechTimeline()
    r = AvatarRenderer(persona, width=width, height=height)
    r.set_card(card)
    wall, cpu = [], []
    k = 0
    for n in range(WARMUP + FRAMES):
        if timeline.queued_seconds() < 1:
            s = speeches[k % len(speeches)]
            k += 1
            cues = plan_gestures(s.text, s.duration, "jujube")
            timeline.enqueue(
                Utterance(
                    speech=s,
                    expression=("happy", "excited", "neutral")[k % 3],
                    card=card,
                    gestures=cues,
                )
            )
        _, playing = timeline.read(1920)
        t0, c0 = time.perf_counter(), time.thread_time()
        if worst:
            r.set_caption(f"{playing.utterance.speech.text if playing.utterance else ''} #{n}")
            r.set_card(
                Card(
                    f"阜平大枣{n}",
                    f"{29 + n % 7}.9",
                    "斤",
                    ("个大肉厚",),
                    category="jujube",
                    countdown=f"{n // 60:02d}:{n % 60:02d}.{n % 10}",
                )
            )
        else:
            if playing.started and playing.utterance is not None:
                r.set_caption(playing.utterance.speech.text)
            r.set_card(
                Card(
                    card.title,
                    card.price,
                    card.unit,
                    card.lines,
                    category="jujube",
                    countdown=f"04:{59 - (n // 25) % 60:02d}",
                )
            )
        r.render(avatar_state(playing, n / 25), n)
        if n < WARMUP:
            continue
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return {
        "median_ms": round(float(np.median(wall)), 2),
        "p95_ms": round(float(np.percentile(wall, 95)), 2),
        "cpu_median_ms": round(float(np.median(cpu)), 2),
        "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 2),
    }


def run() -> dict:
    out: dict = {}
    for pid in PERSONAS:
        out[pid] = {
            "landscape_typical": _case(pid, 1280, 720, worst=False),
            "landscape_worst": _case(pid, 1280, 720, worst=True),
            "portrait_typical": _case(pid, 720, 1280, worst=False),
            "portrait_worst": _case(pid, 720, 1280, worst=True),
        }
    # CPU time of the rendering thread: what "one core" means on a shared machine
    out["max_typical_cpu_p95_ms"] = max(
        v[k]["cpu_p95_ms"] for v in out.values() for k in ("landscape_typical", "portrait_typical")
    )
    out["max_worst_median_ms"] = max(
        out[pid][k]["median_ms"] for pid in PERSONAS for k in ("landscape_worst", "portrait_worst")
    )
    out["target_ms"] = 4.0
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
