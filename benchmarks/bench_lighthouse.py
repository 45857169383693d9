"""Lighthouse on the live console (直播中控台), mobile: performance and accessibility scores
(target ≥ 90 each), against Debian's Chromium, signed in as the room's operator, with the
demo room live.

Lighthouse is an npm package, used by this bench only (never by tests). Install it once
outside the repository (`make lighthouse`, i.e.
`npm install --prefix ~/.cache/yunlian-lighthouse lighthouse@12.8.2`; Lighthouse 13 wants
Node 22, this machine has Node 20), or point `YUNLIAN_LIGHTHOUSE` at a `lighthouse` binary.
Lighthouse's defaults are kept: a Moto G Power-sized phone, simulated slow 4G and a 4× CPU
slowdown. Each run is a cold load in a fresh Chromium profile; the median of `RUNS` is kept.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

VERSION = "12.8.2"
HOME_BIN = Path.home() / ".cache/yunlian-lighthouse/node_modules/.bin/lighthouse"
INSTALL = f"npm install --prefix ~/.cache/yunlian-lighthouse lighthouse@{VERSION}"
RUNS = int(os.environ.get("LH_RUNS", "3"))
ROOM = "demo"
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
AUDITS = (  # the figures behind the performance score, in ms (CLS unitless)
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
    "interactive",
)


def lighthouse_bin() -> str:
    given = os.environ.get("YUNLIAN_LIGHTHOUSE")
    for cand in (given, str(HOME_BIN), shutil.which("lighthouse")):
        if cand and Path(cand).exists():
            return cand
    raise RuntimeError(f"lighthouse is not installed: run `{INSTALL}` (or `make lighthouse`)")


def audit(binary: str, url: str, cookie: str, out: Path) -> dict:
    headers = out.with_suffix(".headers.json")
    headers.write_text(json.dumps({"Cookie": cookie}))
    cmd = [
        binary,
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        "--only-categories=performance,accessibility",
        "--form-factor=mobile",
        f"--extra-headers={headers}",
        f"--chrome-flags={' '.join(CHROME_FLAGS)}",
        "--max-wait-for-load=60000",
    ]
    env = {**os.environ, "CHROME_PATH": "/usr/bin/chromium"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    keep = os.environ.get("LH_KEEP")  # a folder to keep the full reports in
    if keep and out.exists():
        shutil.copy(out, Path(keep) / out.name)
    if res.returncode != 0 or not out.exists():
        raise RuntimeError(f"lighthouse failed ({res.returncode}): {res.stderr[-2000:]}")
    report = json.loads(out.read_text())
    cats = report["categories"]
    failed_a11y = [
        a["id"]
        for a in report["audits"].values()
        if a.get("scoreDisplayMode") == "binary"
        and a.get("score") == 0
        and a["id"] in {r["id"] for r in cats["accessibility"]["auditRefs"]}
    ]
    return {
        "performance": round(cats["performance"]["score"] * 100),
        "accessibility": round(cats["accessibility"]["score"] * 100),
        "audits": {k: round(report["audits"][k].get("numericValue", 0), 3) for k in AUDITS},
        "failed_accessibility_audits": failed_a11y,
        "runtime_error": (report.get("runtimeError") or {}).get("code"),
        "final_url": report.get("finalDisplayedUrl", ""),
    }


def run() -> dict:
    from testkit.livesrv import LiveServer

    binary = lighthouse_bin()
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    chromium = subprocess.run(
        ["/usr/bin/chromium", "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        with LiveServer(Path(tmp) / "lh.db", stamp=False, media_dir=str(Path(tmp) / "m")) as srv:
            name, password = srv.user("operator")
            with httpx.Client(base_url=srv.url, timeout=30) as http:
                res = http.post("/api/auth/login", json={"username": name, "password": password})
                res.raise_for_status()
                cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
                assert http.get(f"/workbench/live/{ROOM}").status_code == 200
            url = f"{srv.url}/workbench/live/{ROOM}"
            for i in range(RUNS):
                t0 = time.monotonic()
                one = audit(binary, url, cookie, Path(tmp) / f"lh{i}.json")
                one["wall_s"] = round(time.monotonic() - t0, 1)
                runs.append(one)
    perf = [r["performance"] for r in runs]
    a11y = [r["accessibility"] for r in runs]
    return {
        "page": f"/workbench/live/{ROOM} (signed in as the shop's operator, room live)",
        "lighthouse": version,
        "chromium": chromium,
        "settings": "mobile (Lighthouse defaults: simulated slow 4G, 4x CPU slowdown)",
        "performance_median": statistics.median(perf),
        "accessibility_median": statistics.median(a11y),
        "runs": runs,
        "target": 90,
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=1))
