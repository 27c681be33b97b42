"""The PII vault: field encryption (AES-GCM), the keyed-hash blind index, and masking.

Keys come from the environment (``HUZHU_PII_KEYS``: comma-separated ``id:base64key``; the first
encrypts, every one decrypts). A stored value is ``<key id>$<base64(nonce || ciphertext)>``, so a
key can be rotated by adding a new one in front and running ``manage.py rotate_pii_keys``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

_NONCE_BYTES = 12


@lru_cache(maxsize=8)
def _parse_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    keys: list[tuple[str, bytes]] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, b64 = part.partition(":")
        if not sep or not key_id or "$" in key_id:
            raise ImproperlyConfigured("HUZHU_PII_KEYS entries must look like id:base64key")
        key = base64.b64decode(b64)
        if len(key) not in (16, 24, 32):
            raise ImproperlyConfigured(f"PII key {key_id} must be 16, 24 or 32 bytes")
        keys.append((key_id, key))
    if not keys:
        raise ImproperlyConfigured("HUZHU_PII_KEYS is empty")
    return tuple(keys)


def keys() -> tuple[tuple[str, bytes], ...]:
    return _parse_keys(settings.HUZHU_PII_KEYS)


def current_key_id() -> str:
    return keys()[0][0]


def encrypt(plaintext: str) -> str:
    key_id, key = keys()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), key_id.encode("ascii"))
    return f"{key_id}${base64.b64encode(nonce + sealed).decode('ascii')}"


def decrypt(token: str) -> str:
    key_id, sep, payload = token.partition("$")
    if not sep:
        raise ValueError("not an encrypted value")
    by_id = dict(keys())
    if key_id not in by_id:
        raise ImproperlyConfigured(f"PII key {key_id} is not configured; cannot decrypt")
    raw = base64.b64decode(payload)
    nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    return AESGCM(by_id[key_id]).decrypt(nonce, sealed, key_id.encode("ascii")).decode("utf-8")


def key_id_of(token: str) -> str:
    return token.partition("$")[0]


def normalize_phone(phone: str) -> str:
    """Digits only, without a leading +86 / 0086 country code."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def normalize_id_number(id_number: str) -> str:
    return re.sub(r"\s", "", id_number or "").upper()


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed hash for equality lookups of an encrypted value (phone, ID number)."""
    key = settings.HUZHU_PII_INDEX_KEY.encode("utf-8")
    msg = f"{purpose}:{value}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def phone_index(phone: str) -> str:
    return blind_index(normalize_phone(phone), purpose="phone")


def id_number_index(id_number: str) -> str:
    return blind_index(normalize_id_number(id_number), purpose="id")


PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def is_valid_phone(phone: str) -> bool:
    return bool(PHONE_RE.match(normalize_phone(phone)))


def is_valid_id_number(id_number: str) -> bool:
    """Mainland resident ID (GB 11643): 18 characters with an ISO 7064 MOD 11-2 check digit."""
    value = normalize_id_number(id_number)
    if not ID_RE.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def mask_phone(phone: str) -> str:
    digits = normalize_phone(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id_number(id_number: str) -> str:
    value = normalize_id_number(id_number)
    if len(value) < 8:
        return "*" * len(value)
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


def mask_text(text: str) -> str:
    """Free text (an address, an emergency contact): keep the first character only."""
    if not text:
        return ""
    return text[0] + "*" * min(len(text) - 1, 8)


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text field stored encrypted; Python code sees plaintext, the database never does."""

    description = "Text encrypted with AES-GCM (key from HUZHU_PII_KEYS)"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
