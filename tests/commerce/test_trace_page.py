"""The public trace page speaks the buyer's language and escapes what farmers type: it is a
Jinja2 template with autoescape (commerce/trace/templates/trace.html)."""

import hashlib

import pytest
from markupsafe import Markup

from commerce.trace.page import render_page
from web.shop_pages import json_for_script

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>&amp;\"'"


def view(**over) -> dict:
    """A batch view as `store.trace.batch_view` returns it, with one event in a one-leaf log."""
    leaf = hashlib.sha256(b"\0leaf").hexdigest()
    event = {
        "index": 0,
        "label": "采收",
        "occurred_at": "2026-11-20T08:00:00+00:00",
        "details": {"plot": "1号地块", "units": 300, "湿度": "60%"},
        "inclusion": {
            "leaf_hash": leaf,
            "leaf_index": 0,
            "tree_size": 1,
            "proof": [],
            "checkpoint": {"root_hash": leaf},
        },
    }
    base = {
        "batch_id": "b-1",
        "product": "阜平大枣",
        "origin_plot": "城南庄镇1号地块",
        "harvest_date": "2026-11-20",
        "expiry_date": "2027-05-20",
        "certifications": ["绿色食品"],
        "inspection_reports": [{"lab": "保定检测中心", "result": "合格"}, "附件"],
        "events": [event],
        "checkpoint": {"tree_size": 1, "root_hash": leaf, "signature": "ab", "public_key": "cd"},
    }
    return base | over


def page(v: dict) -> str:
    return render_page(v, Markup(json_for_script(v)))


def test_trace_details_use_chinese_labels_and_keep_unknown_keys():
    html = page(view())
    assert "地块：1号地块；数量：300；湿度：60%" in html
    assert "√ 已记入透明日志" in html and "认证：绿色食品" in html


def test_inspection_reports_read_as_lines_not_json():
    html = page(view())
    assert "检测报告：检测机构：保定检测中心；结果：合格<br>附件</p>" in html
    assert "检测报告：暂无</p>" in page(view(inspection_reports=[], certifications=[]))
    assert "认证：无" in page(view(inspection_reports=[], certifications=[]))


def test_hostile_text_from_farmers_is_escaped_everywhere():
    event = view()["events"][0] | {"label": HOSTILE, "details": {"note": HOSTILE, HOSTILE: "x"}}
    v = view(
        product=HOSTILE,
        batch_id=HOSTILE,
        origin_plot=HOSTILE,
        certifications=[HOSTILE],
        inspection_reports=[{"lab": HOSTILE}, HOSTILE],
        events=[event],
    )
    html = page(v)
    assert "<script>alert" not in html and "<img" not in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&amp;amp;"
    assert html.count(escaped) >= 8  # title, h1, batch, plot, certs, report x2, event x3
    assert html.count("<script") == 1  # only the page's own JSON element
    assert "\\u003cscript\\u003e" in html  # the JSON is escaped for its element


def test_a_bad_proof_is_shown_as_invalid():
    v = view()
    v["events"][0]["inclusion"]["checkpoint"] = {"root_hash": "00" * 32}
    assert "× 证明无效" in page(v)


def test_the_json_must_be_made_safe_by_the_caller():
    with pytest.raises(TypeError):
        render_page(view(), "{}")  # a plain str could close the element


def test_trace_cli_refuses_a_missing_database_instead_of_creating_one(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "nope.db"
    res = subprocess.run(
        [sys.executable, "-m", "web.cli", "trace", "verify", "--db", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "找不到数据库" in res.stderr and "Traceback" not in res.stderr
    assert not db.exists()
