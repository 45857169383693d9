"""A chat flood, run in its own process: `python -m benchmarks.flood_client URL [options]`.

Half the clients post danmaku over HTTP as fast as the server answers, the other half send
chat over the events WebSocket as fast as their sockets take it, reconnecting at once when
the server closes them (an attacker does). HTTP clients drop any cookie the server sets
and name other viewers' `user_id`s. Prints one JSON line of counts when done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter

import httpx
import websockets

TEXTS = ("666", "上链接", "大枣多少钱", "主播好", "哈哈哈", "已拍", "便宜点", "好甜啊")


async def http_client(url: str, room: str, until: float, counts: Counter, i: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        n = 0
        while time.monotonic() < until:
            n += 1
            body = {
                "user_id": f"v-{i:04d}{n % 7}",
                "nickname": "刷屏",
                "text": f"{random.choice(TEXTS)}{n}",
            }
            try:
                res = await http.post(f"/api/rooms/{room}/danmaku", json=body)
                counts[f"http_{res.status_code}"] += 1
            except httpx.HTTPError as exc:
                counts[f"http_{type(exc).__name__}"] += 1
                await asyncio.sleep(0.01)
            http.cookies.clear()


async def ws_client(url: str, room: str, until: float, counts: Counter) -> None:
    uri = url.replace("http", "ws", 1) + f"/api/rooms/{room}/events"
    n = 0
    while time.monotonic() < until:
        try:
            async with websockets.connect(uri, open_timeout=5, close_timeout=1) as ws:
                counts["ws_open"] += 1
                drain = asyncio.ensure_future(_drain(ws))
                try:
                    while time.monotonic() < until:
                        n += 1
                        msg = {
                            "type": "danmaku",
                            "nickname": "刷屏",
                            "text": f"{random.choice(TEXTS)}{n}",
                        }
                        await ws.send(json.dumps(msg, ensure_ascii=False))
                        counts["ws_sent"] += 1
                        if n % 64 == 0:
                            await asyncio.sleep(0)  # let the reader run
                finally:
                    drain.cancel()
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else "none"
            counts[f"ws_closed_{code}"] += 1
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            counts[f"ws_{type(exc).__name__}"] += 1
            await asyncio.sleep(0.05)


async def _drain(ws) -> None:
    try:
        async for _ in ws:
            pass
    except websockets.ConnectionClosed:
        pass


async def flood(url: str, room: str, seconds: float, http_n: int, ws_n: int) -> dict:
    counts: Counter = Counter()
    until = time.monotonic() + seconds
    tasks = [http_client(url, room, until, counts, i) for i in range(http_n)]
    tasks += [ws_client(url, room, until, counts) for _ in range(ws_n)]
    # every client ends on its own by `until`; the bound here only guards a hung socket
    done = asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.wait_for(done, seconds + 20)
    except TimeoutError:
        counts["hung"] += 1
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url")
    p.add_argument("--room", default="demo")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--http", type=int, default=25)
    p.add_argument("--ws", type=int, default=25)
    a = p.parse_args(argv)
    print(json.dumps(asyncio.run(flood(a.url, a.room, a.seconds, a.http, a.ws))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
