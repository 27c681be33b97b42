"""Web Push (RFC 8030/8291/8292) through pywebpush, signed with the VAPID keys of settings."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import requests
from django.conf import settings
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from huzhu.notify.transports.base import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportError,
    timeout_seconds,
)

# A message waits this long at the push service for an offline browser.
TTL_SECONDS = 24 * 3600


def topic(key: str) -> str:
    """The push Topic header (≤ 32 URL-safe base64 characters) from the idempotency key: a
    retried message replaces the undelivered copy at the push service instead of adding one."""
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()[:24]).decode()


def vapid_key() -> Vapid:
    raw = settings.HUZHU_VAPID_PRIVATE_KEY.strip()
    if not raw:
        raise TransportError("Web Push not configured (HUZHU_VAPID_PRIVATE_KEY)", retryable=False)
    try:
        if "-----BEGIN" in raw:
            return Vapid.from_pem(raw.encode())
        if os.path.isfile(raw):
            return Vapid.from_file(raw)
        return Vapid.from_string(raw)
    except Exception as exc:  # the key itself is broken: no retry will help
        raise TransportError(
            f"bad VAPID private key: {type(exc).__name__}", retryable=False
        ) from exc


def subject() -> str:
    return settings.HUZHU_VAPID_SUBJECT or f"mailto:{settings.DEFAULT_FROM_EMAIL}"


class WebPushTransport(Transport):
    channel = "webpush"

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.address or not message.keys:
            raise TransportError("no push subscription", retryable=False)
        payload = json.dumps(
            {
                "title": message.title,
                "body": message.body,
                "url": message.link,
                "tag": topic(message.idempotency_key),
                "urgent": message.urgent,
            },
            ensure_ascii=False,
        )
        info: dict[str, Any] = {"endpoint": message.address, "keys": dict(message.keys)}
        try:
            resp = webpush(
                subscription_info=info,
                data=payload,
                vapid_private_key=vapid_key(),
                vapid_claims={"sub": subject()},
                ttl=TTL_SECONDS,
                timeout=timeout_seconds(),
                headers={
                    "Topic": topic(message.idempotency_key),
                    "Urgency": "high" if message.urgent else "normal",
                },
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (404, 410):
                raise TransportError(
                    f"push subscription gone (HTTP {status})", retryable=False, gone=True
                ) from exc
            retryable = status == 429 or status >= 500 or status == 0
            raise TransportError(f"push service HTTP {status}", retryable=retryable) from exc
        except requests.Timeout as exc:
            raise TransportError("timeout", retryable=True) from exc
        except requests.RequestException as exc:
            raise TransportError(
                f"push service unreachable: {type(exc).__name__}", retryable=True
            ) from exc
        except ValueError as exc:  # a malformed subscription key
            raise TransportError(
                f"bad push subscription: {exc}", retryable=False, gone=True
            ) from exc
        location = getattr(resp, "headers", {}).get("Location", "") if resp else ""
        return SendResult(provider_id=str(location)[-120:])
