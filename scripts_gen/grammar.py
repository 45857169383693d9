"""The per-persona phrase data (`data/templates.json`): script sections, line prefixes and the
desk's answer phrases. Its own module so the desk and the template writer both read it
without importing each other."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

GRAMMAR_PATH = Path(__file__).parent / "data" / "templates.json"


@lru_cache(maxsize=1)
def grammar() -> dict:
    """The parsed phrase data (read once per process; treat as read-only)."""
    return json.loads(GRAMMAR_PATH.read_text(encoding="utf-8"))
