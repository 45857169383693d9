"""Janus as a room's WebRTC fan-out: the room's packets, forwarded as RTP to a streaming
mountpoint, with no second encode.

A forward is one more consumer of the room's shared encode, like a WHEP viewer: it takes a
`PacketTrack` per kind, packetizes with aiortc's own H.264/Opus packers (what a WHEP viewer's
sender does) and sends the RTP over UDP to the ports Janus gave the mountpoint. Janus then
serves any number of viewers through its own API; Python's cost is one viewer's worth.

`JanusApi` speaks Janus's HTTP API (session, streaming-plugin handle, request) with a timeout
on every call; creating and destroying mountpoints needs the plugin's admin key.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import struct
from dataclasses import dataclass, field

import httpx
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.mediastreams import MediaStreamError

log = logging.getLogger(__name__)

API_TIMEOUT = 5.0  # seconds any one Janus HTTP call may take
VIDEO_PT, AUDIO_PT = 96, 111
H264_FMTP = "profile-level-id=42e01f;packetization-mode=1"


class JanusError(Exception):
    """Janus refused a request or did not answer in time; the message says which."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code  # the streaming plugin's error code, when it gave one


NO_SUCH_MOUNTPOINT = 455  # the streaming plugin's JANUS_STREAMING_ERROR_NO_SUCH_MOUNTPOINT
CHECK_EVERY = 5.0  # seconds between checks that a room's mountpoint still exists


@dataclass
class Mount:
    """A room's mountpoint and the ports Janus listens on for its RTP."""

    id: int
    video_port: int
    audio_port: int


class JanusApi:
    """Janus's HTTP API, as much of it as the app needs (streaming plugin, admin side)."""

    def __init__(self, url: str, admin_key: str | None = None, timeout: float = API_TIMEOUT):
        self.url = url.rstrip("/")
        self.admin_key = admin_key
        self.timeout = timeout

    async def _call(self, http: httpx.AsyncClient, path: str, payload: dict) -> dict:
        payload = {**payload, "transaction": secrets.token_hex(6)}
        try:
            res = await http.post(self.url + path, json=payload)
            data = res.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusError(f"Janus at {self.url} did not answer: {type(exc).__name__}") from None
        if data.get("janus") == "error":
            raise JanusError(f"Janus refused {payload['janus']}: {data['error'].get('reason')}")
        return data

    async def request(self, body: dict) -> dict:
        """One streaming-plugin request in a session of its own; returns the plugin's data."""
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            sid = (await self._call(http, "", {"janus": "create"}))["data"]["id"]
            try:
                hid = (
                    await self._call(
                        http, f"/{sid}", {"janus": "attach", "plugin": "janus.plugin.streaming"}
                    )
                )["data"]["id"]
                res = await self._call(http, f"/{sid}/{hid}", {"janus": "message", "body": body})
            finally:
                try:
                    await self._call(http, f"/{sid}", {"janus": "destroy"})
                except JanusError:
                    pass
        data = (res.get("plugindata") or {}).get("data") or {}
        if "error" in data:
            raise JanusError(f"Janus streaming plugin: {data['error']}", data.get("error_code"))
        return data

    def _admin(self, body: dict) -> dict:
        return {**body, "admin_key": self.admin_key} if self.admin_key else body

    async def create_mountpoint(self, room_id: str, description: str = "") -> Mount:
        """An RTP mountpoint for H.264 + Opus on ports Janus picks (loopback only)."""
        mount_id = random.randint(1, 2**31 - 1)
        data = await self.request(
            self._admin(
                {
                    "request": "create",
                    "type": "rtp",
                    "id": mount_id,
                    "description": (description or room_id)[:64],
                    "metadata": room_id,
                    "media": [
                        {
                            "type": "video",
                            "mid": "v",
                            "port": 0,
                            "pt": VIDEO_PT,
                            "codec": "h264",
                            "fmtp": H264_FMTP,
                        },
                        {"type": "audio", "mid": "a", "port": 0, "pt": AUDIO_PT, "codec": "opus"},
                    ],
                }
            )
        )
        ports = {p["type"]: p["port"] for p in data["stream"]["ports"]}
        return Mount(int(data["stream"]["id"]), ports["video"], ports["audio"])

    async def destroy_mountpoint(self, mount_id: int) -> None:
        await self.request(self._admin({"request": "destroy", "id": mount_id}))

    async def mountpoint_info(self, mount_id: int) -> dict:
        return (await self.request(self._admin({"request": "info", "id": mount_id})))["info"]


