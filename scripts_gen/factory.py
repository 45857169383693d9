"""Build a room's writer from its config."""

from __future__ import annotations

from scripts_gen.base import ScriptWriter
from scripts_gen.template import TemplateWriter

BACKENDS = ("template", "openai", "transformers")


def make_writer(config: dict | None = None) -> ScriptWriter:
    """`None` or {"backend": "template"} -> template; remote backends wrap template as fallback."""
    config = dict(config or {})
    backend = config.pop("backend", "template")
    if backend not in BACKENDS:
        raise ValueError(f"unknown script backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    template = TemplateWriter(seed=config.pop("seed", None))
    if backend == "template":
        return template
    raise ValueError(f"backend {backend!r} is not available yet")
