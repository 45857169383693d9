"""Message sources: the Douyin push webhook, the deduper, JSONL replay and the simulator."""

import asyncio
import json
import time
from collections import Counter

import pytest

from danmaku.dedup import Deduper
from danmaku.messages import Comment, Enter, Follow, Gift, Like, Purchase
from danmaku.sources import Source
from danmaku.sources.douyin import (
    MAX_BODY,
    BadPush,
    DouyinPushSource,
    check_fresh,
    parse_push,
    sign,
    verify_push,
    verify_signature,
)
from danmaku.sources.replay import ReplaySource, write_jsonl
from danmaku.sources.simulator import SimulatorSource

SECRET = "s3cret-枣"
PUSHED_AT = 1717000000.0  # the x-timestamp of push_headers, in seconds
DY_ROOM = "7380000000000000001"  # the x-roomid of push_headers


def push_headers(msg_type: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    headers = {
        "x-nonce-str": "n0nce",
        "x-timestamp": "1717000000000",
        "x-roomid": "7380000000000000001",
        "x-msg-type": msg_type,
        "content-type": "application/json",
    }
    headers["x-signature"] = sign(headers, body, secret)
    return headers


def comment(msg_id: str, text: str = "多少钱一斤？", **extra) -> dict:
    return {
        "msg_id": msg_id,
        "sec_openid": "open-" + msg_id,
        "content": text,
        "avatar_url": "https://p3.douyinpic.com/a.jpeg",
        "nickname": "枣乡人",
        "timestamp": 1717000000123,
        **extra,
    }


def body_of(payloads) -> bytes:
    return json.dumps(payloads, ensure_ascii=False).encode()


# --- Douyin push: signature ---------------------------------------------------------------


def test_signature_matches_the_documented_example():
    headers = {"x-nonce-str": "123456", "x-timestamp": "456789", "x-roomid": "268"}
    headers["x-msg-type"] = "user_group"
    assert sign(headers, "abc123你好".encode(), "123abc") == "GAkalGmhzqlUGQO/TgvMug=="


def test_signature_verifies_and_rejects_tampering():
    body = body_of([comment("m1")])
    headers = push_headers("live_comment", body)
    assert verify_signature(headers, body, SECRET)
    assert verify_signature({k.upper(): v for k, v in headers.items()}, body, SECRET)
    assert not verify_signature(headers, body + b" ", SECRET)
    assert not verify_signature(headers, body, "other-secret")
    assert not verify_signature({**headers, "x-roomid": "1"}, body, SECRET)
    assert not verify_signature({**headers, "x-signature": "AAAA"}, body, SECRET)
    assert not verify_signature({**headers, "x-signature": "签名"}, body, SECRET)
    no_sig = {k: v for k, v in headers.items() if k != "x-signature"}
    assert not verify_signature(no_sig, body, SECRET)
    no_nonce = {k: v for k, v in headers.items() if k != "x-nonce-str"}
    assert not verify_signature(no_nonce, body, SECRET)
    assert not verify_signature(headers, body, "")


# --- Douyin push: parsing -------------------------------------------------------------------


def test_parse_push_maps_every_message_type():
    comments = parse_push(
        push_headers("live_comment", b""), body_of([comment("c1"), comment("c2", "上链接")]), "r1"
    )
    assert [type(m) for m in comments] == [Comment, Comment]
    c = comments[0]
    assert (c.room_id, c.user_id, c.nickname, c.source) == ("r1", "open-c1", "枣乡人", "douyin")
    assert c.dedup_id == "c1" and c.text == "多少钱一斤？" and c.ts == pytest.approx(1717000000.123)

    gift = {**comment("g1"), "sec_gift_id": "n1/Dg1905sj", "gift_num": 3, "gift_value": 30}
    [g] = parse_push(push_headers("live_gift", b""), body_of([gift]), "r1")
    assert isinstance(g, Gift) and (g.gift, g.count, g.value_fen) == ("n1/Dg1905sj", 3, 30)

    like = {**comment("l1"), "like_num": 12}
    [lk] = parse_push(push_headers("live_like", b""), body_of([like]), "r1")
    assert isinstance(lk, Like) and lk.count == 12

    fan = {**comment("f1"), "fansclub_reason_type": 2, "fansclub_level": 1}
    [f] = parse_push(push_headers("live_fansclub", b""), body_of([fan]), "r1")
    assert isinstance(f, Follow) and f.dedup_id == "f1"


@pytest.mark.parametrize(
    "msg_type, body, reason",
    [
        ("live_comment", b"{not json", "bad_json"),
        ("live_comment", b"\xff\xfe[\x00]", "bad_json"),
        ("live_comment", b"[" * 100_000 + b"]" * 100_000, "bad_json"),
        ("live_comment", b'{"msg_id": "1"}', "bad_type"),
        ("live_comment", b"[1, 2]", "bad_type"),
        ("live_comment", body_of([{**comment("1"), "content": 5}]), "bad_type"),
        ("live_comment", body_of([{**comment("1"), "timestamp": "soon"}]), "bad_type"),
        ("live_like", body_of([{**comment("1"), "like_num": True}]), "bad_type"),
        ("live_like", body_of([{**comment("1"), "like_num": -3}]), "bad_type"),
        ("live_gift", body_of([{**comment("1"), "sec_gift_id": "x", "gift_num": 0}]), "bad_type"),
        ("live_comment", body_of([{k: v for k, v in comment("1").items() if k != "msg_id"}]),
         "missing_field"),
        ("live_comment", body_of([{**comment("1"), "sec_openid": ""}]), "missing_field"),
        ("live_gift", body_of([comment("1")]), "missing_field"),
        ("live_like", body_of([comment("1")]), "missing_field"),
        ("live_mystery", body_of([comment("1")]), "unknown_msg_type"),
        ("", body_of([comment("1")]), "unknown_msg_type"),
        ("live_comment", b"[" + b" " * (MAX_BODY + 1) + b"]", "too_large"),
    ],
)  # fmt: skip
def test_malformed_pushes_raise_badpush_with_a_reason(msg_type, body, reason):
    with pytest.raises(BadPush) as info:
        parse_push(push_headers(msg_type, body), body, "r1")
    assert info.value.reason == reason


def test_empty_push_is_no_messages():
    assert parse_push(push_headers("live_comment", b"[]"), b"[]", "r1") == []


def test_hostile_comment_text_arrives_as_plain_text():
    payloads = [
        comment("x1", "<script>alert(1)</script>"),
        comment("x2", "\u200b" * 10 + "😋" * 500),
    ]
    body = body_of(payloads)
    msgs = parse_push(push_headers("live_comment", body), body, "r1")
    assert msgs[0].text == "<script>alert(1)</script>"
    assert len(msgs[1].text) == 510  # moderation, not the source, decides what to show


# --- Douyin push as a Source, with dedup ------------------------------------------------------


async def test_push_source_yields_each_message_once_despite_replays_and_reordering():
    src = DouyinPushSource("r1", SECRET, platform_room=DY_ROOM, clock=lambda: PUSHED_AT + 1)
    assert isinstance(src, Source)
    first = body_of([comment("m1"), comment("m2")])
    replay = body_of([comment("m3"), comment("m2"), comment("m1")])  # repeats, out of order
    assert src.push(push_headers("live_comment", first), first) == 2
    assert src.push(push_headers("live_comment", replay), replay) == 1
    assert src.push(push_headers("live_comment", first), first) == 0

    forged = body_of([comment("m9")])
    with pytest.raises(BadPush) as info:
        src.push(push_headers("live_comment", forged, secret="guess"), forged)
    assert info.value.reason == "bad_signature"
    bad = b"{oops"
    with pytest.raises(BadPush):
        src.push(push_headers("live_comment", bad), bad)

    src.close()
    got = [m.dedup_id async for m in src.messages()]
    assert got == ["m1", "m2", "m3"]
    assert src.counts["duplicates"] == 4 and src.counts["bad_signature"] == 1
    assert src.counts["bad_push"] == 1 and src.deduper.first_time("m1") is False


async def test_push_source_drops_when_consumer_falls_behind():
    src = DouyinPushSource(
        "r1", SECRET, max_queue=5, platform_room=DY_ROOM, clock=lambda: PUSHED_AT
    )
    body = body_of([comment(f"q{i}") for i in range(8)])
    assert src.push(push_headers("live_comment", body), body) == 5
    assert src.counts["dropped"] == 3


def test_push_signed_seven_days_ago_or_for_another_room_is_refused():
    body = body_of([comment("m1")])
    headers = push_headers("live_comment", body)
    verify_push(headers, body, SECRET, DY_ROOM, now=PUSHED_AT + 299)  # inside the window
    cases = {
        "a week old": (headers, DY_ROOM, PUSHED_AT + 7 * 86400, "stale"),
        "just past the window": (headers, DY_ROOM, PUSHED_AT + 301, "stale"),
        "from the future": (headers, DY_ROOM, PUSHED_AT - 120, "stale"),
        "another room": (headers, "7380000000000000002", PUSHED_AT, "wrong_room"),
        "forged": ({**headers, "x-signature": "AAAA"}, DY_ROOM, PUSHED_AT, "bad_signature"),
    }
    for name, (h, room, now, reason) in cases.items():
        with pytest.raises(BadPush) as info:
            verify_push(h, body, SECRET, room, now=now)
        assert info.value.reason == reason and info.value.detail, name
    with pytest.raises(BadPush) as info:
        verify_push(headers, body, SECRET, DY_ROOM, now=PUSHED_AT + 7 * 86400)
    assert "过期" in info.value.detail
    # a shorter window is the server's to choose
    with pytest.raises(BadPush):
        verify_push(headers, body, SECRET, DY_ROOM, now=PUSHED_AT + 61, window=60)
    src = DouyinPushSource("r1", SECRET, platform_room=DY_ROOM, clock=lambda: PUSHED_AT + 86400)
    with pytest.raises(BadPush):
        src.push(headers, body)
    assert src.counts["stale"] == 1 and src.counts["accepted"] == 0


@pytest.mark.parametrize(
    "stamp", ["", "abc", "1e12", "-5", "１７１７０００００００００", "9" * 40, " 17 ", "0x10"]
)
def test_a_garbage_timestamp_is_refused_as_stale(stamp):
    with pytest.raises(BadPush) as info:
        check_fresh({"x-timestamp": stamp}, PUSHED_AT)
    assert info.value.reason == "stale"


def test_an_overlong_msg_id_is_refused_not_cut():
    body = body_of([comment("x" * 257)])
    with pytest.raises(BadPush) as info:
        parse_push(push_headers("live_comment", body), body, "r1")
    assert info.value.reason == "bad_type" and "msg_id" in info.value.detail
    ok = body_of([comment("x" * 256)])
    assert parse_push(push_headers("live_comment", ok), ok, "r1")[0].dedup_id == "x" * 256


# --- Deduper ----------------------------------------------------------------------------------


def test_deduper_accepts_a_replayed_id_once_within_ttl():
    t = [0.0]
    d = Deduper(max_size=100, ttl=60, clock=lambda: t[0])
    assert d.first_time("a") and d.first_time("b")
    assert not d.first_time("a") and not d.first_time("b")
    t[0] = 59
    assert not d.first_time("a")
    t[0] = 61
    assert d.first_time("a")  # forgotten after the TTL
    assert d.stats()["duplicates"] == 3 and d.stats()["expired"] == 2


def test_deduper_stays_at_its_cap_under_a_million_ids():
    d = Deduper(max_size=10_000, ttl=3600, clock=lambda: 0.0)
    first = d.first_time
    new = sum(first(str(i)) for i in range(1_000_000))
    assert new == 1_000_000 and len(d) == 10_000
    assert d.stats()["evicted"] == 990_000
    assert not d.first_time("999999") and d.first_time("0")  # recent kept, oldest forgotten


# --- Replay ---------------------------------------------------------------------------------


class FakeTime:
    """A clock whose sleep advances it, so replay timing is exact and instant."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def recording(tmp_path):
    msgs = [
        Comment("orig", "u1", "老张", ts=100.0, text="主播好", dedup_id="a"),
        Like("orig", "u2", "小芳", ts=101.0, count=3, dedup_id="b"),
        Gift("orig", "u3", "枣乡人", ts=103.0, gift="玫瑰", count=2, value_fen=20, dedup_id="c"),
        Enter("orig", "u4", "老兵", ts=103.5, dedup_id="d"),
        Follow("orig", "u4", "老兵", ts=104.0, dedup_id="e"),
        Purchase("orig", "u5", "刘姐", ts=110.0, sku="zao-1", quantity=2, dedup_id="f"),
    ]
    path = tmp_path / "room.jsonl"
    assert write_jsonl(msgs, path) == 6
    return msgs, path


async def test_replay_round_trips_and_keeps_spacing_scaled_by_speed(tmp_path):
    msgs, path = recording(tmp_path)
    ft = FakeTime()
    src = ReplaySource(path, "r9", speed=2.0, clock=ft.clock, sleep=ft.sleep)
    got = [m async for m in src.messages()]
    assert [type(m) for m in got] == [type(m) for m in msgs]
    assert got[2].gift == "玫瑰" and got[2].value_fen == 20 and got[5].sku == "zao-1"
    assert all(m.room_id == "r9" and m.source == "replay" for m in got)
    assert [m.dedup_id for m in got] == list("abcdef") and got[0].ts == 100.0
    assert ft.sleeps == pytest.approx([0.5, 1.0, 0.25, 0.25, 3.0])
    assert src.emitted == 6 and src.skipped == 0


async def test_replay_at_speed_zero_never_waits(tmp_path):
    _, path = recording(tmp_path)
    ft = FakeTime()
    src = ReplaySource(path, "r9", speed=0, clock=ft.clock, sleep=ft.sleep)
    assert len([m async for m in src.messages()]) == 6 and ft.t == 0.0


async def test_replay_skips_and_counts_malformed_lines(tmp_path):
    good = json.dumps(
        {"type": "comment", "user_id": "u1", "nickname": "老张", "text": "好吃", "ts": 1}
    )
    lines = [
        good.encode(),
        b"\xff\xfe\xfd not utf-8",
        b"{broken json",
        b"[1, 2, 3]",
        b'{"type": "dance", "user_id": "u1", "ts": 1}',
        b'{"type": "comment", "user_id": "", "ts": 1}',
        b'{"type": "comment", "user_id": "u1", "ts": "yesterday"}',
        b'{"type": "comment", "user_id": "u1", "ts": NaN}',
        b'{"type": "like", "user_id": "u1", "ts": 2, "count": "many"}',
        b"",
        b'{"type": "comment", "user_id": "u1", "ts": 2, "text": "' + b"x" * 200_000 + b'"}',
        b"[" * 50_000,
        good.replace('"ts": 1', '"ts": 3').encode(),
    ]
    path = tmp_path / "dirty.jsonl"
    path.write_bytes(b"\n".join(lines))
    src = ReplaySource(path, "r1", speed=0)
    got = [m async for m in src.messages()]
    assert [m.ts for m in got] == [1.0, 3.0] and got[0].text == "好吃"
    assert src.skipped == 10


async def test_replay_can_be_closed_midway(tmp_path):
    _, path = recording(tmp_path)
    ft = FakeTime()
    src = ReplaySource(path, "r1", speed=1.0, clock=ft.clock, sleep=ft.sleep)
    got = []
    async for m in src.messages():
        got.append(m)
        if len(got) == 2:
            src.close()
    assert len(got) == 2


def test_replay_rejects_a_negative_speed(tmp_path):
    with pytest.raises(ValueError):
        ReplaySource(tmp_path / "x.jsonl", "r1", speed=-1)


# --- Simulator ------------------------------------------------------------------------------


def fingerprint(msgs):
    return [(type(m).__name__, m.user_id, getattr(m, "text", ""), m.dedup_id, m.ts) for m in msgs]


def test_simulator_is_deterministic_under_a_seed():
    a = SimulatorSource("r1", rate=50, seed=7, start_ts=0.0).batch(500)
    b = SimulatorSource("r1", rate=50, seed=7, start_ts=0.0).batch(500)
    c = SimulatorSource("r1", rate=50, seed=8, start_ts=0.0).batch(500)
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_simulator_mix_looks_like_a_live_room():
    msgs = SimulatorSource("r1", rate=100, seed=1).batch(5_000)
    kinds = Counter(type(m).__name__ for m in msgs)
    assert set(kinds) == {"Comment", "Like", "Enter", "Gift", "Follow"}
    assert 0.65 < kinds["Comment"] / 5_000 < 0.8
    texts = Counter(m.text for m in msgs if isinstance(m, Comment))
    for expected in ("上链接", "主播好", "666", "太贵了", "加V领红包"):
        assert texts[expected] > 0
    assert any("多少钱" in t for t in texts) and any("保存" in t for t in texts)
    assert len({m.user_id for m in msgs}) > 1_000
    assert {m.nickname for m in msgs} >= {"老张", "枣乡人", "小芳"}
    gaps = [b.ts - a.ts for a, b in zip(msgs, msgs[1:], strict=False)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.01, rel=0.1)  # rate 100/s on average


def test_simulator_mood_knob_shifts_the_comments():
    complaints = ("太贵", "慢", "烂", "坏", "不", "虫", "缺斤")

    def complaint_share(mood):
        sim = SimulatorSource("r1", rate=100, seed=3, mood=mood, mix={"comment": 1.0})
        texts = [m.text for m in sim.batch(2_000)]
        return sum(any(w in t for w in complaints) for t in texts) / len(texts)

    assert (
        complaint_share("upset") > 0.5 > 0.2 > complaint_share("mixed") > complaint_share("happy")
    )
    sim = SimulatorSource("r1", rate=10, seed=3)
    sim.mood = "upset"
    with pytest.raises(ValueError):
        sim.mood = "furious"
    with pytest.raises(ValueError):
        SimulatorSource("r1", rate=10, seed=3, mix={"dance": 1.0})


async def test_simulator_streams_at_its_rate_and_ends_after_duration():
    ft = FakeTime()
    sim = SimulatorSource("r1", rate=200, seed=5, duration=10.0, clock=ft.clock, sleep=ft.sleep)
    assert isinstance(sim, Source)
    got = [m async for m in sim.messages()]
    assert 1_800 < len(got) < 2_200
    assert 9.5 < ft.t <= 10.0  # slept its way through ten simulated seconds


async def test_simulator_produces_a_thousand_comments_a_second_in_real_time():
    sim = SimulatorSource("r1", rate=1_000, seed=9, duration=0.5, mix={"comment": 1.0})
    start = time.monotonic()
    got = [m async for m in sim.messages()]
    elapsed = time.monotonic() - start
    assert 400 < len(got) < 600 and all(isinstance(m, Comment) for m in got)
    assert elapsed < 1.5  # paced by the clock, not by generation cost


async def test_simulator_close_ends_the_stream():
    sim = SimulatorSource("r1", rate=1_000, seed=9)

    async def consume():
        n = 0
        async for _ in sim.messages():
            n += 1
            if n == 50:
                sim.close()
        return n

    assert await asyncio.wait_for(consume(), 5) == 50