def rtp_packet(pt: int, marker: bool, seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, ssrc) + payload


@dataclass
class ForwardStats:
    packets: int = 0
    bytes: int = 0
    frames: dict = field(default_factory=lambda: {"video": 0, "audio": 0})


class RtpForward:
    """Sends one room's packets, as RTP, to a mountpoint's ports. Runs on the event loop:
    packetizing is what one WHEP viewer's sender would cost."""

    def __init__(self, host: str, mount: Mount, video_track, audio_track) -> None:
        self.host = host
        self.mount = mount
        self.tracks = (video_track, audio_track)
        self.stats = ForwardStats()
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: list[asyncio.Task] = []
        self.remounts = 0  # mountpoints created again after Janus lost ours

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("0.0.0.0", 0)
        )
        for track in self.tracks:
            self._tasks.append(asyncio.ensure_future(self._pump(track)))

    async def _pump(self, track) -> None:
        video = track.kind == "video"
        packer = H264Encoder() if video else OpusEncoder()
        pt = VIDEO_PT if video else AUDIO_PT
        seq = random.randint(0, 0xFFFF)
        ssrc = random.randint(1, 2**32 - 1)
        ts_offset = random.randint(0, 2**32 - 1)
        try:
            while True:
                packet = await track.recv()
                # the mount may be replaced (Janus restarted): read its ports every time
                addr = (self.host, self.mount.video_port if video else self.mount.audio_port)
                payloads, ts = packer.pack(packet)
                ts = (ts + ts_offset) & 0xFFFFFFFF
                last = len(payloads) - 1
                for i, payload in enumerate(payloads):
                    data = rtp_packet(pt, video and i == last, seq, ts, ssrc, payload)
                    seq = (seq + 1) & 0xFFFF
                    if self._transport is not None:
                        self._transport.sendto(data, addr)
                    self.stats.packets += 1
                    self.stats.bytes += len(data)
                self.stats.frames[track.kind] += 1
        except MediaStreamError:
            return

    async def stop(self) -> None:
        for track in self.tracks:
            track.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def view(self) -> dict:
        return {
            "mountpoint": self.mount.id,
            "video_port": self.mount.video_port,
            "audio_port": self.mount.audio_port,
            "remounts": self.remounts,
            "rtp_packets": self.stats.packets,
            "rtp_bytes": self.stats.bytes,
            "frames": dict(self.stats.frames),
        }


