"""Benchmark client: N WebRTC viewers that receive but do not decode (so that the server's
cost is what is measured). Prints one JSON line when all are receiving; then, for every line
read on stdin, prints the video frames received so far (all viewers, counted by RTP marker
bits); exits when stdin closes. Run: python -m benchmarks.fanout_client URL PATH N."""

from __future__ import annotations

import asyncio
import json
import sys

import aiortc.rtcrtpreceiver as receiver_module
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription


class NullDecoder:
    def decode(self, encoded_frame) -> list:
        return []


receiver_module.get_decoder = lambda codec: NullDecoder()


async def viewer(
    url: str, path: str, counts: list[int], frames: list[int], i: int
) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=30) as http:
        res = await http.post(
            url + path, content=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
        )
    res.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(res.text, "answer"))
    for t in pc.getTransceivers():
        if t.kind == "video":
            original = t.receiver._handle_rtp_packet

            async def counted(packet, *args, _orig=original, **kwargs) -> None:  # noqa: ANN001
                counts[i] += 1
                frames[i] += packet.marker
                await _orig(packet, *args, **kwargs)

            t.receiver._handle_rtp_packet = counted
    return pc


async def main() -> None:
    url, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    counts, frames = [0] * n, [0] * n
    pcs = [await viewer(url, path, counts, frames, i) for i in range(n)]
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
    for pc in pcs:
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
