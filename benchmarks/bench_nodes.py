"""Failover between `yunlian serve` nodes: kill -9 of the node holding a room.

Three real nodes (separate processes) share one real PostgreSQL (durable, as a shop runs it)
and one real redis-server on loopback. A 720p25 room runs on one of them; each trial kills
that node with SIGKILL and times, from the kill:
- takeover: until another node's lease scan took the room's lease (that node's wall clock,
  from /api/metrics `node.takeovers`);
- ticking: until the room, read over HTTP on that node every 50 ms, runs there with at
  least 5 new frames.
The killed node is started again at once (as systemd or compose would), so it boots while
the others take over; whichever node ends up with the room is timed, and the next trial
kills that one (a third node keeps two up while the killed one boots). The lease ttl is
the default, 10 s: takeover comes at most ttl + one scan (1 s) after the last renewal.

Usage: python -m benchmarks.run nodes
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

TRIALS = 10
LEASE_TTL = 10.0  # the default (settings.lease_ttl)
TRIAL_LIMIT = 60.0  # seconds a trial may take before it counts as a failure
ROOM = "bench-failover"


def run() -> dict:
    from commerce import open_store
    from testkit.nodes import SECRET_KEY, Node, RedisServer
    from testkit.pg import create_database, postgres_server

    tmp = Path(tempfile.mkdtemp(prefix="yunlian-bench-nodes-"))
    with postgres_server(durable=True) as admin_url, RedisServer() as redis:
        db_url = create_database(admin_url)

        async def setup() -> str:
            store = await open_store(db_url, secret_key=SECRET_KEY, background=False)
            try:
                user = await store.accounts.create_user(
                    "bench", "基准测试-密码-0123456789", "admin"
                )
                return await store.accounts.create_token(user, "admin", "bench")
            finally:
                await store.close()

        headers = {"Authorization": f"Bearer {asyncio.run(setup())}"}
        env = {"YUNLIAN_LEASE_TTL": str(LEASE_TTL)}
        nodes = {n: Node(db_url, redis.url, n, tmp, **env) for n in ("a", "b", "c")}
        try:
            for node in nodes.values():
                node.start()
            res = httpx.post(
                nodes["a"].url + "/api/rooms",
                json={"room_id": ROOM, "title": "基准直播间"},
                headers=headers,
                timeout=60,
            )
            res.raise_for_status()
            takeover, ticking, failures, by_restarted = [], [], 0, 0
            for _ in range(TRIALS):
                holder = _holder(nodes, headers)
                others = [n for n in nodes.values() if n is not holder]
                _one_up(others)  # the node killed last time may still be booting
                time.sleep(1.0)  # a renewal since the last move
                killed_wall = time.time()
                killed = time.monotonic()
                holder.kill9()
                holder.stop()
                # restarted at once, as systemd (Restart=always) or compose would do: it
                # boots while the others take over, and any of them may end up with the room
                fresh = Node(db_url, redis.url, holder.node_id, tmp, **env).spawn()
                nodes[holder.node_id] = fresh
                got = _wait_ticking([*others, fresh], headers, killed)
                if got is None:
                    failures += 1
                    continue
                node, took = got
                ticking.append(took)
                t = _takeover_at(node, headers)
                if t is not None:
                    takeover.append(t - killed_wall)
                by_restarted += node is fresh
        finally:
            for node in nodes.values():
                node.stop()
    return {
        "trials": TRIALS,
        "failures": failures,
        "nodes": 3,
        "taken_by_the_restarted_node": by_restarted,
        "lease_ttl_s": LEASE_TTL,
        "takeover_s": _summary(takeover),
        "ticking_s": _summary(ticking),
        "_note": "kill -9 of the node holding a 720p25 room; takeover by the other node's "
        "lease scan (database clock), ticking = 5 frames on the new node read over HTTP",
    }


def _summary(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "max": None, "n": 0}
    return {
        "p50": round(statistics.median(values), 2),
        "max": round(max(values), 2),
        "n": len(values),
    }


def _holder(nodes: dict, headers: dict):
    deadline = time.monotonic() + TRIAL_LIMIT
    while time.monotonic() < deadline:
        for node in nodes.values():
            try:
                held = httpx.get(node.url + "/api/metrics", headers=headers, timeout=5).json()
            except httpx.HTTPError:
                continue
            if ROOM in held["node"]["held"] and not held["node"]["adopting"]:
                return node
        time.sleep(0.2)
    raise RuntimeError("no node holds the benchmark room")


def _one_up(nodes: list) -> None:
    deadline = time.monotonic() + TRIAL_LIMIT * 2
    while time.monotonic() < deadline:
        for node in nodes:
            try:
                if httpx.get(node.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise RuntimeError("no other node came up")


def _wait_ticking(nodes: list, headers: dict, since: float):
    """(node, seconds) once one of `nodes` holds the room and it has 5 frames there."""
    while time.monotonic() - since < TRIAL_LIMIT:
        for node in nodes:
            try:
                metrics = httpx.get(node.url + "/api/metrics", headers=headers, timeout=2)
                if ROOM not in metrics.json()["node"]["held"]:
                    continue
                res = httpx.get(f"{node.url}/api/rooms/{ROOM}", headers=headers, timeout=2)
            except (httpx.HTTPError, ValueError):
                continue  # the restarted node is not up yet
            if res.status_code == 200 and res.json()["frames"] >= 5:
                return node, round(time.monotonic() - since, 3)
        time.sleep(0.05)
    return None


def _takeover_at(node, headers: dict) -> float | None:
    metrics = httpx.get(node.url + "/api/metrics", headers=headers, timeout=5).json()
    mine = [t for t in metrics["node"]["takeovers"] if t["room_id"] == ROOM]
    return mine[-1]["took_at"] if mine else None
