"""Ops alerts: rules over the desk's samples (web/ops_watch.py), each alert fired once and
resolved once, stored with its history, shown in the console and sent to a group robot.

The webhook speaks the markdown message both WeCom (企业微信) and DingTalk (钉钉) group robots
accept. Deliveries run in their own task with retries and backoff: a slow or dead receiver
delays only later messages, never a sample, never a room (rooms draw frames in their own
threads and never wait on the event loop)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from web.alert_rules import AlertRules

log = logging.getLogger(__name__)

OUTBOX = 200  # webhook messages waiting; past this the oldest is dropped (and counted)
POST_TIMEOUT = 5.0
MAX_BACKOFF = 30.0
TITLES = {
    "fps_low": "直播间帧率过低",
    "room_stalled": "直播间画面停滞",
    "backend_failing": "语音/文案后端故障",
    "error_rate": "接口错误率过高",
    "disk_low": "磁盘空间不足",
    "payments_silent": "支付回调长时间未到达",
    "worker_restarted": "直播工作进程重启",
}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Alert:
    rule: str
    subject: str
    severity: str
    message: str
    fired_at: datetime = field(default_factory=utcnow)
    resolved_at: datetime | None = None
    row: asyncio.Task | None = None  # the stored row's id, once written
    clear_since: float | None = None
    attempts: int = 0
    delivered: int = 0
    last_error: str | None = None

    def view(self) -> dict:
        return {
            "rule": self.rule,
            "title": TITLES.get(self.rule, self.rule),
            "subject": self.subject,
            "severity": self.severity,
            "message": self.message,
            "fired_at": self.fired_at.isoformat() + "Z",
            "resolved_at": self.resolved_at.isoformat() + "Z" if self.resolved_at else None,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "last_error": self.last_error,
        }


def markdown(alert: Alert, resolved: bool, kind: str = "wecom") -> dict:
    """The robot message: `{"msgtype": "markdown", ...}` in WeCom's or DingTalk's shape."""
    title = TITLES.get(alert.rule, alert.rule)
    head = f"【已恢复】{title}" if resolved else f"【告警】{title}"
    when = (alert.resolved_at if resolved else alert.fired_at) or utcnow()
    level = {"critical": "严重", "warning": "警告", "info": "提示"}.get(alert.severity, "")
    text = "\n".join(
        [
            f"### {head}",
            f"> 对象：{alert.subject}",
            f"> 级别：{level}",
            f"> 详情：{alert.message}",
            f"> 时间：{when.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        ]
    )
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": head, "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": text}}


class AlertDesk:
    def __init__(
        self,
        rules: AlertRules | None = None,
        rows=None,  # commerce.ops_alerts.OpsAlertRows, or None (memory only)
        webhook: str | None = None,
        kind: str = "wecom",
        retries: int = 5,
        retry_base: float = 1.0,
        clock=time.monotonic,
    ) -> None:
        self.rules = rules or AlertRules()
        self.rows = rows
        self.webhook = webhook
        self.kind = kind
        self.retries = retries
        self.retry_base = retry_base
        self.clock = clock
        self.active: dict[tuple[str, str], Alert] = {}
        self.recent: deque[Alert] = deque(maxlen=100)  # newest last (history without a DB)
        self.stats = {"fired": 0, "resolved": 0, "sent": 0, "failed_attempts": 0, "dropped": 0}
        self._since: dict[tuple[str, str], float] = {}
        self._http: deque[tuple[float, int, int]] = deque(maxlen=4096)
        self._restarts: int | None = None
        self._restart_until = 0.0
        self._restart_note = ""
        self._outbox: asyncio.Queue | None = None
        self._sender: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._outbox is None:
            self._outbox = asyncio.Queue(maxsize=OUTBOX)
        if self.webhook and self._sender is None:
            self._sender = asyncio.create_task(self._send_loop(), name="ops-alert-webhook")

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            try:
                await asyncio.wait_for(self._sender, 5)
            except (asyncio.CancelledError, TimeoutError, Exception):
                pass
            self._sender = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    # --- rules -----------------------------------------------------------------------------
    def conditions(self, snap: dict) -> dict[tuple[str, str], tuple[str, str, float]]:
        """What holds in this sample: key -> (severity, message, seconds it must hold)."""
        r = self.rules
        now = self.clock()
        out: dict[tuple[str, str], tuple[str, str, float]] = {}
        for room in snap.get("rooms", []):
            rid = room["room_id"]
            subject = f"直播间 {rid}"
            age = room.get("tick_age_s") or 0.0
            stalled = not room.get("live", True) or age > r.room_stalled.after_s
            if r.room_stalled.enabled and stalled:
                out[("room_stalled", subject)] = (
                    r.room_stalled.severity,
                    f"已 {age:.1f} 秒没有新画面（媒体线程停滞）",
                    0.0,
                )
            fps = float(room.get("fps") or 0.0)
            if r.fps_low.enabled and fps < r.fps_low.fps:
                out[("fps_low", subject)] = (
                    r.fps_low.severity,
                    f"近 10 秒帧率 {fps:.1f} fps，低于 {r.fps_low.fps:g} fps 已持续 "
                    f"{r.fps_low.for_s:g} 秒；迟到帧 {room.get('late_frames', 0)}",
                    r.fps_low.for_s,
                )
            failing = room.get("tts_fallbacks", 0) + room.get("tts_failures", 0)
            failing += room.get("llm_fallbacks", 0)
            if r.backend_failing.enabled and failing >= r.backend_failing.fallbacks:
                out[("backend_failing", subject)] = (
                    r.backend_failing.severity,
                    f"近 10 秒语音回退 {room.get('tts_fallbacks', 0)} 次、语音失败 "
                    f"{room.get('tts_failures', 0)} 次、文案回退 {room.get('llm_fallbacks', 0)} 次",
                    0.0,
                )
        http = snap.get("http")
        if http is not None:
            self._http.append((now, http["requests"], http["errors"]))
            base = self._http[0]
            for t, q, e in self._http:
                if now - t >= r.error_rate.window_s:
                    base = (t, q, e)
            while self._http and now - self._http[0][0] > 2 * r.error_rate.window_s:
                self._http.popleft()
            reqs, errs = http["requests"] - base[1], http["errors"] - base[2]
            if r.error_rate.enabled and reqs >= r.error_rate.min_requests:
                rate = errs / reqs
                if rate > r.error_rate.above:
                    out[("error_rate", "网页服务")] = (
                        r.error_rate.severity,
                        f"近 {r.error_rate.window_s:g} 秒 {reqs} 个请求中 {errs} 个 5xx（{rate:.1%}）",
                        0.0,
                    )
        disk = (snap.get("machine") or {}).get("disk_free_pct")
        if r.disk_low.enabled and disk is not None and disk < r.disk_low.free_pct:
            out[("disk_low", "本机")] = (
                r.disk_low.severity,
                f"数据盘剩余 {disk:.1f}%，低于 {r.disk_low.free_pct:g}%",
                0.0,
            )
        pay = snap.get("payments") or {}
        if r.payments_silent.enabled and pay.get("waiting", 0) > 0:
            last = pay.get("last_webhook")
            silent = (
                last is None
                or (utcnow() - datetime.fromisoformat(last)).total_seconds()
                > r.payments_silent.silent_s
            )
            if silent:
                out[("payments_silent", "支付")] = (
                    r.payments_silent.severity,
                    f"{pay['waiting']} 笔支付等待超过 {r.payments_silent.silent_s:g} 秒，"
                    f"支付回调最后到达：{last or '从未'}",
                    0.0,
                )
        restarts = int(snap.get("worker_restarts") or 0)
        if self._restarts is not None and restarts > self._restarts:
            self._restart_until = now + r.worker_restarted.hold_s
            self._restart_note = (
                f"工作进程已重启 {restarts} 次（本次新增 {restarts - self._restarts}）"
            )
        self._restarts = restarts
        if r.worker_restarted.enabled and now < self._restart_until:
            out[("worker_restarted", "直播工作进程")] = (
                r.worker_restarted.severity,
                self._restart_note,
                0.0,
            )
        return out

    def evaluate(self, snap: dict) -> None:
        now = self.clock()
        held = self.conditions(snap)
        for key in list(self._since):
            if key not in held:
                del self._since[key]
        for key, (severity, message, hold) in held.items():
            since = self._since.setdefault(key, now)
            alert = self.active.get(key)
            if alert is not None:
                alert.clear_since = None
                alert.message = message  # the figures as they are now
            elif now - since >= hold:
                self._fire(key, severity, message)
        for key, alert in list(self.active.items()):
            if key in held:
                continue
            if alert.clear_since is None:
                alert.clear_since = now
            if now - alert.clear_since >= self.rules.clear_s:
                self._resolve(key, alert)

    def active_view(self) -> list[dict]:
        return [a.view() for a in self.active.values()]

    async def history(self, limit: int = 50) -> list[dict]:
        if self.rows is not None:
            try:
                return await self.rows.history(limit)
            except Exception as exc:  # the database may be gone; the console still works
                log.warning("ops alerts: history unavailable: %s", type(exc).__name__)
        return [a.view() for a in reversed(self.recent)][:limit]

    # --- firing and resolving ---------------------------------------------------------------
    def _fire(self, key: tuple[str, str], severity: str, message: str) -> None:
        alert = Alert(key[0], key[1], severity, message)
        self.active[key] = alert
        self.recent.append(alert)
        self.stats["fired"] += 1
        log.warning("alert fired: %s %s: %s", key[0], key[1], message)
        if self.rows is not None:
            alert.row = self._spawn(
                self.rows.fired(alert.rule, alert.subject, severity, message, alert.fired_at)
            )
        self._queue(alert, resolved=False)

    def _resolve(self, key: tuple[str, str], alert: Alert) -> None:
        del self.active[key]
        alert.resolved_at = utcnow()
        self.stats["resolved"] += 1
        log.warning("alert resolved: %s %s", key[0], key[1])
        if self.rows is not None:
            self._spawn(self._store_resolved(alert))
        self._queue(alert, resolved=True)

    async def _row_id(self, alert: Alert) -> int | None:
        if alert.row is None:
            return None
        try:
            return await asyncio.shield(alert.row)
        except Exception:
            return None

    async def _store_resolved(self, alert: Alert) -> None:
        row = await self._row_id(alert)
        if row is not None:
            await self.rows.resolved(row, alert.resolved_at)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guard(coro):
        try:
            return await coro
        except Exception as exc:  # a database hiccup loses a row, never the desk
            log.warning("ops alerts: not stored: %s", type(exc).__name__)
            return None

    def _queue(self, alert: Alert, resolved: bool) -> None:
        if not self.webhook or self._outbox is None:
            return
        if self._outbox.full():
            self._outbox.get_nowait()
            self.stats["dropped"] += 1
        self._outbox.put_nowait((alert, resolved))

    # --- the webhook -----------------------------------------------------------------------
    async def _send_loop(self) -> None:
        async with httpx.AsyncClient(timeout=POST_TIMEOUT, trust_env=False) as client:
            while True:
                alert, resolved = await self._outbox.get()
                await self._deliver(client, alert, resolved)

    async def _deliver(self, client: httpx.AsyncClient, alert: Alert, resolved: bool) -> bool:
        body = markdown(alert, resolved, self.kind)
        for attempt in range(self.retries + 1):
            error = None
            try:
                res = await client.post(self.webhook, json=body)
                if res.status_code // 100 != 2:
                    error = f"HTTP {res.status_code}"
                else:
                    try:
                        code = res.json().get("errcode", 0)
                    except ValueError:
                        code = 0
                    if code not in (0, None):
                        error = f"errcode {code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:200]
            alert.attempts += 1
            if error is None:
                alert.delivered += 1
                self.stats["sent"] += 1
            else:
                alert.last_error = error
                self.stats["failed_attempts"] += 1
            row = await self._row_id(alert)
            if row is not None:
                await self._guard(self.rows.attempt(row, error is None, error))
            if error is None:
                return True
            if attempt < self.retries:
                await asyncio.sleep(min(self.retry_base * 2**attempt, MAX_BACKOFF))
        log.warning("alert webhook gave up after %d attempts: %s", self.retries + 1, error)
        return False
