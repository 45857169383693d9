"""`yunlian danmaku analyze` as a user runs it: a real process, bytes on stdin, JSON lines out."""

import json
import subprocess
import sys
from pathlib import Path

from danmaku.messages import INTENT_PRIORITY, SENTIMENTS

ROOT = Path(__file__).resolve().parents[2]


def analyze(stdin: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", "danmaku", "analyze", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )


def test_every_input_line_gets_one_json_line_in_order():
    lines = ["上链接", "", "蜂蜜结晶了是不是假的", "   ", "怎么还不发货", "加V看主页", "忒甜了"]
    proc = analyze(("\n".join(lines) + "\n").encode())
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [r["text"] for r in rows] == lines
    assert [r["intent"] for r in rows] == [
        "purchase",
        "other",
        "question",
        "other",
        "complaint",
        "spam",
        "praise",
    ]
    assert rows[1] == {"text": "", "sentiment": "neu", "score": 0.0, "intent": "other"}
    assert "上链接" in proc.stdout.decode()  # ensure_ascii=False: readable Chinese


def test_invalid_utf8_huge_lines_and_crlf_never_crash():
    data = (
        b"\xff\xfe\xfa\xe5\x9d\x8f\xe4\xba\x86\r\n"
        + "哈".encode() * 40_000
        + b"\n\x00\n"
        + "已拍".encode()
    )
    proc = analyze(data)
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(rows) == 4
    assert rows[0]["text"].endswith("坏了") and "\ufffd" in rows[0]["text"]
    assert rows[0]["intent"] == "complaint" and rows[3]["intent"] == "purchase"
    for r in rows:
        assert r["sentiment"] in SENTIMENTS and r["intent"] in INTENT_PRIORITY
        assert -1 <= r["score"] <= 1


def test_empty_stdin_prints_nothing_and_succeeds():
    proc = analyze(b"")
    assert proc.returncode == 0 and proc.stdout == b""


def test_transformers_without_a_usable_model_dir_is_a_clear_message(tmp_path):
    proc = analyze(b"x\n", "--backend", "transformers")
    assert proc.returncode == 2 and "--model-dir" in proc.stderr.decode()
    proc = analyze(b"x\n", "--backend", "transformers", "--model-dir", str(tmp_path))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "not a model directory" in err and "Traceback" not in err


def test_unknown_backend_is_rejected_by_the_parser():
    proc = analyze(b"x\n", "--backend", "snownlp")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr.decode()
