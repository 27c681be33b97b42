"""Email through Django's mail framework (EMAIL_BACKEND, DEFAULT_FROM_EMAIL, EMAIL_TIMEOUT)."""

from __future__ import annotations

import hashlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

from huzhu.notify.transports.base import OutgoingMessage, SendResult, Transport, TransportError


def message_id(key: str) -> str:
    """A Message-ID derived from the delivery's key: a resent copy carries the same id, which
    mail clients and servers use to drop duplicates."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "huzhu.local"
    return f"<{digest}@{domain}>"


class EmailTransport(Transport):
    channel = "email"

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.address:
            raise TransportError("no email address", retryable=False)
        mid = message_id(message.idempotency_key)
        body = message.body
        if message.link.startswith(("http://", "https://")):
            body = f"{body}\n\n{message.link}"
        email = EmailMessage(
            subject=message.title,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.address],
            headers={"Message-ID": mid},
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise TransportError(f"recipient refused: {exc}", retryable=False) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as exc:
            raise TransportError(f"smtp refused: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"smtp: {exc}", retryable=True) from exc
        return SendResult(provider_id=mid)
