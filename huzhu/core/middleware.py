"""Per-request context that actions read without being handed the request (IP for audit)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

_client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)


def client_ip() -> str | None:
    """The IP of the request being served, or None outside a request (commands, tasks)."""
    return _client_ip.get()


def ip_from_request(request: HttpRequest) -> str | None:
    # Behind a reverse proxy, REMOTE_ADDR is the proxy; the proxy must set X-Real-IP.
    ip = request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR")
    return str(ip) if ip else None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client_ip.set(ip_from_request(request))
        try:
            response = self.get_response(request)
        finally:
            _client_ip.reset(token)
        return response


class LanguageMiddleware:
    """Chinese first: the language is the one chosen with the switch (the language cookie), else
    the signed-in person's preference, else ``settings.LANGUAGE_CODE`` (zh-hans). A browser's
    Accept-Language is followed only by the API, whose clients set it on purpose."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _choose(self, request: HttpRequest) -> str:
        supported = {code for code, _name in settings.LANGUAGES}
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if cookie in supported:
            return str(cookie)
        user = getattr(request, "user", None)
        preferred = getattr(user, "preferred_language", None)
        if getattr(user, "is_authenticated", False) and preferred in supported:
            return str(preferred)
        if request.path.startswith("/api/"):
            header = translation.get_language_from_request(request)
            if header in supported:
                return header
        return str(settings.LANGUAGE_CODE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = self._choose(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Cookie", "Accept-Language"))
        return response


# Scripts and styles only from our own origin (no inline script, no eval, no <style> block or
# style attribute: they live in static/js and static/css); images also as data: URLs (QR codes);
# nothing may frame a page; forms post only to us.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    )
)


class ContentSecurityPolicyMiddleware:
    """Adds ``Content-Security-Policy`` to every response that does not set its own. Django 5.2
    has none built in. Skipped on DEBUG's technical error page, whose inline script would
    otherwise not run."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 500:
            return response
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
