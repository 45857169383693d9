"""The 7×24 scheduler on an injected clock, over a real shop database and a real engine with
real rooms: slots start and stop rooms on time (Asia/Shanghai), the next slot of a room takes
over at its boundary, a slot past midnight, a room stopped by hand stays stopped for its run,
a room started by hand is left alone, a failed start is retried, and a new scheduler (a
restart) catches up a slot that began while it was away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commerce import open_store
from commerce.errors import InvalidInput
from commerce.schedule import next_boundary
from streamer.engine import Engine
from streamer.room import RoomConfig
from streamer.scheduler import Scheduler, zone
from streamer.shop_feed import shop_catalog

SECRET = "test-secret-key"
SHANGHAI = zone("Asia/Shanghai")


class Clock:
    """Wall time in Shanghai, settable: `clock.at("06:00")` (a fixed day)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 5, 0, tzinfo=SHANGHAI)

    def at(self, hhmm: str, day: int = 7, second: int = 0) -> None:
        h, m = map(int, hhmm.split(":"))
        self.now = datetime(2026, 12, day, h, m, second, tzinfo=SHANGHAI)

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


@pytest.fixture
async def shop(tmp_path):
    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path}/shop.db", secret_key=SECRET, background=False
    )
    engine = Engine(shop_catalog(store), max_rooms=3)
    try:
        yield store, engine
    finally:
        await engine.close()
        await store.close()


def slot(room, persona, start, end, lineup=(), **kw):
    return {
        "room_id": room,
        "persona": persona,
        "start": start,
        "end": end,
        "lineup": list(lineup),
        **kw,
    }


async def test_slots_start_and_stop_rooms_on_time(shop):
    store, engine = shop
    clock = Clock()
    sched = Scheduler(engine, store, clock=clock)
    wang = await store.schedule.add(
        "default",
        slot("fuping", "xiaowang", "06:00", "12:00", ["fp-jujube-500g", "fp-millet-2500g"]),
        "op",
    )
    li = await store.schedule.add(
        "default", slot("fuping", "xiaoli", "19:00", "23:00", ["fp-apple-5kg"]), "op"
    )

    clock.at("05:59", second=59)
    assert await sched.tick() == {"started": [], "stopped": []}
    assert "fuping" not in engine.configs()
    assert sched.describe(wang)["state"] == "waiting"
    # the loop would sleep just past the boundary: one second here
    slots = await store.schedule.list()
    assert next_boundary(slots, sched.local_now()) == pytest.approx(1.0)

    clock.at("06:00")
    assert await sched.tick() == {"started": ["fuping"], "stopped": []}
    config = engine.configs()["fuping"]
    assert config.persona == "xiaowang"
    assert config.lineup == ["fp-jujube-500g", "fp-millet-2500g"]
    assert sched.describe(wang)["state"] == "live"
    assert sched.describe(wang)["ends_at"] == "2026-12-07T12:00"
    assert (await store.rooms.shop_of("fuping")) == "default"

    clock.at("11:59", second=59)
    assert await sched.tick() == {"started": [], "stopped": []}
    assert "fuping" in engine.configs()

    clock.at("12:00")
    assert await sched.tick() == {"started": [], "stopped": ["fuping"]}
    assert "fuping" not in engine.configs()
    assert sched.describe(wang)["state"] == "waiting"

    clock.at("19:00", second=1)
    assert await sched.tick() == {"started": ["fuping"], "stopped": []}
    assert engine.configs()["fuping"].persona == "xiaoli"
    assert engine.configs()["fuping"].lineup == ["fp-apple-5kg"]
    assert sched.describe(li)["state"] == "live"
    clock.at("23:00")
    assert await sched.tick() == {"started": [], "stopped": ["fuping"]}


