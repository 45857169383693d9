"""The network side of one RTMP push connection, in a process of its own.

PyAV opens an RTMP output (`avio_open`: TCP connect, RTMP handshake, connect/publish) and
writes its header while holding the GIL, with no timeout: a server that never answers would
freeze every thread of the process holding it, rooms included. So each connection runs here:
`streamer.rtmp_push.RtmpPush` (in the room's process) spawns this program, hands it the
target and then the room's packets, reads what happened back, and kills it when it misses a
deadline. Nothing here can stall a room.

stdin: one JSON line {"url", "key", "fps"}, then ticks (4-byte big-endian length + pickle of
(video, audio) lists as in `streamer.rtmp_push.Tick`; the first starts on a keyframe).
stdout: lines "ready", "live", "s BYTES PACKETS" after each tick, "error JSON" before exiting.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
from fractions import Fraction

AUDIO_RATE = 48_000


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _read_tick(stdin) -> tuple[list, list] | None:
    head = stdin.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("!I", head)
    body = stdin.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)  # noqa: S301 - from the parent process only


def main() -> int:
    stdin = sys.stdin.buffer
    cfg = json.loads(stdin.readline())
    import av

    from streamer.rtmp_push import hint_for, scrub

    url, key, fps = cfg["url"], cfg["key"], int(cfg["fps"])
    _emit("ready")
    container = None
    try:
        tick = _read_tick(stdin)
        if tick is None:
            return 0
        video_pkts, audio_pkts = tick
        container = av.open(f"{url.rstrip('/')}/{key}", "w", format="flv")
        probe = av.open(io.BytesIO(video_pkts[0][0]), format="h264")
        try:
            video = container.add_stream_from_template(probe.streams.video[0])
        finally:
            probe.close()
        video.time_base = Fraction(1, fps)
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio.time_base = Fraction(1, AUDIO_RATE)
        container.start_encoding()  # connects, handshakes and sends the FLV header
        _emit("live")
        vtb, atb = Fraction(1, fps), Fraction(1, AUDIO_RATE)
        base = video_pkts[0][1]
        abase = base * AUDIO_RATE // fps
        while tick is not None:
            video_pkts, audio_pkts = tick
            sent = packets = 0
            for data, pts, dts, keyframe in video_pkts:
                p = av.Packet(data)
                p.pts, p.dts, p.time_base, p.is_keyframe = pts - base, dts - base, vtb, keyframe
                p.stream = video
                container.mux(p)
                sent, packets = sent + len(data), packets + 1
            for data, pts in audio_pkts:
                if pts < abase:
                    continue  # sound from before the first picture of this connection
                p = av.Packet(data)
                p.pts = p.dts = pts - abase
                p.time_base = atb
                p.stream = audio
                container.mux(p)
                sent, packets = sent + len(data), packets + 1
            _emit(f"s {sent} {packets}")
            tick = _read_tick(stdin)
        return 0
    except (av.FFmpegError, OSError) as exc:
        detail = scrub(f"{type(exc).__name__}: {exc} ({url})", key)
        _emit("error " + json.dumps({"detail": detail, "hint": hint_for(exc, False)}))
        return 1
    finally:
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - a dead peer fails the trailer too
                pass


if __name__ == "__main__":
    sys.exit(main())
