"""Build a room's writer from its config."""

from __future__ import annotations

from scripts_gen.base import ScriptWriter
from scripts_gen.template import TemplateWriter

BACKENDS = ("template", "openai", "transformers")


def make_writer(config: dict | None = None) -> ScriptWriter:
    """One writer per room.

    `None` or {"backend": "template"} gives the template writer. {"backend": "openai",
    "base_url", "api_key", "model", "timeout"} and {"backend": "transformers", "model_dir"}
    wrap a template writer as fallback; all expose `stats()`. Unknown keys are a ValueError.
    """
    config = dict(config or {})
    backend = config.pop("backend", "template")
    if backend not in BACKENDS:
        raise ValueError(f"unknown script backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    template = TemplateWriter(seed=config.pop("seed", None))
    try:
        if backend == "openai":
            from scripts_gen.openai_backend import OpenAIWriter

            return OpenAIWriter(template, **config)
        if backend == "transformers":
            from scripts_gen.local_model import LocalModelWriter

            if "model_dir" not in config:
                raise ValueError("the transformers backend needs model_dir")
            return LocalModelWriter(template, **config)
    except TypeError as exc:
        raise ValueError(f"bad {backend} config: {exc}") from None
    if config:
        raise ValueError(f"unknown template config keys: {', '.join(config)}")
    return template
