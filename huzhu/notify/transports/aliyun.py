"""Alibaba Cloud SMS (dysmsapi ``SendSms``, RPC style, version 2017-05-25).

Each request carries the common RPC parameters and is signed with HMAC-SHA1 as described in
the provider's "signature method" page: sort the parameters, percent-encode names and values
(RFC 3986: space → %20, ``*`` → %2A, ``~`` kept), join them with ``&``, build
``POST&%2F&<encoded canonical query>`` and sign it with ``AccessKeySecret + "&"``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
import uuid

from huzhu.core import clock
from huzhu.notify.transports.base import (
    OutgoingMessage,
    TransportError,
    http_request,
    status_error,
)
from huzhu.notify.transports.sms import SmsProvider, client_reference, template_values

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
DEFAULT_REGION = "cn-hangzhou"
API_VERSION = "2017-05-25"

# Error codes worth retrying later: throttling and the provider's own trouble. Anything else
# (bad number, bad template, bad key, no balance) fails for good.
RETRYABLE_CODES = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "Throttling.User",
    "Throttling.Api",
    "Throttling",
    "ServiceUnavailable",
    "InternalError",
    "isp.SYSTEM_ERROR",
    "isp.GATEWAY_ERROR",
}


def percent_encode(value: str) -> str:
    return urllib.parse.quote(value, safe="~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: dict[str, str]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(method: str, params: dict[str, str], secret: str) -> str:
    """Base64(HMAC-SHA1(secret + "&", StringToSign))."""
    digest = hmac.new(
        f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


class AliyunSms(SmsProvider):
    name = "aliyun"

    def params(self, phone: str, message: OutgoingMessage) -> dict[str, str]:
        title, content = template_values(message)
        return {
            "AccessKeyId": self.config.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self.config.region or DEFAULT_REGION,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": clock.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            "PhoneNumbers": phone,
            "SignName": self.config.sign_name,
            "TemplateCode": self.config.template,
            "TemplateParam": json.dumps({"title": title, "content": content}, ensure_ascii=False),
            # Echoed in the delivery report: ties the provider's record to our delivery.
            "OutId": client_reference(message.idempotency_key),
        }

    def send(self, phone: str, message: OutgoingMessage) -> str:
        cfg = self.config
        cfg.require("access_key_id", "access_key_secret", "sign_name", "template")
        params = self.params(phone, message)
        signature = sign("POST", params, cfg.access_key_secret)
        body = f"{canonical_query(params)}&Signature={percent_encode(signature)}"
        resp = http_request(
            "POST",
            cfg.endpoint or DEFAULT_ENDPOINT,
            body=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "Accept": "application/json",
            },
            timeout=cfg.timeout,
        )
        data = resp.json()
        if not isinstance(data, dict) or "Code" not in data:
            raise status_error(resp, "aliyun")
        code = str(data.get("Code"))
        if code == "OK" and resp.status == 200:
            return str(data.get("BizId") or data.get("RequestId") or "")
        retryable = code in RETRYABLE_CODES or resp.status >= 500 or resp.status == 429
        raise TransportError(f"aliyun {code}: {data.get('Message', '')}", retryable=retryable)
