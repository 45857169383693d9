"""`yunlian` command line, run as a real subprocess: `speak` to a WAV file and its errors."""

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"


def cli(*args: str) -> subprocess.CompletedProcess:
    python = PYTHON if PYTHON.exists() else Path(sys.executable)
    return subprocess.run(
        [str(python), "-m", "web.cli", *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_speak_writes_a_48k_mono_16bit_wav(tmp_path):
    out = tmp_path / "line.wav"
    res = cli("speak", "你好，阜平大枣", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert str(out) in res.stdout
    with wave.open(str(out), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 48_000)
        frames = w.getnframes()
        pcm = np.frombuffer(w.readframes(frames), np.int16)
    assert frames / 48_000 > 1.0
    assert np.sqrt((pcm.astype(np.float64) ** 2).mean()) > 500  # speech, not silence


@pytest.mark.parametrize("persona", ["xiaoli", "xiaozhang"])
def test_speak_with_each_persona(tmp_path, persona):
    out = tmp_path / f"{persona}.wav"
    res = cli("speak", "大家好", "--persona", persona, "--out", str(out))
    assert res.returncode == 0, res.stderr
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == 48_000 and w.getnframes() > 0


@pytest.mark.parametrize("text", ["", "   "])
def test_speak_empty_text_exits_2_with_a_clear_message(tmp_path, text):
    out = tmp_path / "nothing.wav"
    res = cli("speak", text, "--out", str(out))
    assert res.returncode == 2
    assert "error: nothing to say" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_speak_unknown_persona_exits_2_and_lists_the_known_ones(tmp_path):
    out = tmp_path / "who.wav"
    res = cli("speak", "你好", "--persona", "nobody", "--out", str(out))
    assert res.returncode == 2
    assert "unknown persona 'nobody'" in res.stderr
    assert all(p in res.stderr for p in ("xiaowang", "xiaoli", "xiaozhang"))
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_speak_too_long_text_exits_2(tmp_path):
    out = tmp_path / "long.wav"
    res = cli("speak", "枣" * 501, "--out", str(out))
    assert res.returncode == 2
    assert "longer than 500" in res.stderr
    assert "Traceback" not in res.stderr


def test_help_lists_serve_and_speak():
    res = cli("--help")
    assert res.returncode == 0
    assert "serve" in res.stdout and "speak" in res.stdout
    assert res.stdout.startswith("usage: yunlian")


def test_no_command_is_a_usage_error():
    res = cli()
    assert res.returncode == 2
    assert "usage: yunlian" in res.stderr
    assert "Traceback" not in res.stderr


def test_speak_to_an_unwritable_path_is_a_clear_error(tmp_path):
    res = cli("speak", "你好", "--out", str(tmp_path / "missing" / "x.wav"))
    assert res.returncode == 2
    assert "cannot write" in res.stderr and "Traceback" not in res.stderr
