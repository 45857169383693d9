"""What the test servers started from Debian's packages (nginx-rtmp, coturn, Janus) share."""

from __future__ import annotations

import subprocess
from pathlib import Path


def end_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def log_tail(path: Path, chars: int = 3000) -> str:
    """The end of a server's log, for a failure message."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