class EngineJanus:
    """The engine's door to Janus (mixed into `streamer.engine.Engine`): a room forwards
    to one mountpoint while it is live."""

    janus_api: JanusApi | None = None
    janus_rtp_host: str = "127.0.0.1"

    def room(self, room_id: str):  # provided by the engine
        raise NotImplementedError

    @property
    def _forwards(self) -> dict[str, RtpForward]:
        if not hasattr(self, "_janus_forwards"):
            self._janus_forwards: dict[str, RtpForward] = {}
        return self._janus_forwards

    async def attach_janus(self, room_id: str, previous: Mount | None = None) -> dict:
        """Create the room's mountpoint and start forwarding its packets to it. A mountpoint
        Janus still holds for this room from a process that died (`previous`, from a room
        worker's last report, or found by listing) is taken over: its viewers stay."""
        room = self.room(room_id)
        if self.janus_api is None:
            raise JanusError("Janus is not configured on this server")
        if room_id in self._forwards:
            return self._forwards[room_id].view()
        mount = await self._take_over(room_id, previous)
        taken = mount is not None
        if mount is None:
            mount = await self.janus_api.create_mountpoint(room_id, room.config.title)
        if room_id in self._forwards:  # attached meanwhile (two calls raced)
            if not taken:
                try:
                    await self.janus_api.destroy_mountpoint(mount.id)
                except JanusError:
                    pass
            return self._forwards[room_id].view()
        video, audio = room.new_tracks()
        forward = RtpForward(self.janus_rtp_host, mount, video, audio)
        self._forwards[room_id] = forward
        await forward.start()
        forward._tasks.append(asyncio.ensure_future(self._keep_mounted(room_id, forward)))
        if taken:  # its viewers are waiting: a picture at once
            room.encoder.request_keyframe()
        log.info("room %s: forwarding to Janus mountpoint %s", room_id, mount.id)
        return forward.view()

    async def _take_over(self, room_id: str, previous: Mount | None) -> Mount | None:
        """The room's mountpoint left by a process of ours that died (a room worker killed,
        the whole server killed): `previous` when known, else found by its metadata. The
        room sends there again, so its viewers keep watching; other leftovers of the room
        are destroyed. None when Janus has none (it restarted) or does not answer."""
        api = self.janus_api
        ids = [previous.id] if previous is not None else []
        try:
            listed = (await api.request({"request": "list"})).get("list") or []
            ids += [m["id"] for m in listed if m.get("metadata") == room_id and m["id"] not in ids]
        except (JanusError, KeyError, TypeError) as exc:
            log.info("room %s: Janus mountpoints not listed: %s", room_id, exc)
        found = None
        for mount_id in ids:
            try:
                info = await api.mountpoint_info(mount_id)
            except JanusError:
                continue
            if info.get("metadata") != room_id:
                continue
            ports = {m.get("type"): m.get("port") for m in info.get("media") or ()}
            if found is None and ports.get("video") and ports.get("audio"):
                found = Mount(int(mount_id), int(ports["video"]), int(ports["audio"]))
                log.info("room %s: forwarding to its mountpoint %s again", room_id, mount_id)
                continue
            try:
                await api.destroy_mountpoint(mount_id)
            except JanusError:
                pass
        return found

    async def _keep_mounted(self, room_id: str, forward: RtpForward) -> None:
        """Janus restarted (or lost the mountpoint): create it again and send there. Viewers
        of the old one reconnect through GET /api/rooms/{id}/janus."""
        api = self.janus_api
        while api is not None:
            await asyncio.sleep(CHECK_EVERY)
            try:
                await api.mountpoint_info(forward.mount.id)
                continue
            except JanusError as exc:
                if exc.code != NO_SUCH_MOUNTPOINT:
                    continue  # Janus unreachable: try again later
            try:
                room = self.room(room_id)
                forward.mount = await api.create_mountpoint(room_id, room.config.title)
                forward.remounts += 1
                room.encoder.request_keyframe()  # the new mountpoint's viewers start at once
                log.warning("room %s: Janus lost its mountpoint; now %s", room_id, forward.mount.id)
            except Exception as exc:  # noqa: BLE001 - keep checking; the room is live either way
                log.error("room %s: Janus mountpoint not recreated: %s", room_id, exc)

    def janus_mount(self, room_id: str) -> dict | None:
        forward = self._forwards.get(room_id)
        return forward.view() if forward else None

    async def detach_janus(self, room_id: str) -> None:
        forward = self._forwards.pop(room_id, None)
        if forward is None:
            return
        room = getattr(self, "rooms", {}).get(room_id)
        if room is not None:
            room.drop_tracks(*forward.tracks)
        await forward.stop()
        if self.janus_api is not None:
            try:
                await self.janus_api.destroy_mountpoint(forward.mount.id)
            except JanusError as exc:  # Janus gone: its mountpoints went with it
                log.warning(
                    "room %s: mountpoint %s not destroyed: %s", room_id, forward.mount.id, exc
                )
