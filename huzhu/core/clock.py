"""The one clock. Everything that needs the time asks here, so tests can freeze it."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    """The current aware datetime."""
    return timezone.now()


def today() -> dt.date:
    """Today's date in the installation's time zone."""
    return timezone.localdate(now())
