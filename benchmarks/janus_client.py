"""Benchmark client: N viewers through Janus (its HTTP API, streaming plugin) that receive but
do not decode, so that what is measured is the server's and Janus's cost. Same protocol as
benchmarks/fanout_client.py: one JSON line when all are receiving, then for every line read on
stdin the video frames received so far (RTP marker bits). Run:
python -m benchmarks.janus_client JANUS_API_URL MOUNTPOINT N."""

from __future__ import annotations

import asyncio
import json
import sys

import aiortc.rtcrtpreceiver as receiver_module

from benchmarks.fanout_client import NullDecoder
from testkit.janus import JanusViewer

receiver_module.get_decoder = lambda codec: NullDecoder()


async def viewer(api: str, mount: int, counts: list[int], frames: list[int], i: int):
    v = JanusViewer(api, mount, decode=False)
    await v.connect()
    for t in v.pc.getTransceivers():
        if t.kind == "video":
            original = t.receiver._handle_rtp_packet

            async def counted(packet, *args, _orig=original, **kwargs) -> None:  # noqa: ANN001
                counts[i] += 1
                frames[i] += packet.marker
                await _orig(packet, *args, **kwargs)

            t.receiver._handle_rtp_packet = counted
    return v


async def main() -> None:
    api, mount, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    counts, frames = [0] * n, [0] * n
    viewers = [await viewer(api, mount, counts, frames, i) for i in range(n)]
    for _ in range(300):
        if all(c > 50 for c in counts):
            break
        await asyncio.sleep(0.1)
    print(json.dumps({"viewers": n, "receiving": sum(c > 50 for c in counts)}), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        before, total = list(counts), sum(frames)
        await asyncio.sleep(0.5)
        still = sum(c > b for c, b in zip(counts, before, strict=True))
        print(json.dumps({"frames": total, "still_receiving": still}), flush=True)
    for v in viewers:
        await v.close()


if __name__ == "__main__":
    asyncio.run(main())
