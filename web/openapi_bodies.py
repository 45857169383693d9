"""OpenAPI for request bodies a handler reads itself (size-limited, validated by hand), so the
API docs and the schema-driven fuzzer see the same body the handler checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace pydantic's local `#/$defs/X` references with the definitions themselves."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def json_body(model: type[BaseModel] | None, media_type: str = "application/json") -> dict:
    """`openapi_extra` declaring a required body: the model's JSON schema (an object when the
    body is free-form, e.g. a signed webhook)."""
    if model is None:
        schema: dict[str, Any] = {"type": "object"}
    else:
        schema = model.model_json_schema()
        schema = _inline(schema, schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


def text_body(media_type: str, max_length: int) -> dict:
    """`openapi_extra` for a text body such as an SDP offer."""
    schema = {"type": "string", "maxLength": max_length}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}
