"""The household code (住户码): a signed token naming a household, shown as a QR code on the
resident's phone (or printed and stuck on the door) and scanned at a testing site's check-in.

The token is the household's id signed with ``django.core.signing`` under its own salt: it
cannot be forged or altered, needs no database row, and stays valid (a household's code does
not change). It identifies the household only; checking in still needs
"lockdown.run_testing" on the session.
"""

from __future__ import annotations

import segno
from django.core import signing
from django.utils.translation import gettext as _

from huzhu.accounts.models import Household
from huzhu.core.errors import DomainError

SALT = "huzhu.lockdown.household-code"
MAX_TOKEN_LENGTH = 200


def make_code(household: Household) -> str:
    """The household's code (the same every time)."""
    return signing.dumps(["hh", household.pk], salt=SALT, compress=False)


def read_code(token: str) -> int:
    """The household id of a code; refuses a tampered or malformed code."""
    text = "".join((token or "").split())
    if not text:
        raise DomainError(
            "lockdown.household_code.required",
            _("请扫描或输入住户码。"),
            details={"field": "token"},
        )
    invalid = DomainError(
        "lockdown.household_code.invalid",
        _("住户码无效，请重新扫描。"),
        details={"field": "token"},
    )
    if len(text) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        payload = signing.loads(text, salt=SALT)
    except (signing.BadSignature, ValueError):
        raise invalid from None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or payload[0] != "hh"
        or not isinstance(payload[1], int)
        or isinstance(payload[1], bool)
    ):
        raise invalid
    return payload[1]


def qr_svg(token: str) -> str:
    """The code as an inline SVG QR code (no external assets)."""
    code = segno.make(token, error="m")
    svg: str = code.svg_inline(scale=6, dark="#000", light="#fff", border=3, omitsize=True)
    return svg
