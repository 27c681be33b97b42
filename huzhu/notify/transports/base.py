"""What every transport shares: the outgoing message, the result, the error, plain HTTP."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from huzhu.core.logging import mask_text


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one address over one channel, ready to hand to a transport.

    ``address`` is a phone number (sms), an email address (email), a robot's webhook key
    (wecom) or a push subscription's endpoint (webpush, with ``keys`` = p256dh and auth).
    ``idempotency_key`` is the delivery's key: providers that take a client reference
    (out-id, session context, Message-ID, push topic) receive it.
    """

    channel: str
    address: str
    title: str
    body: str
    idempotency_key: str
    urgent: bool = False
    link: str = ""
    keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message; ``provider_id`` is its reference (may be empty)."""

    provider_id: str = ""


class TransportError(Exception):
    """Sending failed. ``retryable``: the same request may succeed later (throttling, a 5xx,
    a timeout); otherwise (a bad number, a bad key) retrying is pointless."""

    def __init__(self, message: str, *, retryable: bool, gone: bool = False) -> None:
        super().__init__(mask_text(message)[:1000])
        self.retryable = retryable
        # The address itself is no longer valid (a push subscription the browser dropped).
        self.gone = gone


class Transport(ABC):
    """One external channel. Subclasses implement ``send`` and never touch the database."""

    channel = ""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult:
        """Send one message; raise TransportError on failure."""


def timeout_seconds() -> float:
    return float(getattr(settings, "HUZHU_NOTIFY_TIMEOUT_SECONDS", 5))


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def excerpt(self) -> str:
        return self.body[:200].decode("utf-8", "replace")


def http_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> HttpResponse:
    """One HTTP request with the notify timeout. Connection problems and timeouts raise a
    retryable TransportError; an HTTP error status is returned, for the caller to judge."""
    if not url.startswith(("http://", "https://")):
        raise TransportError(f"not an http(s) URL: {url[:80]}", retryable=False)
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout or timeout_seconds()) as resp:  # noqa: S310
            return HttpResponse(resp.status, resp.read())
    except urllib.error.HTTPError as exc:
        try:
            payload = exc.read()
        except (OSError, http.client.HTTPException):
            payload = b""
        return HttpResponse(exc.code, payload)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise TransportError("timeout", retryable=True) from exc
        raise TransportError(f"connection failed: {exc.reason}", retryable=True) from exc
    except TimeoutError as exc:
        raise TransportError("timeout", retryable=True) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise TransportError(f"connection failed: {exc}", retryable=True) from exc


def status_error(resp: HttpResponse, what: str) -> TransportError:
    """The error for an HTTP status the provider did not explain: 429 and 5xx are worth
    retrying, other 4xx are not."""
    retryable = resp.status == 429 or resp.status >= 500
    return TransportError(f"{what} HTTP {resp.status}: {resp.excerpt()}", retryable=retryable)