async def test_the_next_slot_takes_over_and_a_slot_runs_past_midnight(shop):
    store, engine = shop
    clock = Clock()
    sched = Scheduler(engine, store, clock=clock)
    await store.schedule.add("default", slot("r1", "xiaowang", "20:00", "22:00"), "op")
    night = await store.schedule.add("default", slot("r1", "xiaozhang", "22:00", "02:00"), "op")

    clock.at("21:30")
    assert (await sched.tick())["started"] == ["r1"]
    clock.at("22:00")
    assert await sched.tick() == {"started": ["r1"], "stopped": ["r1"]}
    assert engine.configs()["r1"].persona == "xiaozhang"
    clock.at("01:59", day=8)
    assert await sched.tick() == {"started": [], "stopped": []}
    assert sched.describe(night)["ends_at"] == "2026-12-08T02:00"
    clock.at("02:00", day=8)
    assert (await sched.tick())["stopped"] == ["r1"]


async def test_a_restart_mid_slot_catches_up_and_hand_stops_and_starts_are_respected(shop):
    store, engine = shop
    clock = Clock()
    s1 = await store.schedule.add("default", slot("a", "xiaowang", "06:00", "12:00"), "op")
    clock.at("06:00")
    first = Scheduler(engine, store, clock=clock)
    assert (await first.tick())["started"] == ["a"]

    # the operator stops it by hand: it stays stopped for the rest of this run
    await engine.stop_room("a")
    clock.at("07:00")
    assert await first.tick() == {"started": [], "stopped": []}
    assert first.describe(s1)["state"] == "skipped"
    # ... and the next day's run starts again
    clock.at("06:00", day=8)
    assert (await first.tick())["started"] == ["a"]

    # the server restarts mid-slot: the new scheduler's first pass starts the room again
    await engine.stop_room("a")
    clock.at("09:30", day=8)
    second = Scheduler(engine, store, clock=clock)
    assert (await second.tick())["started"] == ["a"]

    # a room already live by hand when its slot begins is left alone, and kept at the end
    await store.schedule.add("default", slot("b", "xiaoli", "10:00", "11:00"), "op")
    await engine.start_room(RoomConfig(room_id="b", persona="xiaowang"))
    clock.at("10:00", day=8)
    assert (await second.tick())["started"] == []
    assert [second.describe(s)["state"] for s in await store.schedule.list(room_id="b")] == ["busy"]
    clock.at("11:00", day=8)
    assert "b" not in (await second.tick())["stopped"]
    assert engine.configs()["b"].persona == "xiaowang"


async def test_a_failed_start_is_shown_and_retried(shop):
    store, engine = shop
    clock = Clock()
    sched = Scheduler(engine, store, clock=clock)
    for i in range(3):  # the engine runs at most 3 rooms
        await engine.start_room(RoomConfig(room_id=f"hand{i}", persona="xiaowang"))
    s = await store.schedule.add("default", slot("late", "xiaoli", "06:00", "08:00"), "op")
    clock.at("06:00")
    assert (await sched.tick())["started"] == []
    status = sched.describe(s)
    assert status["state"] == "error" and "at most 3 rooms" in status["detail"]
    await engine.stop_room("hand0")
    clock.at("06:00", second=5)
    assert (await sched.tick())["started"] == ["late"]
    # deleting the slot mid-run stops the room it started
    await store.schedule.delete("default", s.id)
    assert (await sched.tick())["stopped"] == ["late"]


