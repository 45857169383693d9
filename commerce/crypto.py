"""Keys derived from the configured secret; field encryption and masking of customer data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from commerce.private_files import narrow, private_dir

DEFAULT_KEY_FILE = Path("./var/yunlian.key")


def load_secret(secret_key: str | None = None, key_file: Path = DEFAULT_KEY_FILE) -> bytes:
    """Secret from the argument, else YUNLIAN_SECRET_KEY, else a key file made once (0600)."""
    secret = secret_key or os.environ.get("YUNLIAN_SECRET_KEY")
    if secret:
        return secret.encode()
    if key_file.exists():
        narrow(key_file)  # a key readable by others signs for anyone
        return key_file.read_bytes().strip()
    private_dir(key_file.parent)
    value = secrets.token_urlsafe(32).encode()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(value)
    return value


def existing_secret(
    secret_key: str | None = None, key_file: Path = DEFAULT_KEY_FILE
) -> bytes | None:
    """Like load_secret, but never makes a key: None when none is configured (a restore must
    not invent the key a backup is checked against)."""
    secret = secret_key or os.environ.get("YUNLIAN_SECRET_KEY")
    if secret:
        return secret.encode()
    if key_file.is_file():
        return key_file.read_bytes().strip()
    return None


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=b"yunlian-v1", info=purpose.encode()).derive(
        secret
    )


def backup_key(secret: bytes) -> bytes:
    """The key that seals backup files (an HMAC over the whole file)."""
    return _derive(secret, "backup-hmac")


class Keys:
    """All keys the shop uses, each derived for one purpose from one secret."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(_derive(secret, "pii-encryption"))
        self.webhook = _derive(secret, "payment-webhook")
        self.backup = backup_key(secret)
        self.trace_mac = _derive(secret, "trace-leaf-mac")
        self._order_token = _derive(secret, "order-token")
        self._buyer_key = _derive(secret, "buyer-key")
        self.signing = Ed25519PrivateKey.from_private_bytes(_derive(secret, "trace-checkpoint"))
        self.public_raw = self.signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(self.public_raw).hexdigest()[:16]

    def encrypt(self, text: str) -> str:
        nonce = secrets.token_bytes(12)
        blob = self._aead.encrypt(nonce, text.encode(), b"yunlian-pii")
        return "v1:" + base64.urlsafe_b64encode(nonce + blob).decode()

    def decrypt(self, token: str) -> str:
        raw = base64.urlsafe_b64decode(token.removeprefix("v1:"))
        return self._aead.decrypt(raw[:12], raw[12:], b"yunlian-pii").decode()

    def order_token(self, order_id: str) -> str:
        """The buyer's capability for one order: an HMAC of its id, so nothing is stored and
        an idempotent replay returns the same token; unguessable without the secret."""
        mac = hmac.new(self._order_token, order_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def order_token_matches(self, order_id: str, token: str) -> bool:
        return hmac.compare_digest(self.order_token(order_id).encode(), token.encode())

    def buyer_key(self, phone: str) -> str:
        """A stable, non-reversible buyer id from the phone number (purchase limits, analytics):
        the client cannot pick it, unlike a `buyer.id` it sends."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        mac = hmac.new(self._buyer_key, digits.encode(), hashlib.sha256).hexdigest()
        return "ph_" + mac[:32]

    def mac(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    def sign(self, data: bytes) -> bytes:
        return self.signing.sign(data)

    def verify_signature(self, signature: bytes, data: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_raw).verify(signature, data)
        except Exception:  # noqa: BLE001 - InvalidSignature or malformed bytes: both mean "no"
            return False
        return True


def mask_phone(phone: str) -> str:
    """138****1234: keep the first three and last four digits."""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    """李** : keep the family name only; the stars do not reveal the name's length."""
    name = name.strip()
    return name[0] + "**" if name else "匿名"


def mask_address(address: str) -> str:
    """Keep the first six characters (province/city) and hide the rest."""
    address = address.strip()
    if len(address) <= 6:
        return address[:2] + "****"
    return address[:6] + "****"
