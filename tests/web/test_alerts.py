"""Ops alerts: every default rule fires once and resolves once; messages reach a real
robot webhook on loopback in WeCom's and DingTalk's markdown shape; a starved room raises
the fps alert in the console and at the webhook and resolves when it recovers; a dead
receiver gets retries, recorded, while the room never slows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets

from commerce.orders import LineRequest, OrderRequest
from testkit.livesrv import LiveServer
from testkit.webhook import RobotReceiver, free_port
from web.alert_rules import AlertRules
from web.alerts import AlertDesk


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def room(rid="r1", fps=25.0, age=0.0, **kw) -> dict:
    return {"room_id": rid, "live": True, "fps": fps, "tick_age_s": age, "late_frames": 0, **kw}


def snap(rooms=(), disk=50.0, http=(0, 0), waiting=0, last_webhook=None, restarts=0) -> dict:
    return {
        "rooms": list(rooms),
        "machine": {"disk_free_pct": disk},
        "http": {"requests": http[0], "errors": http[1]},
        "payments": {"waiting": waiting, "last_webhook": last_webhook},
        "worker_restarts": restarts,
    }


async def _run(desk: AlertDesk, clock: Clock, states: list[tuple[float, dict]]) -> None:
    for dt, s in states:
        clock.t += dt
        desk.evaluate(s)
        await asyncio.sleep(0)


async def test_fps_fires_after_ten_seconds_once_and_resolves_once():
    clock = Clock()
    desk = AlertDesk(clock=clock)
    desk.start()
    low = snap([room(fps=18.0)])
    await _run(desk, clock, [(1, low)] * 9)
    assert not desk.active  # below 22 for 9 s: not yet
    await _run(desk, clock, [(1, low)] * 2)
    assert [a["rule"] for a in desk.active_view()] == ["fps_low"]
    await _run(desk, clock, [(1, low)] * 30)  # held: no repeat
    assert desk.stats["fired"] == 1
    ok = snap([room(fps=25.0)])
    await _run(desk, clock, [(1, ok)] * 2)
    assert desk.active  # must be gone for clear_s (3 s) first: no flapping
    await _run(desk, clock, [(1, low)] + [(1, ok)] * 5)
    assert not desk.active and desk.stats == {**desk.stats, "fired": 1, "resolved": 1}
    await desk.close()


@pytest.mark.parametrize(
    "rule, bad",
    [
        ("room_stalled", snap([room(age=5.0)])),
        ("backend_failing", snap([room(tts_fallbacks=2, tts_failures=0, llm_fallbacks=0)])),
        ("disk_low", snap(disk=4.5)),
        ("payments_silent", snap(waiting=3, last_webhook=None)),
    ],
)
async def test_each_default_rule_fires_and_resolves(rule, bad):
    clock = Clock()
    desk = AlertDesk(clock=clock)
    desk.start()
    await _run(desk, clock, [(1, bad)] * 3)
    assert [a["rule"] for a in desk.active_view()] == [rule]
    await _run(desk, clock, [(1, snap([room()]))] * 5)
    assert not desk.active and (desk.stats["fired"], desk.stats["resolved"]) == (1, 1)
    await desk.close()


async def test_error_rate_worker_restart_and_recent_webhooks():
    clock = Clock()
    desk = AlertDesk(clock=clock)
    desk.start()
    # 1000 requests a minute, 5 % of them 5xx
    states = [(1, snap(http=(i * 17, i))) for i in range(1, 70)]
    await _run(desk, clock, states)
    assert [a["rule"] for a in desk.active_view()] == ["error_rate"]
    states = [(1, snap(http=(69 * 17 + i * 17, 69))) for i in range(1, 70)]
    await _run(desk, clock, states)
    assert not desk.active
    await _run(desk, clock, [(1, snap(restarts=0)), (1, snap(restarts=1))])
    assert [a["rule"] for a in desk.active_view()] == ["worker_restarted"]
    await _run(desk, clock, [(10, snap(restarts=1))] * 8)
    assert not desk.active
    fresh = (datetime.now(UTC) - timedelta(seconds=30)).replace(tzinfo=None).isoformat()
    await _run(desk, clock, [(1, snap(waiting=2, last_webhook=fresh))] * 3)
    assert not desk.active  # payments wait, but the provider's webhooks still arrive
    await desk.close()


async def test_rules_come_from_configuration():
    rules = AlertRules.model_validate(
        {"fps_low": {"fps": 10, "for_s": 0}, "disk_low": {"enabled": False}}
    )
    clock = Clock()
    desk = AlertDesk(rules, clock=clock)
    desk.start()
    await _run(desk, clock, [(1, snap([room(fps=18)], disk=1.0))])
    assert not desk.active
    await _run(desk, clock, [(1, snap([room(fps=9)], disk=1.0))])
    assert [a["rule"] for a in desk.active_view()] == ["fps_low"]
    await desk.close()


@pytest.mark.parametrize("kind, field", [("wecom", "content"), ("dingtalk", "text")])
async def test_the_robot_gets_one_markdown_message_each_way(kind, field):
    with RobotReceiver() as robot:
        clock = Clock()
        desk = AlertDesk(webhook=robot.url, kind=kind, clock=clock, retry_base=0.05)
        desk.start()
        await _run(desk, clock, [(1, snap([room(age=9.0)]))] * 5)
        await _run(desk, clock, [(1, snap([room()]))] * 5)
        async with asyncio.timeout(10):
            while len(robot.messages) < 2:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        await desk.close()
    bodies = [b for _, b in robot.messages]
    assert len(bodies) == 2 and all(b["msgtype"] == "markdown" for b in bodies)
    texts = [b["markdown"][field] for b in bodies]
    assert texts[0].startswith("### 【告警】直播间画面停滞") and "直播间 r1" in texts[0]
    assert texts[1].startswith("### 【已恢复】直播间画面停滞")
    if kind == "dingtalk":
        assert bodies[0]["markdown"]["title"] == "【告警】直播间画面停滞"


# --- live: a real room, a real console, a real receiver ------------------------------------


def _ops_ws(srv) -> str:
    return srv.url.replace("http://", "ws://") + "/api/ops/live"


async def _console_alerts(srv, rule: str, present: bool, timeout: float) -> dict:
    """Wait on the console's socket until `rule` is (or is no longer) among active alerts."""
    async with websockets.connect(_ops_ws(srv), additional_headers=srv.headers("ops")) as ws:
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads(await ws.recv())
                active = (msg.get("snapshot") or {}) if msg["type"] == "hello" else msg
                rules = {a["rule"]: a for a in (active or {}).get("alerts") or []}
                if (rule in rules) is present:
                    return msg


