"""HTML fragments of the public trace page (kept out of the web layer's routing code)."""

from __future__ import annotations

import html

from commerce.trace.merkle import verify_inclusion


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
        badge = "✅ 已记入透明日志（Merkle 证明有效）" if ok else "⚠️ 证明无效"
        details = "；".join(
            f"{html.escape(str(k))}：{html.escape(str(v))}" for k, v in ev["details"].items()
        )
        items.append(
            f'<li><span class="kind">{html.escape(ev["label"])}</span>'
            f"<time>{html.escape(ev['occurred_at'][:10])}</time>"
            f"<p>{details}</p><small>记录 #{ev['index']} · {badge} · 证明长度 {len(inc['proof'])}</small></li>"
        )
    return "\n".join(items)
