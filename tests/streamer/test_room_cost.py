"""A live room reports what it costs: render, encode and audio CPU over the last 10 s, its
media thread's share of a core, and how often its cached layers were reused."""

import time

import httpx

WAIT = 20.0  # seconds the demo room gets to fill its window


def test_a_live_room_reports_its_cpu_over_the_last_10_seconds(live_server):
    staff = live_server.headers("admin")
    with httpx.Client(base_url=live_server.url, timeout=20, headers=staff) as http:
        deadline = time.monotonic() + WAIT
        while True:
            stats = http.get("/api/rooms/demo").json()
            if stats["cpu"]["ticks"] >= 50 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    cpu = stats["cpu"]
    assert cpu["ticks"] >= 50 and 0 < cpu["window_s"] <= 10
    for part in ("render_ms", "encode_ms", "audio_ms"):
        ms = cpu[part]
        assert 0 < ms["median"] <= ms["p95"], part
        assert ms["mean"] < 40, part  # a 25 fps frame lasts 40 ms
    assert cpu["tick_ms"] >= cpu["render_ms"]["mean"]
    assert 0 < cpu["cpu_share"] < 1
    cache = stats["render_cache"]
    assert cache["scene"]["hits"] >= 50 and cache["scene"]["misses"] == 1
    assert cache["heads"]["hits"] > 0 and cache["hands"]["hits"] > 0
    for name, layer in cache.items():
        assert layer["size"] <= layer["limit"], name
    # the host's own region is redrawn, not the whole character box (39 % of the frame)
    assert 0.05 < stats["host_region_share"] < 0.35
