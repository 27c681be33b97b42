"""SMS through a provider interface: console (development), Alibaba Cloud, Tencent Cloud."""

from __future__ import annotations

import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from huzhu.core import clock
from huzhu.core.logging import mask_text
from huzhu.notify.transports.base import OutgoingMessage, SendResult, Transport, TransportError

logger = logging.getLogger("huzhu.notify.sms")

# Notification templates take short variables; longer text is cut (the inbox has it all).
TITLE_LIMIT = 20
CONTENT_LIMIT = 60


def clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def template_values(message: OutgoingMessage) -> tuple[str, str]:
    """The two template variables every provider gets: title and content."""
    return clip(message.title, TITLE_LIMIT), clip(message.body or message.title, CONTENT_LIMIT)


def client_reference(key: str, limit: int = 64) -> str:
    """The idempotency key as the provider's out-id / session context (hashed when too long)."""
    return key if len(key) <= limit else hashlib.sha256(key.encode()).hexdigest()[:limit]


@dataclass(frozen=True)
class SmsConfig:
    endpoint: str
    region: str
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template: str
    sdk_app_id: str
    timeout: float

    @classmethod
    def from_settings(cls) -> SmsConfig:
        return cls(
            endpoint=settings.HUZHU_SMS_ENDPOINT,
            region=settings.HUZHU_SMS_REGION,
            access_key_id=settings.HUZHU_SMS_ACCESS_KEY_ID,
            access_key_secret=settings.HUZHU_SMS_ACCESS_KEY_SECRET,
            sign_name=settings.HUZHU_SMS_SIGN_NAME,
            template=settings.HUZHU_SMS_TEMPLATE,
            sdk_app_id=settings.HUZHU_SMS_SDK_APP_ID,
            timeout=float(settings.HUZHU_NOTIFY_TIMEOUT_SECONDS),
        )

    def require(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            raise TransportError(
                f"SMS gateway not configured: {', '.join(missing)}", retryable=False
            )


class SmsProvider(ABC):
    """An SMS gateway adapter: send one templated message to one phone, return its id."""

    name = ""

    def __init__(self, config: SmsConfig) -> None:
        self.config = config

    @abstractmethod
    def send(self, phone: str, message: OutgoingMessage) -> str:
        """Send one message to one phone; return the provider's id."""


_file_lock = threading.Lock()


class ConsoleSms(SmsProvider):
    """Development gateway: logs a masked line, and appends it to HUZHU_SMS_FILE when set."""

    name = "console"

    def send(self, phone: str, message: OutgoingMessage) -> str:
        title, content = template_values(message)
        line = mask_text(f"SMS to {phone}: 【{title}】{content} [{message.idempotency_key}]")
        logger.info("%s", line)
        path_setting = getattr(settings, "HUZHU_SMS_FILE", "")
        if path_setting:
            path = Path(path_setting)
            if not path.is_absolute():
                path = Path(settings.BASE_DIR) / path
            path.parent.mkdir(parents=True, exist_ok=True)
            with _file_lock, path.open("a", encoding="utf-8") as fh:
                fh.write(f"{clock.now().isoformat()} {line}\n")
        return "console-" + hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:16]


def get_provider(name: str | None = None) -> SmsProvider:
    from huzhu.notify.transports.aliyun import AliyunSms
    from huzhu.notify.transports.tencent import TencentSms

    name = name or settings.HUZHU_SMS_PROVIDER
    providers: dict[str, type[SmsProvider]] = {
        "console": ConsoleSms,
        "aliyun": AliyunSms,
        "tencent": TencentSms,
    }
    if name not in providers:
        raise TransportError(f"unknown SMS provider {name!r}", retryable=False)
    return providers[name](SmsConfig.from_settings())


class SmsTransport(Transport):
    channel = "sms"

    def __init__(self, provider: SmsProvider | None = None) -> None:
        self.provider = provider

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.address:
            raise TransportError("no phone number", retryable=False)
        provider = self.provider or get_provider()
        return SendResult(provider_id=provider.send(message.address, message))
