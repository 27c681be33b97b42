"""Tencent Cloud SMS (API 3.0, ``SendSms`` version 2021-01-11).

A JSON POST signed with TC3-HMAC-SHA256 as described in the provider's "Signature v3" page:
a canonical request (method, path, query, the signed headers content-type and host, the
SHA-256 of the body), a string to sign (algorithm, timestamp, ``date/sms/tc3_request``, the
SHA-256 of the canonical request), and a signing key derived by chained HMAC-SHA256 from
``"TC3" + SecretKey`` over the UTC date, the service and ``tc3_request``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.parse

from huzhu.core import clock
from huzhu.notify.transports.base import (
    OutgoingMessage,
    TransportError,
    http_request,
    status_error,
)
from huzhu.notify.transports.sms import SmsProvider, client_reference, template_values

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com/"
DEFAULT_REGION = "ap-guangzhou"
API_VERSION = "2021-01-11"
SERVICE = "sms"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = "content-type;host"

# Throttling and the provider's own trouble are worth retrying; a wrong number, template,
# signature or key is not.
RETRYABLE_PREFIXES = (
    "InternalError",
    "RequestLimitExceeded",
    "LimitExceeded",
    "ResourceUnavailable",
)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_request(host: str, payload: str) -> str:
    hashed = hashlib.sha256(payload.encode()).hexdigest()
    headers = f"content-type:{CONTENT_TYPE}\nhost:{host}\n"
    return f"POST\n/\n\n{headers}\n{SIGNED_HEADERS}\n{hashed}"


def authorization(
    *, secret_id: str, secret_key: str, host: str, payload: str, timestamp: int
) -> str:
    """The Authorization header of one request."""
    date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{SERVICE}/tc3_request"
    digest = hashlib.sha256(canonical_request(host, payload).encode()).hexdigest()
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), SERVICE), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )


def _retryable(code: str) -> bool:
    return code.startswith(RETRYABLE_PREFIXES)


def e164(phone: str) -> str:
    """Mainland numbers as +86…; numbers already in E.164 are kept."""
    return phone if phone.startswith("+") else f"+86{phone}"


class TencentSms(SmsProvider):
    name = "tencent"

    def payload(self, phone: str, message: OutgoingMessage) -> dict[str, object]:
        title, content = template_values(message)
        return {
            "PhoneNumberSet": [e164(phone)],
            "SmsSdkAppId": self.config.sdk_app_id,
            "SignName": self.config.sign_name,
            "TemplateId": self.config.template,
            "TemplateParamSet": [title, content],
            # Echoed back in the response and the delivery report.
            "SessionContext": client_reference(message.idempotency_key),
        }

    def send(self, phone: str, message: OutgoingMessage) -> str:
        cfg = self.config
        cfg.require("access_key_id", "access_key_secret", "sign_name", "template", "sdk_app_id")
        endpoint = cfg.endpoint or DEFAULT_ENDPOINT
        host = urllib.parse.urlsplit(endpoint).netloc
        payload = json.dumps(
            self.payload(phone, message), ensure_ascii=False, separators=(",", ":")
        )
        timestamp = int(clock.now().timestamp())
        headers = {
            "Authorization": authorization(
                secret_id=cfg.access_key_id,
                secret_key=cfg.access_key_secret,
                host=host,
                payload=payload,
                timestamp=timestamp,
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": API_VERSION,
            "X-TC-Region": cfg.region or DEFAULT_REGION,
        }
        resp = http_request(
            "POST", endpoint, body=payload.encode(), headers=headers, timeout=cfg.timeout
        )
        data = resp.json()
        response = data.get("Response") if isinstance(data, dict) else None
        if not isinstance(response, dict):
            raise status_error(resp, "tencent")
        error = response.get("Error")
        if isinstance(error, dict):
            code = str(error.get("Code", ""))
            raise TransportError(
                f"tencent {code}: {error.get('Message', '')}",
                retryable=_retryable(code) or resp.status >= 500,
            )
        statuses = response.get("SendStatusSet") or []
        if not statuses or not isinstance(statuses[0], dict):
            raise TransportError("tencent: no send status in the response", retryable=True)
        status = statuses[0]
        code = str(status.get("Code", ""))
        if code == "Ok":
            return str(status.get("SerialNo") or response.get("RequestId") or "")
        raise TransportError(
            f"tencent {code}: {status.get('Message', '')}", retryable=_retryable(code)
        )
