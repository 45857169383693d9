"""The lean HLS load client (benchmarks/hls_client.py) against a real nginx serving a live
playlist that moves on once a second: players fetch every new segment whole, at playback
rate, keep up with the live edge, and a missing segment counts as an error."""

from __future__ import annotations

import threading

import pytest

from benchmarks.hls_client import kept_up, run_process, summarize
from testkit.nginx_rtmp import NginxRtmp

SIZE = 150_000  # bytes a segment


@pytest.fixture
def nginx(tmp_path):
    with NginxRtmp(tmp_path / "nginx") as ng:
        yield ng


def _live(hls_dir, stop: threading.Event, missing: set[int]) -> None:
    """A live playlist of 3 one-second segments, one more every second."""
    seq = 0
    while not stop.is_set():
        if seq not in missing:
            (hls_dir / f"s{seq}.ts").write_bytes(bytes([seq % 256]) * SIZE)
        first = max(0, seq - 2)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1"]
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
        for i in range(first, seq + 1):
            lines += ["#EXTINF:1.000,", f"s{i}.ts"]
        tmp = hls_dir / "live.m3u8.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(hls_dir / "live.m3u8")
        seq += 1
        stop.wait(1.0)


def _play(nginx, clients: int, seconds: float, missing: set[int]) -> dict:
    stop = threading.Event()
    feeder = threading.Thread(target=_live, args=(nginx.www / "hls", stop, missing), daemon=True)
    feeder.start()
    try:
        part = run_process(nginx.hls_url("live"), clients, seconds)
    finally:
        stop.set()
        feeder.join(5)
    return part


def test_players_fetch_each_new_segment_whole_and_keep_up_with_the_live_edge(nginx):
    part = _play(nginx, 20, 6.0, set())
    summary = summarize([part], 20, 6.0, part["wall"])
    assert summary["errors"] == {"connect": 0, "playlist": 0, "segment": 0}
    assert part["bytes"] == part["segments"] * SIZE, "a segment was not read whole"
    # about one segment a second each after the first two (keep-alive: one connection each)
    assert part["segments"] >= 20 * 4, part["segments"]
    assert part["playlists"] >= 20 * 3
    assert summary["edge_delay_p95_s"] is not None and summary["edge_delay_p95_s"] <= 2.0
    assert kept_up(summary, target=1.0), summary


def test_a_missing_segment_is_an_error_and_the_player_goes_on(nginx):
    part = _play(nginx, 5, 6.0, {4})
    assert part["errors"]["segment"] >= 1
    assert part["segments"] >= 5 * 3, "players stopped after the error"
    assert part["bytes"] == part["segments"] * SIZE
