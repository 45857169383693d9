"""Author tool: regenerate the knowledge-base data files from the tables in `data/kb/source/`.

Not used at run time. Run `python -m scripts_gen.kb_compose` after editing a source table; it
rewrites `data/kb/*.jsonl` and the tuning question set `data/eval/tuning_generated.jsonl`
(composed wordings the KB was tuned on, so not held out; see `data/eval/README.md`).
Per-product tables give each product's facts in words; topic tables give question/answer
patterns, each with alternative wordings kept out of the KB for the held-out set.

Review: a topic (or a product's `review` override of one topic) may carry `reviewed: true`,
the `citation` of the public guidance or shop record it follows, and the `safety` kinds it
answers (see `scripts_gen/safety.py`). Only reviewed entries answer safety questions. A
product's override may also replace the answer (`a`) and add keywords (`k`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

DATA = Path(__file__).parent / "data"
SOURCE = DATA / "kb" / "source"


def _read(name: str):
    return json.loads((SOURCE / name).read_text(encoding="utf-8"))


def _fill(pattern: str, slots: dict[str, str]) -> str:
    return pattern.format(**slots)


def _review(spec: dict) -> dict:
    """The review fields of an entry: unreviewed unless the table says who checked what."""
    if not spec.get("reviewed"):
        return {"reviewed": False}
    if not spec.get("citation"):
        raise ValueError("a reviewed entry must cite what it follows")
    return {"reviewed": True, "citation": spec["citation"], "safety": spec.get("safety", [])}


def compose() -> tuple[dict[str, list[dict]], list[dict]]:
    """Return KB entries grouped by file name, and the held-out questions."""
    products = _read("products.json")
    topics = _read("product_topics.json")
    general = _read("general.json")
    files: dict[str, list[dict]] = {}
    heldout: list[dict] = []
    for key, p in products.items():
        rows = files.setdefault(f"product_{key}.jsonl", [])
        for t in topics:
            variants = p.get(t["slot"], [None]) if t.get("slot") else [None]
            for i, value in enumerate(variants):
                if t.get("slot") and value is None:
                    continue
                slots = {**p["words"], "v": value or "", "name": p["words"]["name"]}
                if isinstance(value, list):
                    slots.update(v=value[0], a=value[1])
                entry_id = f"kb-{key}-{t['id']}" + (f"-{i + 1}" if len(variants) > 1 else "")
                over = p.get("review", {}).get(t["id"], {})
                keywords = [_fill(k, slots) for k in t.get("k", []) + over.get("k", [])]
                row = {
                    "id": entry_id,
                    "topic": t["topic"],
                    "sku": p["sku"],
                    "question": _fill(t["q"], slots),
                    "answer": _fill(over.get("a", t["a"]), slots),
                    "keywords": list(dict.fromkeys(keywords)),
                }
                rows.append(row | _review({**t, **over}))
                for alt in t.get("alt", [])[:2]:
                    heldout.append({"question": _fill(alt, slots), "expected": entry_id})
    for group, items in general.items():
        rows = files.setdefault(f"{group}.jsonl", [])
        for item in items:
            expand = item.get("each")
            for value in expand or [None]:
                slots = {"v": value or ""}
                suffix = f"-{expand.index(value) + 1}" if expand else ""
                entry_id = f"kb-{group}-{item['id']}{suffix}"
                row = {
                    "id": entry_id,
                    "topic": item.get("topic", group),
                    "sku": None,
                    "question": _fill(item["q"], slots),
                    "answer": _fill(item["a"], slots),
                    "keywords": [_fill(k, slots) for k in item.get("k", [])],
                }
                rows.append(row | _review(item))
                for alt in item.get("alt", [])[:1]:
                    heldout.append({"question": _fill(alt, slots), "expected": entry_id})
    return files, heldout


def main() -> None:
    files, heldout = compose()
    for old in (DATA / "kb").glob("*.jsonl"):
        old.unlink()
    for name, rows in files.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (DATA / "kb" / name).write_text(text, encoding="utf-8")
    random.Random(2026).shuffle(heldout)
    (DATA / "eval").mkdir(exist_ok=True)
    text = "".join(json.dumps(h, ensure_ascii=False) + "\n" for h in heldout)
    (DATA / "eval" / "tuning_generated.jsonl").write_text(text, encoding="utf-8")
    total = sum(len(r) for r in files.values())
    print(f"{total} entries in {len(files)} files, {len(heldout)} tuning questions")


if __name__ == "__main__":
    main()
