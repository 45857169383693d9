"""Password hashing (argon2id through pwdlib) and the rules for usernames and passwords.

Hashing runs in worker threads (argon2-cffi releases the GIL), at most `HASH_SLOTS` at a
time, so a burst of logins costs bounded memory and cannot starve the event loop.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from commerce.errors import InvalidAccount, WeakPassword

# argon2id, 32 MiB, 3 passes, 1 lane: about 65 ms a hash on this 2-core machine (measured
# with login_p95 in commerce/accounts.py), above OWASP's minimum (19 MiB, t=2).
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 32768
ARGON2_PARALLELISM = 1
HASH_SLOTS = 2  # concurrent hashes per process: 2 × 32 MiB at most

MIN_PASSWORD = 10
MAX_PASSWORD = 256  # bounds the hashing work an attacker can ask for
ROLES = ("admin", "operator", "cs", "ops")
_USERNAME = re.compile(r"[A-Za-z0-9_\-\u4e00-\u9fff]{2,32}")
_SHOP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Very common passwords of 10+ characters (leaked-password top lists, Chinese ones included).
COMMON = frozenset(
    """
    1234567890 0123456789 0987654321 9876543210 1111111111 0000000000 1122334455
    1234512345 1234554321 1qaz2wsx3edc 1q2w3e4r5t 1q2w3e4r5t6y qwertyuiop qwertyuiop[]
    qwerty1234 qwerty12345 qwerty123456 asdfghjkl; asdfghjkl1 zxcvbnm123 password12
    password123 password1234 password1! passw0rd123 p@ssw0rd123 iloveyou12 iloveyou123
    abc1234567 abcd123456 abcdefg123 a123456789 aa12345678 aa123456789 qq123456789
    woaini1314 woaini520 5201314520 1314520520 wang123456 zhang123456 li123456789
    admin12345 admin123456 administrator root123456 welcome123 letmein123 changeme123
    11111111111 123123123123 123456789a 123456789q 12345678910 123456789abc
    1234567890a 1234567890q football123 baseball123 princess123 sunshine123 dragon1234
    monkey12345 superman123 computer123 internet123 yunlian123 yunlian1234 yunlian12345
    fuping123456 88888888888 66666666666 666666666666 888888888888 147258369a 1472583690
    """.split()
)


def hasher() -> PasswordHash:
    return PasswordHash(
        (
            Argon2Hasher(
                time_cost=ARGON2_TIME_COST,
                memory_cost=ARGON2_MEMORY_KIB,
                parallelism=ARGON2_PARALLELISM,
            ),
        )
    )


def argon2_parameters() -> dict:
    return {
        "algorithm": "argon2id",
        "time_cost": ARGON2_TIME_COST,
        "memory_cost_kib": ARGON2_MEMORY_KIB,
        "parallelism": ARGON2_PARALLELISM,
    }


def clean_username(username: object) -> str:
    """Trimmed and lower-cased (ASCII letters): logins are case-insensitive."""
    if not isinstance(username, str) or len(username) > 128:
        raise InvalidAccount("用户名必须是 2–32 个字符：字母、数字、_、- 或汉字")
    username = username.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise InvalidAccount("用户名必须是 2–32 个字符：字母、数字、_、- 或汉字")
    return username


def clean_role(role: object, what: str = "角色") -> str:
    if role not in ROLES:
        raise InvalidAccount(f"{what}不正确：{str(role)[:16]!r}（可选 {'/'.join(ROLES)}）")
    return str(role)


def clean_shop_id(shop_id: object) -> str | None:
    if shop_id is None:
        return None
    if not isinstance(shop_id, str) or not _SHOP_ID.fullmatch(shop_id):
        raise InvalidAccount("店铺 ID 必须是 1–64 个字母、数字、_ 或 -")
    return shop_id


def check_password(password: object, username: str = "") -> str:
    """Return the password if acceptable, else raise WeakPassword with the reason."""
    if not isinstance(password, str):
        raise WeakPassword("密码必须是文本")
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"密码至少 {MIN_PASSWORD} 个字符")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"密码最多 {MAX_PASSWORD} 个字符")
    if _CONTROL.search(password):
        raise WeakPassword("密码不能包含控制字符")
    low = password.lower()
    if low in COMMON or len(set(low)) <= 2 or _is_sequence(low):
        raise WeakPassword("密码太常见，请换一个更难猜的")
    if username and username.lower() in low:
        raise WeakPassword("密码不能包含用户名")
    return password


def _is_sequence(text: str) -> bool:
    """Runs like 3456789012 or abcdefghij: each character one step from the last."""
    steps = {
        (ord(b) - ord(a)) % 10 if a.isdigit() else ord(b) - ord(a)
        for a, b in zip(text, text[1:], strict=False)
    }
    return len(steps) == 1 and steps <= {1, -1, 9}


def random_password() -> str:
    """20 URL-safe characters (120 bits), never one the rules refuse."""
    while True:
        pw = secrets.token_urlsafe(15)
        try:
            return check_password(pw)
        except WeakPassword:  # pragma: no cover - astronomically unlikely
            continue


class Hasher:
    """argon2id hashing in threads, a bounded number at a time; a dummy hash for unknown users."""

    def __init__(self, slots: int = HASH_SLOTS) -> None:
        self._ph = hasher()
        self._slots = asyncio.Semaphore(slots)
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._ph.hash, password)

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(ok, new hash if the parameters changed). `hashed` None verifies against a dummy
        hash, so an unknown username costs the same time as a wrong password."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, password, hashed)

    def _verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        if hashed is None:
            with self._dummy_lock:
                if self._dummy is None:
                    self._dummy = self._ph.hash(secrets.token_urlsafe(16))
            self._ph.verify(password, self._dummy)
            return False, None
        try:
            return self._ph.verify_and_update(password, hashed)
        except Exception:  # noqa: BLE001 - a corrupt stored hash is a failed login, not a 500
            return False, None
