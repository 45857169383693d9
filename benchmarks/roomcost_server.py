"""`yunlian serve` with no demo room (rooms in-process, or in `--workers N` processes), for
the room-cost and workers benchmarks: prints one JSON line
({"url", "headers"}) when it serves, and stops when its stdin closes."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from testkit.livesrv import LiveServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=0, help="room worker processes (0: none)")
    parser.add_argument("--max-rooms", type=int, default=16, help="the server's room cap")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(
            Path(tmp) / "shop.db",
            stamp=False,
            demo_room=False,
            max_rooms=args.max_rooms,
            max_rooms_per_operator=args.max_rooms,
            workers=args.workers,
        )
        with server:
            print(json.dumps({"url": server.url, "headers": server.headers("admin")}), flush=True)
            sys.stdin.read()  # the benchmark closes stdin when it is done


if __name__ == "__main__":
    main()
