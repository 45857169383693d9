"""HTML fragments of the public trace page (kept out of the web layer's routing code)."""

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


def describe(details: dict) -> str:
    """`{"plot": "1号地块"}` → `地块：1号地块`, escaped; unknown keys are shown as they are."""
    return "；".join(
        f"{html.escape(FIELD_LABELS.get(str(k), str(k)))}：{html.escape(str(v))}"
        for k, v in details.items()
    )


def describe_reports(reports: list) -> str:
    """Inspection reports as readable lines instead of raw JSON."""
    if not reports:
        return "暂无"
    return "<br>".join(describe(r) if isinstance(r, dict) else html.escape(str(r)) for r in reports)


def render_events(events: list[dict]) -> str:
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
        badge = "√ 已记入透明日志（Merkle 证明有效）" if ok else "× 证明无效"
        details = describe(ev["details"])
        items.append(
            f'<li><span class="kind">{html.escape(ev["label"])}</span>'
            f"<time>{html.escape(ev['occurred_at'][:10])}</time>"
            f"<p>{details}</p><small>记录 #{ev['index']} · {badge} · 证明长度 {len(inc['proof'])}</small></li>"
        )
    return "\n".join(items)
