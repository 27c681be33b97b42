"""Failure counters in Django's cache: a bound on failed sign-ins per phone number and per IP.

A ``Limit`` counts failures of one kind for one subject (a phone number, an IP) in a fixed window
that starts at the first failure. ``blocked()`` says how many seconds are left when any of the
given subjects has used up its failures; the caller then answers 429 with ``Retry-After``.
Subjects are stored as a keyed hash, never in plaintext (the cache may be a shared server).

The counters live in the ``default`` cache (``HUZHU_CACHE_URL``, docs/configuration.md): per
process by default, shared between processes with a file or Redis cache.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from huzhu.core.middleware import ip_from_request


@dataclass(frozen=True)
class Limit:
    scope: str  # e.g. "login-phone"
    subject: str  # the phone number, the IP
    max_failures: int
    window: int  # seconds

    def _key(self) -> str:
        digest = hmac.new(
            settings.SECRET_KEY.encode(), f"{self.scope}:{self.subject}".encode(), hashlib.sha256
        ).hexdigest()[:32]
        return f"huzhu:ratelimit:{self.scope}:{digest}"

    def retry_after(self, now: float) -> int:
        """Seconds until the window ends when the failures are used up, else 0."""
        key = self._key()
        state = cache.get_many([f"{key}:n", f"{key}:t"])
        count, start = state.get(f"{key}:n", 0), state.get(f"{key}:t")
        if count < self.max_failures or start is None or start + self.window <= now:
            return 0
        return max(1, math.ceil(start + self.window - now))

    def fail(self, now: float) -> None:
        key = self._key()
        cache.add(f"{key}:t", now, self.window)
        cache.add(f"{key}:n", 0, self.window)
        try:
            cache.incr(f"{key}:n")
        except ValueError:  # expired between add and incr: start a new window
            cache.set(f"{key}:n", 1, self.window)
            cache.set(f"{key}:t", now, self.window)

    def reset(self) -> None:
        key = self._key()
        cache.delete_many([f"{key}:n", f"{key}:t"])


def login_limits(request: HttpRequest, phone: str) -> list[Limit]:
    """The sign-in limits for this client and this phone number (normalized: digits only, as
    ``huzhu.accounts.pii.normalize_phone`` gives it), docs/configuration.md."""
    window = int(settings.HUZHU_LOGIN_WINDOW_SECONDS)
    limits = [
        Limit(
            "login-ip",
            ip_from_request(request) or "unknown",
            int(settings.HUZHU_LOGIN_MAX_FAILURES_PER_IP),
            window,
        )
    ]
    if phone:
        limits.append(
            Limit("login-phone", phone, int(settings.HUZHU_LOGIN_MAX_FAILURES_PER_PHONE), window)
        )
    return limits


def blocked(limits: list[Limit]) -> int:
    """Seconds to wait when any limit is used up; 0 when the attempt may go ahead."""
    now = time.time()
    return max((limit.retry_after(now) for limit in limits), default=0)


def record_failure(limits: list[Limit]) -> None:
    now = time.time()
    for limit in limits:
        limit.fail(now)


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def too_many_message(seconds: int) -> str:
    return _("登录失败次数过多，请 %(minutes)s 分钟后再试。") % {"minutes": _minutes(seconds)}


def too_many_page(request: HttpRequest, seconds: int) -> HttpResponse:
    """The sign-in page's refusal: 429, ``Retry-After``, a localized explanation."""
    html = render_to_string(
        "core/too_many_attempts.html", {"message": too_many_message(seconds)}, request
    )
    response = HttpResponse(html, status=429)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


def too_many_json(seconds: int) -> HttpResponse:
    """The API's error envelope for the same refusal."""
    body = {
        "error": {
            "code": "accounts.login.throttled",
            "message": too_many_message(seconds),
            "details": {"retry_after": seconds},
        }
    }
    response = JsonResponse(body, status=429, json_dumps_params={"ensure_ascii": False})
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response