def test_a_starved_room_raises_the_fps_alert_in_the_console_and_at_the_webhook(tmp_path):
    with (
        RobotReceiver() as robot,
        LiveServer(
            tmp_path / "y.db",
            ops_interval=0.5,
            alert_webhook=robot.url,
            alert_retry_base_s=0.2,
        ) as srv,
    ):
        room = srv.engine.rooms["demo"]
        deadline = time.monotonic() + 30
        while room.stats()["fps"] < 22 and time.monotonic() < deadline:
            time.sleep(0.2)
        room.tick_delay = 0.09  # the media thread is starved: frames come late and are skipped
        try:
            msg = asyncio.run(_console_alerts(srv, "fps_low", True, 60))
            alert = next(a for a in msg["alerts"] if a["rule"] == "fps_low")
            assert alert["subject"] == "直播间 demo" and "fps" in alert["message"]
            deadline = time.monotonic() + 20
            while not any("【告警】直播间帧率过低" in t for t in robot.texts()):
                assert time.monotonic() < deadline, robot.texts()
                time.sleep(0.1)
        finally:
            room.tick_delay = 0.0
        asyncio.run(_console_alerts(srv, "fps_low", False, 60))
        deadline = time.monotonic() + 20
        while not any("【已恢复】直播间帧率过低" in t for t in robot.texts()):
            assert time.monotonic() < deadline, robot.texts()
            time.sleep(0.1)
        time.sleep(2)  # nothing more follows
        fps_msgs = [t for t in robot.texts() if "直播间帧率过低" in t]
        assert len(fps_msgs) == 2 and "【告警】" in fps_msgs[0] and "【已恢复】" in fps_msgs[1]
        hist = httpx.get(
            srv.url + "/api/ops/alerts", headers=srv.headers("ops"), timeout=10
        ).json()["history"]
        row = next(r for r in hist if r["rule"] == "fps_low")
        assert row["resolved_at"] and row["delivered"] == 2 and row["subject"] == "直播间 demo"


