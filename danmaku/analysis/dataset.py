"""The labelled danmaku set and its seeded dev / held-out split (see danmaku/data/README.md).

`python -m danmaku.analysis.dataset` rewrites dev.jsonl and heldout.jsonl from labelled.jsonl;
the result must equal the committed files (a test checks it), so the split is reproducible.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
LABELLED = DATA_DIR / "labelled.jsonl"  # every line, in the order it was written
DEV = DATA_DIR / "dev.jsonl"  # trained and tuned on
HELDOUT = DATA_DIR / "heldout.jsonl"  # measured only, never tuned on
HELDOUT2 = DATA_DIR / "heldout2.jsonl"  # a second writer's lines: measured only, never tuned on
TRAIN_EXTRA = DATA_DIR / "train_extra.jsonl"  # two more writers' lines (README: provenance)
SPLIT_SEED = 20261209
HELDOUT_SHARE = 0.35


@dataclass(frozen=True)
class Example:
    """One labelled comment."""

    text: str
    sentiment: str
    intent: str


def load(path: Path) -> list[Example]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append(Example(row["text"], row["sentiment"], row["intent"]))
    return rows


def load_training_extra() -> list[Example]:
    """The added training lines (empty when the file is absent)."""
    return load(TRAIN_EXTRA) if TRAIN_EXTRA.exists() else []


def split(
    rows: list[Example], seed: int = SPLIT_SEED, heldout_share: float = HELDOUT_SHARE
) -> tuple[list[Example], list[Example]]:
    """(dev, heldout): a seeded shuffle, the first `heldout_share` of it held out."""
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    cut = round(len(shuffled) * heldout_share)
    return shuffled[cut:], shuffled[:cut]


def dump(rows: list[Example], path: Path) -> None:
    lines = [
        json.dumps(
            {"text": r.text, "sentiment": r.sentiment, "intent": r.intent}, ensure_ascii=False
        )
        for r in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    dev, heldout = split(load(LABELLED))
    dump(dev, DEV)
    dump(heldout, HELDOUT)
    print(f"dev {len(dev)}, held-out {len(heldout)} (seed {SPLIT_SEED})")


if __name__ == "__main__":
    main()
