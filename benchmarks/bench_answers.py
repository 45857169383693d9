"""How fast the host answers a viewer, measured from outside on a served demo room.

Questions go in as a viewer sends them, over the room's events WebSocket, a few seconds apart
and at random points of the host's script lines; the same socket times the text reply and the start
of the spoken answer (the `line` event is sent by the media thread in the tick that encodes
the answer's first audio packet). The baseline is the same room, same run, with answers
waiting for the current line to end, as they did before the host could cut in at a word
boundary.

`python -m benchmarks.bench_answers` prints the figures.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import websockets

from tests.livesrv import LiveServer

HELDOUT = Path(__file__).resolve().parents[1] / "scripts_gen" / "data" / "eval" / "heldout.jsonl"
QUESTIONS_PER_MODE = 20
TARGETS = {"text_p95_ms": 300.0, "audio_p95_ms": 1000.0}


def _pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": round(_pct(values, 50), 1),
        "p95": round(_pct(values, 95), 1),
        "max": round(max(values), 1) if values else None,
    }


def _questions(n: int, seed: int) -> list[str]:
    lines = [json.loads(x)["question"] for x in HELDOUT.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    rng.shuffle(lines)
    return [q + "？" for q in lines[:n]]


async def _measure(srv: LiveServer, interrupt: bool, questions: list[str], seed: int) -> dict:
    room = srv.engine.rooms["demo"]
    room.director.interrupt_answers = interrupt
    rng = random.Random(seed)
    text_ms, audio_ms, script_s = [], [], []
    ws_url = srv.url.replace("http://", "ws://") + "/api/rooms/demo/events"
    async with websockets.connect(ws_url, max_size=2**22) as ws:
        events: asyncio.Queue = asyncio.Queue()

        async def reader() -> None:
            async for raw in ws:
                events.put_nowait((time.perf_counter(), json.loads(raw)))

        task = asyncio.create_task(reader())
        try:
            for question in questions:
                # wait for the next script line, then ask at a random point inside it
                while True:
                    _, ev = await events.get()
                    if ev.get("type") == "line" and ev.get("kind") == "script":
                        break
                script_s.append(len(ev["text"]))
                await asyncio.sleep(rng.uniform(0.2, min(4.0, 0.2 * len(ev["text"]))))
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "danmaku", "nickname": "老张", "text": question}))
                qid, t_text, t_audio = None, None, None
                deadline = t0 + 20
                while (t_text is None or t_audio is None) and time.perf_counter() < deadline:
                    try:
                        at, ev = await asyncio.wait_for(events.get(), 1.0)
                    except TimeoutError:
                        continue
                    if ev.get("type") in ("danmaku_ack", "danmaku_rejected") and qid is None:
                        qid = ev.get("id")
                        if ev.get("intent") != "question" or not ev.get("accepted"):
                            break  # the analyser did not take it for a question: skip it
                    if ev.get("type") == "reply" and qid in ev.get("question_ids", ()):
                        t_text = at
                    if ev.get("type") == "line" and ev.get("kind") in ("answer", "handoff"):
                        t_audio = at
                if t_text is not None:
                    text_ms.append((t_text - t0) * 1000)
                if t_audio is not None:
                    audio_ms.append((t_audio - t0) * 1000)
        finally:
            task.cancel()
    return {
        "text_reply_ms": _summary(text_ms),
        "first_audio_ms": _summary(audio_ms),
        "asked_during_script_lines_of_mean_chars": (
            round(statistics.mean(script_s), 1) if script_s else None
        ),
    }


async def _run() -> dict:
    with tempfile.TemporaryDirectory() as tmp, LiveServer(Path(tmp) / "b.db", stamp=False) as srv:
        await asyncio.sleep(3)  # the room is well into its script
        cut = await _measure(srv, True, _questions(QUESTIONS_PER_MODE, 1), 1)
        wait = await _measure(srv, False, _questions(QUESTIONS_PER_MODE, 2), 2)
        cuts = srv.engine.rooms["demo"].timeline.cuts
    ratio = cut["first_audio_ms"]["p95"] / wait["first_audio_ms"]["p95"]
    return {
        "answer_at_word_boundary": cut,
        "baseline_answer_after_line": wait,
        "first_audio_p95_ratio_vs_baseline": round(ratio, 3),
        "lines_cut": cuts,
        "targets": TARGETS,
        "met": {
            "text_p95_ms": cut["text_reply_ms"]["p95"] <= TARGETS["text_p95_ms"],
            "audio_p95_ms": cut["first_audio_ms"]["p95"] <= TARGETS["audio_p95_ms"],
        },
    }


def run() -> dict:
    return asyncio.run(_run())


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