def test_a_dead_receiver_gets_retries_recorded_and_the_room_never_slows(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/robot/send"  # nothing listens there
    with LiveServer(
        tmp_path / "y.db",
        ops_interval=0.5,
        alert_webhook=dead,
        alert_retries=4,
        alert_retry_base_s=0.3,
        alert_rules={"disk_low": {"free_pct": 100.0}},  # fires at once: any disk is "low"
    ) as srv:
        room = srv.engine.rooms["demo"]
        deadline = time.monotonic() + 30
        while room.stats()["fps"] < 22 and time.monotonic() < deadline:
            time.sleep(0.2)
        late_before = room.stats()["skipped_frames_total"]
        ticks_before = room.metrics.frames + room.metrics.skipped_frames
        t0 = time.monotonic()
        deadline = t0 + 30
        row = {}
        while time.monotonic() < deadline:
            hist = httpx.get(
                srv.url + "/api/ops/alerts", headers=srv.headers("ops"), timeout=10
            ).json()["history"]
            row = next((r for r in hist if r["rule"] == "disk_low"), {})
            if row.get("attempts", 0) >= 5:
                break
            time.sleep(0.2)
        assert row["attempts"] == 5 and row["delivered"] == 0, row  # 1 + 4 retries
        assert "Connect" in row["last_error"]
        elapsed = time.monotonic() - t0
        ticks = room.metrics.frames + room.metrics.skipped_frames - ticks_before
        assert ticks >= 0.9 * 25 * elapsed  # the media clock kept its pace all along
        assert room.stats()["skipped_frames_total"] - late_before <= 0.05 * ticks
        assert srv.app.state.alerts.stats["failed_attempts"] >= 5


def test_a_dead_llm_backend_raises_the_backend_alert(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1"  # an OpenAI-style endpoint nobody serves
    writers = {"llm": {"backend": "openai", "base_url": dead, "api_key": "k", "model": "m"}}
    with (
        RobotReceiver() as robot,
        LiveServer(
            tmp_path / "y.db",
            demo_room=False,
            ops_interval=0.5,
            writers=writers,
            alert_webhook=robot.url,
            alert_retry_base_s=0.2,
        ) as srv,
    ):
        with httpx.Client(base_url=srv.url, headers=srv.headers(), timeout=30) as admin:
            res = admin.post("/api/rooms", json={"room_id": "llm", "writer": "llm"})
            assert res.status_code in (200, 201), res.text
            try:
                res = admin.post("/api/rooms/llm/questions", json={"text": "蜂蜜多少钱一斤"})
                assert res.status_code in (200, 202)
                deadline = time.monotonic() + 40
                while not any("【告警】语音/文案后端故障" in t for t in robot.texts()):
                    assert time.monotonic() < deadline, robot.texts()
                    time.sleep(0.1)
                text = next(t for t in robot.texts() if "语音/文案后端故障" in t)
                assert "直播间 llm" in text and "文案回退" in text
            finally:
                admin.post("/api/rooms/llm/stop")


def test_a_killed_worker_raises_the_restart_alert_once(tmp_path):
    with (
        RobotReceiver() as robot,
        LiveServer(
            tmp_path / "y.db",
            workers=1,
            ops_interval=0.5,
            alert_webhook=robot.url,
            alert_retry_base_s=0.2,
            alert_rules={"worker_restarted": {"hold_s": 2}},
        ) as srv,
    ):
        deadline = time.monotonic() + 60
        while not (srv.engine.workers[0].alive and srv.app.state.ops_watch.samples > 2):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        os.kill(srv.engine.workers[0].pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not any("【已恢复】直播工作进程重启" in t for t in robot.texts()):
            assert time.monotonic() < deadline, robot.texts()
            time.sleep(0.2)
        restart = [t for t in robot.texts() if "直播工作进程重启" in t]
        assert len(restart) == 2 and "【告警】" in restart[0] and "重启 1 次" in restart[0]


def test_payments_waiting_with_a_silent_provider_raise_the_payment_alert(tmp_path):
    with (
        RobotReceiver() as robot,
        LiveServer(
            tmp_path / "y.db",
            ops_interval=0.5,
            alert_webhook=robot.url,
            alert_rules={"payments_silent": {"silent_s": 10}},
        ) as srv,
    ):
        req = OrderRequest(
            buyer_id="",
            buyer_name="李四",
            phone="13800001111",
            address="河北省保定市阜平县城南庄镇1号",
            items=(LineRequest("fp-honey-500g", 1),),
            room_id="demo",
        )
        order, _ = srv.call(srv.store.orders.create(req, "ops-pay-1"))
        srv.call(srv.store.payments.start(order["id"]))  # the buyer is at the cashier; no webhook
        deadline = time.monotonic() + 40
        while not any("【告警】支付回调长时间未到达" in t for t in robot.texts()):
            assert time.monotonic() < deadline, robot.texts()
            time.sleep(0.2)
        text = next(t for t in robot.texts() if "支付回调" in t)
        assert "1 笔支付" in text and "李四" not in text and "13800001111" not in text
