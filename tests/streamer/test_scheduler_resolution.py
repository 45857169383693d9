"""A 480p (省流) schedule slot starts its room at 854×480 on the scheduler's clock, over a
real shop database and a real engine; a slot that says nothing starts it at 1280×720."""

from __future__ import annotations

from streamer.scheduler import Scheduler
from tests.streamer.test_scheduler import Clock, shop, slot  # noqa: F401 (fixture)


async def test_a_480p_slot_starts_its_room_at_854_by_480(shop):  # noqa: F811
    store, engine = shop
    clock = Clock()
    sched = Scheduler(engine, store, clock=clock)
    low = await store.schedule.add(
        "default", slot("saver", "xiaowang", "06:00", "07:00", resolution="480p"), "op"
    )
    await store.schedule.add("default", slot("saver", "xiaoli", "07:00", "08:00"), "op")

    clock.at("06:00")
    assert (await sched.tick())["started"] == ["saver"]
    config = engine.configs()["saver"]
    assert (config.width, config.height) == (854, 480)
    stats = engine.room("saver").info()
    assert (stats["orientation"], stats["width"], stats["height"]) == ("landscape", 854, 480)
    assert sched.describe(low)["state"] == "live"

    # the next slot (no resolution given: 720p) takes over at 1280×720
    clock.at("07:00")
    assert (await sched.tick())["started"] == ["saver"]
    config = engine.configs()["saver"]
    assert (config.width, config.height) == (1280, 720)
