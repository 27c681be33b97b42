"""Points are stored as integer hundredths of a point; never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from huzhu.core.errors import DomainError

HUNDREDTHS = 100


def parse_points(value: str | int | Decimal) -> int:
    """Parse "1.5" into 150 hundredths. Refuses floats and more than two decimals."""
    if isinstance(value, (bool, float)):
        raise DomainError("timebank.points.float", _("积分不能用浮点数表示。"))
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise DomainError("timebank.points.invalid", _("积分格式不正确。")) from None
    if not amount.is_finite():
        raise DomainError("timebank.points.invalid", _("积分格式不正确。"))
    scaled = amount * HUNDREDTHS
    if scaled != scaled.to_integral_value():
        raise DomainError("timebank.points.precision", _("积分最多保留两位小数。"))
    return int(scaled)


def format_points(hundredths: int) -> str:
    """150 → "1.50"; -5 → "-0.05"."""
    if isinstance(hundredths, bool) or not isinstance(hundredths, int):
        raise TypeError("hundredths must be an int")
    sign = "-" if hundredths < 0 else ""
    whole, frac = divmod(abs(hundredths), HUNDREDTHS)
    return f"{sign}{whole}.{frac:02d}"
