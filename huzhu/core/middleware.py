"""Per-request context that actions read without being handed the request (IP for audit)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
