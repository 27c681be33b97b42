"""The member's payment code (我的付款码, DOMAIN.md "The time bank": points are spent at merchants
by showing a QR code).

A code is a short-lived signed token: the member's id and a random nonce, signed with
``django.core.signing`` under its own salt and valid for ``TOKEN_TTL_SECONDS``. The nonce is
what makes a code single-use: a redemption stores it (``Redemption.token_nonce`` is unique), so a
second use of the same code is refused, also under concurrency.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import segno
from django.core import signing
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError

SALT = "huzhu.timebank.payment-code"
# A shown code is valid for this many seconds; the page refreshes it before then.
TOKEN_TTL_SECONDS = 120
NONCE_BYTES = 12  # 16 URL-safe characters
MAX_TOKEN_LENGTH = 300


@dataclass(frozen=True)
class PaymentToken:
    person_id: int
    nonce: str


def make_token(person: Person) -> str:
    """A fresh payment code for ``person``."""
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    return signing.dumps([person.pk, nonce], salt=SALT, compress=False)


def read_token(token: str) -> PaymentToken:
    """The member and nonce of a code; refuses a tampered, malformed or expired code."""
    text = "".join((token or "").split())
    if not text:
        raise DomainError(
            "timebank.qr.required", _("请扫描或输入会员的付款码。"), details={"field": "token"}
        )
    if len(text) > MAX_TOKEN_LENGTH:
        raise DomainError(
            "timebank.qr.invalid", _("付款码无效，请重新扫描。"), details={"field": "token"}
        )
    try:
        payload = signing.loads(text, salt=SALT, max_age=TOKEN_TTL_SECONDS)
    except signing.SignatureExpired:
        raise DomainError(
            "timebank.qr.expired",
            _("付款码已过期，请会员刷新后重新出示。"),
            details={"field": "token"},
        ) from None
    except (signing.BadSignature, ValueError):
        raise DomainError(
            "timebank.qr.invalid", _("付款码无效，请重新扫描。"), details={"field": "token"}
        ) from None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], int)
        or isinstance(payload[0], bool)
        or not isinstance(payload[1], str)
        or not payload[1]
    ):
        raise DomainError(
            "timebank.qr.invalid", _("付款码无效，请重新扫描。"), details={"field": "token"}
        )
    return PaymentToken(person_id=payload[0], nonce=payload[1])


def qr_svg(token: str) -> str:
    """The code as an inline SVG QR code (no external assets)."""
    code = segno.make(token, error="m")
    svg: str = code.svg_inline(scale=5, dark="#000", light="#fff", border=3, omitsize=True)
    return svg
