"""Jinja2 pages: one environment with autoescape on, templates under web/templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).with_name("templates")

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every {{ value }} is HTML-escaped; markup needs an explicit |safe
    undefined=StrictUndefined,  # a missing value fails the page instead of printing nothing
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def render(name: str, *, private: bool = True, **values: Any) -> HTMLResponse:
    """A template rendered to a response; a `private` page (staff figures, orders) is never
    kept by a cache."""
    html = env.get_template(name).render(**values)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"} if private else None)
