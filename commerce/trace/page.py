"""What the public trace page shows, as data for its template (kept out of the web layer)."""

from __future__ import annotations

import html

from commerce.trace.merkle import verify_inclusion

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


def describe(details: dict) -> str:
    """`{"plot": "1号地块"}` → `地块：1号地块`, escaped; unknown keys are shown as they are."""
    return "；".join(f"{html.escape(k)}：{html.escape(v)}" for k, v in labelled(details))


def describe_reports(reports: list) -> str:
    """Inspection reports as readable lines instead of raw JSON."""
    if not reports:
        return "暂无"
    return "<br>".join(describe(r) if isinstance(r, dict) else html.escape(str(r)) for r in reports)


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
