"""A fresh machine: `make debian-packages` names every Debian package the tests drive, and
`make system-deps` (run by `make test`) has nothing left to install once they are present."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shutil.which("make") or "make", "-s", "-C", str(REPO), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_lists_the_debian_packages_the_tests_drive():
    res = _make("debian-packages")
    assert res.returncode == 0, res.stderr
    listed = res.stdout.split()
    for pkg in ("chromium", "fonts-noto-cjk", "postgresql", "nginx", "libnginx-mod-rtmp"):
        assert pkg in listed
    assert "prometheus" in listed  # the /metrics test scrapes with a real Prometheus
    for pkg in ("coturn", "janus", "redis-server", "faketime"):  # TURN, SFU, nodes, clock skew
        assert pkg in listed
    ci = (REPO / ".ci" / "run").read_text()
    assert ".ci/debian-packages" in ci  # CI installs the same list


def test_nothing_is_missing_here_and_system_deps_passes():
    missing = subprocess.run(
        [str(REPO / ".ci" / "debian-packages")], capture_output=True, text=True, timeout=30
    )
    assert missing.returncode == 0 and missing.stdout.strip() == ""
    res = _make("system-deps")
    assert res.returncode == 0, res.stdout + res.stderr