async def test_overlaps_and_bad_times_are_refused_with_a_reason(shop):
    store, _ = shop
    await store.schedule.add("default", slot("x", "xiaowang", "06:00", "12:00"), "op")
    await store.schedule.add("default", slot("x", "xiaoli", "22:00", "02:00"), "op")
    await store.schedule.add("default", slot("x", "xiaoli", "12:00", "13:00"), "op")  # touches
    await store.schedule.add("default", slot("y", "xiaoli", "07:00", "08:00"), "op")  # other room
    for start, end in (
        ("11:00", "12:30"),
        ("05:00", "07:00"),
        ("01:00", "03:00"),
        ("23:00", "23:30"),
    ):
        with pytest.raises(InvalidInput) as e:
            await store.schedule.add("default", slot("x", "xiaozhang", start, end), "op")
        assert "重叠" in e.value.reason and "直播间 x" in e.value.reason
    for start, end, word in (
        ("6:00", "12:00", "开始时间"),
        ("24:00", "12:00", "开始时间"),
        ("06:00", "24:01", "结束时间"),
        ("06:00", "06:00", "不能相同"),
        ("<b>", "12:00", "开始时间"),
    ):
        with pytest.raises(InvalidInput) as e:
            await store.schedule.add("default", slot("z", "xiaowang", start, end), "op")
        assert word in e.value.reason
    with pytest.raises(InvalidInput, match="商品不存在"):
        await store.schedule.add("default", slot("z", "xiaowang", "01:00", "02:00", ["nope"]), "op")
    whole = await store.schedule.add("default", slot("w", "xiaowang", "00:00", "24:00"), "op")
    assert whole.occurrence(datetime(2026, 12, 7, 23, 59)) == datetime(2026, 12, 7)
    assert whole.end_of(datetime(2026, 12, 7)) == datetime(2026, 12, 7) + timedelta(days=1)


async def test_a_slot_s_outputs_are_pushed_with_its_stored_key(shop):
    store, engine = shop
    clock = Clock()
    sched = Scheduler(engine, store, clock=clock)
    key = "douyin-stream-key-0123456789"
    s = await store.schedule.add(
        "default",
        slot(
            "pushed",
            "xiaowang",
            "06:00",
            "07:00",
            outputs=[{"name": "抖音", "url": "rtmp://127.0.0.1:9/live", "stream_key": key}],
        ),
        "op",
    )
    assert s.view()["outputs"] == [
        {"name": "抖音", "url": "rtmp://127.0.0.1:9/live", "stream_key": "****6789"}
    ]
    clock.at("06:00")
    assert (await sched.tick())["started"] == ["pushed"]
    outputs = engine.list_outputs("pushed")
    assert [(o["name"], o["stream_key"]) for o in outputs] == [("抖音", "****6789")]
    assert sched.describe(s)["state"] == "live"


async def test_a_whole_day_slot_keeps_its_room_live_past_midnight(shop):
    store, engine = shop
    clock = Clock()
    sched = Scheduler(engine, store, clock=clock)
    await store.schedule.add("default", slot("w", "xiaowang", "00:00", "24:00"), "op")
    clock.at("23:59", second=59)
    assert (await sched.tick())["started"] == ["w"]
    clock.at("00:00", day=8)
    assert await sched.tick() == {"started": [], "stopped": []}
    assert "w" in engine.configs()


async def test_a_hand_stop_survives_a_restart_until_the_slots_next_run(shop):
    store, engine = shop
    clock = Clock()
    s1 = await store.schedule.add("default", slot("h", "xiaowang", "06:00", "12:00"), "op")
    clock.at("06:00")
    first = Scheduler(engine, store, clock=clock)
    assert (await first.tick())["started"] == ["h"]
    await engine.stop_room("h")  # by hand, mid-run
    clock.at("07:00")
    assert await first.tick() == {"started": [], "stopped": []}
    assert first.describe(s1)["state"] == "skipped"

    # a restart mid-run: the new scheduler keeps the room stopped for this run
    clock.at("08:00")
    second = Scheduler(engine, store, clock=clock)
    assert await second.tick() == {"started": [], "stopped": []}
    assert "h" not in engine.configs()
    assert second.describe(s1)["state"] == "skipped"

    # the run ends: the hand stop is forgotten, and the next day's run starts
    clock.at("13:00")
    await second.tick()
    assert await store.schedule.skipped_runs() == set()
    clock.at("06:00", day=8)
    third = Scheduler(engine, store, clock=clock)
    assert (await third.tick())["started"] == ["h"]
    await engine.stop_room("h")
