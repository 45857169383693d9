"""The public trace page: what it shows, as data, and its Jinja2 template
(`commerce/trace/templates/trace.html`, autoescaped: every value a farmer typed is text).
The page works from a 360 px phone to a desktop; the web layer only serves it."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from commerce.trace.merkle import verify_inclusion

env = Environment(
    loader=PackageLoader("commerce.trace", "templates"),
    autoescape=True,  # every {{ value }} is HTML-escaped
    undefined=StrictUndefined,  # a missing value fails the page instead of printing nothing
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)

# what the farmer's records call things, in the words a buyer reads
FIELD_LABELS = {
    "plot": "地块",
    "input": "投入品",
    "units": "数量",
    "lab": "检测机构",
    "result": "结果",
    "items": "检测项目",
    "date": "日期",
    "carrier": "承运",
    "tracking": "运单号",
    "operator": "操作人",
    "method": "方式",
    "weight": "重量",
    "package": "包装",
    "note": "备注",
    "variety": "品种",
    "amount": "用量",
    "order_id": "订单号",
    "destination": "目的地",
}


def labelled(details: dict) -> list[tuple[str, str]]:
    """`{"plot": "1号地块"}` → `[("地块", "1号地块")]`; unknown keys are shown as they are."""
    return [(FIELD_LABELS.get(str(k), str(k)), str(v)) for k, v in details.items()]


def report_lines(reports: list) -> list[list[tuple[str, str]] | str]:
    """Inspection reports for a template: labelled pairs, or the text of a non-dict report."""
    return [labelled(r) if isinstance(r, dict) else str(r) for r in reports]


def timeline(events: list[dict]) -> list[dict]:
    """One timeline item per trace event, with whether its inclusion proof checks out."""
    items = []
    for ev in events:
        inc = ev["inclusion"]
        ok = verify_inclusion(
            bytes.fromhex(inc["leaf_hash"]),
            inc["leaf_index"],
            inc["tree_size"],
            [bytes.fromhex(p) for p in inc["proof"]],
            bytes.fromhex(inc["checkpoint"]["root_hash"]),
        )
        items.append(
            {
                "label": ev["label"],
                "date": ev["occurred_at"][:10],
                "details": labelled(ev["details"]),
                "index": ev["index"],
                "ok": ok,
                "proof_len": len(inc["proof"]),
            }
        )
    return items


def render_page(view: dict[str, Any], view_json: Markup) -> str:
    """The trace page of `store.trace.batch_view(...)`'s `view`. `view_json` is the view as
    JSON already made safe for a `<script type="application/json">` element (the caller's
    `json_for_script`): the one value the template prints unescaped."""
    if not isinstance(view_json, Markup):
        raise TypeError("view_json must be Markup made by json_for_script")
    cp = view["checkpoint"] or {}
    return env.get_template("trace.html").render(
        title=view["product"],
        batch_id=view["batch_id"],
        origin_plot=view["origin_plot"],
        harvest_date=view["harvest_date"],
        expiry_date=view["expiry_date"],
        certifications="、".join(view["certifications"]) or "无",
        reports=report_lines(view["inspection_reports"]),
        events=timeline(view["events"]),
        tree_size=str(cp.get("tree_size", 0)),
        root_hash=cp.get("root_hash", ""),
        signature=cp.get("signature", ""),
        public_key=cp.get("public_key", ""),
        signed_at=cp.get("signed_at", ""),
        view_json=view_json,
    )
