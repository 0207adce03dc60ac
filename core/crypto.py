"""Encryption of contact data at rest (Fernet) and keyed fingerprints to match it without decrypting."""
from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from core.settings import Settings, get_settings


def _fernet(settings: Settings | None = None) -> Fernet:
    return Fernet((settings or get_settings()).fernet_key())


def encrypt(value: str | None, settings: Settings | None = None) -> bytes | None:
    if value is None or value == "":
        return None
    return _fernet(settings).encrypt(value.encode())


def decrypt(token: bytes | None, settings: Settings | None = None) -> str | None:
    if not token:
        return None
    try:
        return _fernet(settings).decrypt(token).decode()
    except InvalidToken:
        return None


def fingerprint(value: str, purpose: str, settings: Settings | None = None) -> str:
    """HMAC-SHA256 of ``value`` under the secret key, separated by ``purpose``."""
    key = (settings or get_settings()).secret().encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
