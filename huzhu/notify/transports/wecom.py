"""WeCom (企业微信) group robots: POST a markdown message to the robot's webhook."""

from __future__ import annotations

import json
import urllib.parse

from django.conf import settings
from django.utils.translation import gettext as _

from huzhu.notify.transports.base import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportError,
    http_request,
    status_error,
)

# The robot API takes at most 4096 bytes of markdown.
MAX_BYTES = 4096
# -1: system busy; 45009: the robot's rate limit (20 messages a minute).
RETRYABLE_ERRCODES = {-1, 45009, 45033}


def markdown(message: OutgoingMessage) -> str:
    title = message.title.replace("\n", " ")
    head = f'<font color="warning">{_("紧急")}</font> ' if message.urgent else ""
    text = f"{head}**{title}**\n{message.body}"
    if message.link.startswith(("http://", "https://")):
        text += f"\n[{message.link}]({message.link})"
    raw = text.encode()
    if len(raw) > MAX_BYTES:
        text = raw[: MAX_BYTES - 3].decode("utf-8", "ignore") + "…"
    return text


def webhook_url(key: str) -> str:
    base = settings.HUZHU_WECOM_BASE_URL.rstrip("/")
    return f"{base}/cgi-bin/webhook/send?key={urllib.parse.quote(key, safe='')}"


class WecomTransport(Transport):
    channel = "wecom"

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.address:
            raise TransportError("no robot key", retryable=False)
        body = json.dumps(
            {"msgtype": "markdown", "markdown": {"content": markdown(message)}},
            ensure_ascii=False,
        ).encode()
        resp = http_request(
            "POST",
            webhook_url(message.address),
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        data = resp.json()
        if not isinstance(data, dict) or "errcode" not in data:
            raise status_error(resp, "wecom")
        code = data.get("errcode")
        if code != 0:
            raise TransportError(
                f"wecom {code}: {data.get('errmsg', '')}",
                retryable=code in RETRYABLE_ERRCODES or resp.status >= 500,
            )
        # The robot API returns no message id.
        return SendResult(provider_id="")
