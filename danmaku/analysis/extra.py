"""Assemble danmaku/data/train_extra.jsonl from the helpers' hand-off files:
`python -m danmaku.analysis.extra A.jsonl B.jsonl`.

Torn lines are skipped; a training line whose cleaned text equals a held-out line, or nearly
equals one (char-bigram Jaccard >= NEAR), is dropped, as are exact duplicates within training.
Spam lines without any of the guideline's spam cues keep their label (the writer's call); the
only labels changed are the guideline's hard rule that every complaint is `neg`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from danmaku.analysis import dataset
from danmaku.analysis.text import clean

EXTRA = dataset.DATA_DIR / "train_extra.jsonl"
NEAR = 0.8


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(max(1, len(text) - 1)))


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a torn last line of a file still being written
            continue
        if isinstance(row, dict) and {"text", "sentiment", "intent"} <= set(row):
            rows.append(row)
    return rows


def near_heldout(text: str, held: list[tuple[str, frozenset[str]]]) -> bool:
    grams = _bigrams(text)
    for h, hg in held:
        if text == h:
            return True
        union = len(grams | hg)
        if union and len(grams & hg) / union >= NEAR:
            return True
    return False


def assemble(paths: list[Path], heldout_paths: list[Path]) -> tuple[list[dict], dict]:
    held = []
    for p in heldout_paths:
        for e in dataset.load(p):
            t = clean(e.text)
            held.append((t, _bigrams(t)))
    seen = {clean(e.text) for e in dataset.load(dataset.DEV)}
    kept, report = [], {"read": 0, "near_heldout": 0, "duplicate": 0, "relabelled": 0}
    for path in paths:
        writer = path.stem.rsplit("_", 1)[-1]  # danmaku_train_a -> a
        for row in read_jsonl(path):
            report["read"] += 1
            text = clean(row["text"])
            if text in seen:
                report["duplicate"] += 1
                continue
            if near_heldout(text, held):
                report["near_heldout"] += 1
                continue
            seen.add(text)
            sentiment = row["sentiment"]
            if row["intent"] == "complaint" and sentiment != "neg":
                sentiment = "neg"
                report["relabelled"] += 1
            kept.append(
                {
                    "text": row["text"],
                    "sentiment": sentiment,
                    "intent": row["intent"],
                    "src": row.get("src", "hand"),
                    "writer": writer,
                }
            )
    return kept, report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    rows, report = assemble([Path(a) for a in args], [dataset.HELDOUT])
    EXTRA.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    print(f"wrote {EXTRA}: {len(rows)} lines; {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
