"""The public trace page speaks the buyer's language and escapes what farmers type."""

from commerce.trace.page import describe, describe_reports


def test_trace_details_use_chinese_labels_and_keep_unknown_keys():
    assert describe({"plot": "1号地块", "units": 300}) == "地块：1号地块；数量：300"
    assert describe({"湿度": "60%"}) == "湿度：60%"


def test_trace_details_are_html_escaped():
    assert "<script>" not in describe({"note": "<script>alert(1)</script>"})


def test_inspection_reports_read_as_lines_not_json():
    text = describe_reports([{"lab": "保定检测中心", "result": "合格"}, "附件"])
    assert text == "检测机构：保定检测中心；结果：合格<br>附件"
    assert describe_reports([]) == "暂无"


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
