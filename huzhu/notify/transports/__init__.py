"""External channels, one small transport class each (see base.Transport)."""

from __future__ import annotations

from huzhu.notify.transports.base import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportError,
)


def get_transport(channel: str) -> Transport:
    """The transport of a channel (email, sms, wecom, webpush)."""
    from huzhu.notify.transports.email import EmailTransport
    from huzhu.notify.transports.sms import SmsTransport
    from huzhu.notify.transports.webpush import WebPushTransport
    from huzhu.notify.transports.wecom import WecomTransport

    transports: dict[str, type[Transport]] = {
        "email": EmailTransport,
        "sms": SmsTransport,
        "wecom": WecomTransport,
        "webpush": WebPushTransport,
    }
    if channel not in transports:
        raise TransportError(f"no transport for channel {channel!r}", retryable=False)
    return transports[channel]()


__all__ = ["OutgoingMessage", "SendResult", "Transport", "TransportError", "get_transport"]
