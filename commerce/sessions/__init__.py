"""场次复盘: every live session of a room recorded minute by minute, and its replay."""

from commerce.sessions.recorder import SessionRecorder
from commerce.sessions.replay import list_sessions, replay

__all__ = ["SessionRecorder", "list_sessions", "replay"]
