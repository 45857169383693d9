"""Moderation: the first stage every comment passes. Normalises the text, then refuses what a
room should not show (empty, too long, too fast, floods, repeats, banned words, ads/contacts).

Text stays plain text: nothing here produces or strips HTML. `<script>` is ordinary text and is
allowed through unchanged; escaping is the renderer's job (textContent / Jinja autoescape).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REASONS: tuple[str, ...] = (
    "ok",
    "empty",
    "too_long",
    "rate_limited",
    "flood",
    "duplicate",
    "banned_word",
    "spam",
)

DETAILS: dict[str, str] = {
    "ok": "",
    "empty": "弹幕内容不能为空",
    "too_long": "弹幕太长了，请精简后再发",
    "rate_limited": "发言太快了，请稍后再试",
    "flood": "直播间太热闹了，请稍后再发",
    "duplicate": "请不要重复发送相同内容",
    "banned_word": "内容包含不当用语，已被拦截",
    "spam": "请勿发布广告、联系方式或链接",
}

# profanity only: complaints ("骗人", "太贵了") are signal for the host, never banned by default
DEFAULT_BANNED: tuple[str, ...] = ("傻逼", "煞笔", "操你", "草泥马", "去死吧", "滚犊子")

# zero-width, bidi and other invisible format characters, C0/C1 controls, soft hyphen
_INVISIBLE = (
    list(range(0x00, 0x20))
    + list(range(0x7F, 0xA0))
    + [0xAD, 0x180E, 0x034F, 0xFEFF]
    + list(range(0x200B, 0x2010))
    + list(range(0x202A, 0x202F))
    + list(range(0x2060, 0x2070))
    + list(range(0xFE00, 0xFE10))  # variation selectors: emoji-style variants only
)
_STRIP_TABLE = {cp: None for cp in _INVISIBLE}
for _ws in (0x09, 0x0A, 0x0D, 0x85):  # line breaks and tabs become spaces, not glue
    _STRIP_TABLE[_ws] = 0x20

_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[\W_]+")  # punctuation, symbols, emoji, spaces (CJK counts as word)

_URL = re.compile(
    r"https?://|www\.|t\.me/|\w[.。](?:com|cn|net|org|top|xyz|cc|vip|shop|club|site|me)\b"
    r"|[点點]\s*(?:com|cn|net)\b"
)
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LONG_DIGITS = re.compile(r"\d{8,}")
_ANY_DIGIT = re.compile(r"\d")
_DIGIT_GLUE = re.compile(r"(?<=\d)[\s\-_~—]+(?=\d)")  # "138 1234-5678"; dots stay (29.9)
# contact handles that are spam on their own
_CONTACT_STRONG = re.compile(
    r"weixin|wei xin|(?<![a-z])vx(?![a-z])|(?<![a-z])v信|威信|薇信|徽信|wx号|"
    r"[加+]\s*(?:v|q|扣扣|我\s*(?:v|微|q|扣))|qq群|扣扣群|企鹅号"
)
# 微信 / QQ are fine in "可以微信付款吗"; they are spam with a handle or an "add me"
_CONTACT_WEAK = re.compile(
    r"(?:微信|qq|扣扣)\s*(?:号|[:：=]|\s*[a-z0-9_\-]{5,})|(?:加|搜|私)\s*(?:微信|qq|扣扣)"
)
_AD_WORDS = re.compile(
    r"兼职|刷单|日赚|日入|月入过万|躺赚|招代理|免费领取|点我头像|看我主页|私信我|返利|"
    r"博彩|网赌|代开发票"
)


@dataclass(frozen=True)
class Verdict:
    """What moderation decided about one comment."""

    allowed: bool
    reason: str  # one of REASONS
    text: str  # the normalised text
    detail: str = ""  # short Chinese message for the viewer; "" when allowed


@dataclass(frozen=True)
class ModerationConfig:
    """Limits; the defaults suit one busy room."""

    max_chars: int = 100  # after normalisation
    max_repeat: int = 4  # runs of one character/emoji longer than this are cut to it
    user_rate: float = 1.0  # comments per second per user, sustained
    user_burst: float = 3.0
    room_rate: float = 200.0  # comments per second for the whole room
    room_burst: float = 400.0
    duplicate_window: float = 30.0  # seconds the same text from the same user counts as repeat
    recent_per_user: int = 8  # texts remembered per user for duplicate checks
    max_users: int = 10_000  # per-user state kept (LRU)


def normalize(text: str, max_repeat: int = 4) -> str:
    """NFKC, invisible/control characters removed, long runs cut, spaces collapsed, trimmed."""
    text = text.translate(_STRIP_TABLE)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = _collapse_runs(text, max_repeat)
    return _SPACES.sub(" ", text).strip()


_RUN_CACHE: dict[int, re.Pattern[str]] = {}


def _collapse_runs(text: str, max_repeat: int) -> str:
    # a unit of 1-3 code points covers emoji + skin tone / ZWJ pieces and two-character chants
    pattern = _RUN_CACHE.get(max_repeat)
    if pattern is None:
        pattern = re.compile(r"(.{1,3}?)\1{" + str(max_repeat) + ",}", re.DOTALL)
        _RUN_CACHE[max_repeat] = pattern
    return pattern.sub(lambda m: m.group(1) * max_repeat, text)


def skeleton(text: str) -> str:
    """Lower-cased letters and digits only: what banned-word and duplicate matching compare."""
    return _NOT_WORD.sub("", text.casefold())


def is_spam(text: str) -> bool:
    """Ads, contact handles, phone numbers, long digit runs, links. `text` is normalised."""
    low = text.casefold()
    # cheap gates first: most comments carry no dot, slash or digit
    if ("." in low or "。" in low or "/" in low or "点" in low) and _URL.search(low):
        return True
    if _CONTACT_STRONG.search(low) or _CONTACT_WEAK.search(low) or _AD_WORDS.search(low):
        return True
    if not _ANY_DIGIT.search(low):
        return False
    digits = _DIGIT_GLUE.sub("", low)
    return bool(_PHONE.search(digits) or _LONG_DIGITS.search(digits))


class _Bucket:
    """Token bucket: `rate` tokens a second, at most `burst` saved."""

    __slots__ = ("tokens", "last")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = burst
        self.last = now

    def take(self, rate: float, burst: float, now: float) -> bool:
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(burst, self.tokens + elapsed * rate)
            self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _User:
    __slots__ = ("bucket", "recent")

    def __init__(self, burst: float, now: float) -> None:
        self.bucket = _Bucket(burst, now)
        self.recent: dict[str, float] = {}  # skeleton -> last time said (insertion ordered)


class Moderator:
    """Decides, for each comment, whether the room shows it. Synchronous and cheap.

    Not thread-safe: one instance per room, used from the room's event loop.
    Per-user state lives in an LRU of `config.max_users` entries; `stats()` counts every
    verdict by reason (the reasons sum to "checked") and the users evicted from the LRU.
    """

    def __init__(
        self,
        config: ModerationConfig | None = None,
        banned_words: Iterable[str] = DEFAULT_BANNED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or ModerationConfig()
        self._clock = clock
        self._users: OrderedDict[str, _User] = OrderedDict()
        self._room = _Bucket(self.config.room_burst, clock())
        self._banned: dict[str, str] = {}  # skeleton -> word as entered
        self._banned_re: re.Pattern[str] | None = None
        self._counts = dict.fromkeys(REASONS, 0)
        self._checked = 0
        self._evicted = 0
        for word in banned_words:
            self.add_banned(word)

    # --- banned words -------------------------------------------------------------------

    def add_banned(self, word: str) -> bool:
        """Add a word; False when it is empty after normalisation or already listed."""
        key = skeleton(normalize(word, self.config.max_repeat))
        if not key or key in self._banned:
            return False
        self._banned[key] = word.strip()
        self._banned_re = None
        return True

    def remove_banned(self, word: str) -> bool:
        key = skeleton(normalize(word, self.config.max_repeat))
        if self._banned.pop(key, None) is None:
            return False
        self._banned_re = None
        return True

    def banned_words(self) -> list[str]:
        return sorted(self._banned.values())

    def load_banned(self, path: str | Path) -> int:
        """Add the words in a UTF-8 file, one a line (blank lines and # comments skipped).
        Returns how many were new. Undecodable bytes are replaced, never fatal."""
        added = 0
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and self.add_banned(line):
                added += 1
        return added

    def save_banned(self, path: str | Path) -> None:
        words = (w for w in self.banned_words() if w and "\n" not in w)
        Path(path).write_text("".join(w + "\n" for w in words), encoding="utf-8")

    def _banned_pattern(self) -> re.Pattern[str] | None:
        if self._banned_re is None and self._banned:
            keys = sorted(self._banned, key=len, reverse=True)
            self._banned_re = re.compile("|".join(map(re.escape, keys)))
        return self._banned_re

    # --- the check ----------------------------------------------------------------------

    def is_unsafe_name(self, name: str) -> bool:
        """A display name that carries a banned word, a contact or an ad (no rate limits)."""
        norm = normalize(name or "", self.config.max_repeat)
        pattern = self._banned_pattern()
        key = skeleton(norm) or norm
        return bool(pattern is not None and pattern.search(key)) or is_spam(norm)

    def check(self, user_id: str, text: str) -> Verdict:
        """The verdict on one comment. Never raises on any str input."""
        cfg = self.config
        if not isinstance(text, str):  # a None or number from a careless caller is "empty"
            return self._verdict("empty", "")
        if len(text) > cfg.max_chars * 20:
            # a 100 kB paste is refused before any per-character work
            return self._verdict("too_long", normalize(text[: cfg.max_chars], cfg.max_repeat))
        norm = normalize(text, cfg.max_repeat)
        if not norm:
            return self._verdict("empty", norm)
        if len(norm) > cfg.max_chars:
            return self._verdict("too_long", norm)

        now = self._clock()
        user = self._user(user_id, now)
        if not user.bucket.take(cfg.user_rate, cfg.user_burst, now):
            return self._verdict("rate_limited", norm)
        if not self._room.take(cfg.room_rate, cfg.room_burst, now):
            return self._verdict("flood", norm)

        key = skeleton(norm) or norm
        recent = user.recent
        said = recent.get(key)
        if said is not None and now - said < cfg.duplicate_window:
            return self._verdict("duplicate", norm)
        recent.pop(key, None)
        recent[key] = now
        if len(recent) > cfg.recent_per_user:
            del recent[next(iter(recent))]

        pattern = self._banned_pattern()
        if pattern is not None and pattern.search(key):
            return self._verdict("banned_word", norm)
        if is_spam(norm):
            return self._verdict("spam", norm)
        return self._verdict("ok", norm)

    def _user(self, user_id: str, now: float) -> _User:
        users = self._users
        user = users.get(user_id)
        if user is None:
            user = users[user_id] = _User(self.config.user_burst, now)
            if len(users) > self.config.max_users:
                users.popitem(last=False)
                self._evicted += 1
        else:
            users.move_to_end(user_id)
        return user

    def _verdict(self, reason: str, text: str) -> Verdict:
        self._checked += 1
        self._counts[reason] += 1
        return Verdict(reason == "ok", reason, text, DETAILS[reason])

    def stats(self) -> dict[str, int]:
        """One count per reason (they sum to "checked"), plus "checked" and "evicted_users"."""
        out = dict(self._counts)
        out["checked"] = self._checked
        out["evicted_users"] = self._evicted
        return out

    @property
    def user_count(self) -> int:
        """Users whose state is held now (never above `config.max_users`)."""
        return len(self._users)
