"""Transports against a local fake gateway: the SMS providers (whose signatures it checks
by recomputing them), the WeCom robot and a Web Push service (which decrypts the payload).

The fake gateway is the ``gateway`` fixture, shared with test_delivery.py: a
ThreadingHTTPServer on 127.0.0.1 that answers scripted responses per route and counts the
requests it receives per idempotency key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail

from huzhu.notify.transports import OutgoingMessage, TransportError, aliyun, get_transport, tencent
from huzhu.notify.transports.sms import ConsoleSms, SmsConfig

SECRET_ID = "AKID-test-0001"
SECRET_KEY = "test-secret/+= key"  # characters that need percent-encoding


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- independent re-implementations of the two signatures (no code shared with the app) -----


def aliyun_expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    def enc(s: str) -> str:
        out = []
        for byte in s.encode("utf-8"):
            ch = chr(byte)
            if ch.isascii() and (ch.isalnum() or ch in "-_.~"):
                out.append(ch)
            else:
                out.append(f"%{byte:02X}")
        return "".join(out)

    pairs = sorted((enc(k), enc(v)) for k, v in params.items())
    query = "&".join(f"{k}={v}" for k, v in pairs)
    text = method + "&" + enc("/") + "&" + enc(query)
    mac = hmac.new((secret + "&").encode(), text.encode(), "sha1")
    return base64.b64encode(mac.digest()).decode()


def tencent_expected_authorization(
    secret_id: str, secret_key: str, host: str, payload: bytes, timestamp: int
) -> str:
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    lines = [
        "POST",
        "/",
        "",
        "content-type:application/json; charset=utf-8",
        f"host:{host}",
        "",
        "content-type;host",
        hashlib.sha256(payload).hexdigest(),
    ]
    canonical = "\n".join(lines)
    scope = f"{date}/sms/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    k = ("TC3" + secret_key).encode()
    for part in (date, "sms", "tc3_request"):
        k = hmac.new(k, part.encode(), "sha256").digest()
    sig = hmac.new(k, to_sign.encode(), "sha256").hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )


# --- the fake gateway -----------------------------------------------------------------------


@dataclass
class Seen:
    route: str
    key: str
    signature_ok: bool
    body: Any
    headers: dict[str, str]


@dataclass
class FakeGateway:
    base_url: str = ""
    scripts: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    per_key: Counter[str] = field(default_factory=Counter)
    push_keys: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, route: str, *responses: tuple[Any, ...]) -> None:
        """Queue responses for a route: ("ok",), ("status", 500), ("json", status, obj),
        ("sleep", seconds) (answers late, after the client's timeout)."""
        self.scripts.setdefault(route, []).extend(responses)

    def next_response(self, route: str) -> tuple[Any, ...]:
        with self.lock:
            queue = self.scripts.get(route) or []
            return queue.pop(0) if queue else ("ok",)

    def requests(self, route: str) -> list[Seen]:
        return [s for s in self.seen if s.route == route]


def _handler(gw: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            url = urllib.parse.urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            if url.path.startswith("/aliyun/"):
                route, key, sig_ok, body = self._aliyun(raw)
            elif url.path.startswith("/tencent/"):
                route, key, sig_ok, body = self._tencent(raw, headers)
            elif url.path == "/cgi-bin/webhook/send":
                key = urllib.parse.parse_qs(url.query).get("key", [""])[0]
                route, sig_ok, body = "wecom", True, json.loads(raw)
            elif url.path.startswith("/push/"):
                route, key, sig_ok = "push", headers.get("topic", ""), True
                body = self._decrypt_push(url.path, raw)
            else:
                self._reply(404, {"error": "no route"})
                return
            with gw.lock:
                gw.seen.append(Seen(route, key, sig_ok, body, headers))
                gw.per_key[f"{route}:{key}"] += 1
            if not sig_ok:
                self._signature_error(route)
                return
            action = gw.next_response(route)
            if action[0] == "sleep":
                time.sleep(action[1])
                action = ("ok",)
            if action[0] == "status":
                self._reply(action[1], b"upstream trouble")
            elif action[0] == "json":
                self._reply(action[1], action[2])
            else:
                self._success(route, key, body)

        def _aliyun(self, raw: bytes) -> tuple[str, str, bool, Any]:
            params = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
            received = params.pop("Signature", "")
            expected = aliyun_expected_signature("POST", params, SECRET_KEY)
            return "aliyun", params.get("OutId", ""), received == expected, params

        def _tencent(self, raw: bytes, headers: dict[str, str]) -> tuple[str, str, bool, Any]:
            body = json.loads(raw)
            expected = tencent_expected_authorization(
                SECRET_ID,
                SECRET_KEY,
                headers.get("host", ""),
                raw,
                int(headers.get("x-tc-timestamp", "0")),
            )
            ok = headers.get("authorization") == expected and headers.get("x-tc-action") == (
                "SendSms"
            )
            return "tencent", body.get("SessionContext", ""), ok, body

        def _decrypt_push(self, path: str, raw: bytes) -> Any:
            keys = gw.push_keys.get(path)
            if keys is None:
                return None
            plain = http_ece.decrypt(
                raw, private_key=keys["private"], auth_secret=keys["auth"], version="aes128gcm"
            )
            return json.loads(plain)

        def _signature_error(self, route: str) -> None:
            if route == "aliyun":
                self._reply(400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature"})
            else:
                self._reply(
                    200,
                    {
                        "Response": {
                            "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"},
                            "RequestId": "r",
                        }
                    },
                )

        def _success(self, route: str, key: str, body: Any) -> None:
            n = len(gw.seen)
            if route == "aliyun":
                self._reply(
                    200,
                    {"Code": "OK", "Message": "OK", "BizId": f"biz-{n}", "RequestId": f"req-{n}"},
                )
            elif route == "tencent":
                self._reply(
                    200,
                    {
                        "Response": {
                            "SendStatusSet": [
                                {
                                    "SerialNo": f"serial-{n}",
                                    "PhoneNumber": body["PhoneNumberSet"][0],
                                    "Fee": 1,
                                    "SessionContext": key,
                                    "Code": "Ok",
                                    "Message": "send success",
                                    "IsoCode": "CN",
                                }
                            ],
                            "RequestId": f"req-{n}",
                        }
                    },
                )
            elif route == "wecom":
                self._reply(200, {"errcode": 0, "errmsg": "ok"})
            else:
                self._reply(201, b"", {"Location": f"{gw.base_url}/msg/{n}"})

    return Handler


@contextmanager
def running_gateway(settings: Any) -> Iterator[FakeGateway]:
    """Start the fake gateway and point the SMS and WeCom settings at it."""
    gw = FakeGateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gw))
    server.daemon_threads = True
    gw.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    settings.HUZHU_NOTIFY_TIMEOUT_SECONDS = 0.5
    settings.HUZHU_SMS_ACCESS_KEY_ID = SECRET_ID
    settings.HUZHU_SMS_ACCESS_KEY_SECRET = SECRET_KEY
    settings.HUZHU_SMS_SIGN_NAME = "互助社区"
    settings.HUZHU_SMS_TEMPLATE = "SMS_123456"
    settings.HUZHU_SMS_SDK_APP_ID = "1400000000"
    settings.HUZHU_SMS_PROVIDER = "aliyun"
    settings.HUZHU_SMS_ENDPOINT = f"{gw.base_url}/aliyun/"
    settings.HUZHU_WECOM_BASE_URL = gw.base_url
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def gateway(settings: Any) -> Iterator[FakeGateway]:
    with running_gateway(settings) as gw:
        yield gw


def use_tencent(settings: Any, gw: FakeGateway) -> None:
    settings.HUZHU_SMS_PROVIDER = "tencent"
    settings.HUZHU_SMS_ENDPOINT = f"{gw.base_url}/tencent/"


@dataclass
class PushSubscriber:
    endpoint: str
    p256dh: str
    auth: str


def push_subscriber(gw: FakeGateway, name: str = "a") -> PushSubscriber:
    """A browser's subscription: its key pair is known to the fake push service only."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    path = f"/push/{name}"
    gw.push_keys[path] = {"private": private, "auth": auth}
    return PushSubscriber(f"{gw.base_url}{path}", b64url(public), b64url(auth))


def configure_vapid(settings: Any) -> str:
    """Fresh VAPID keys in the settings (base64url raw private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    settings.HUZHU_VAPID_PRIVATE_KEY = b64url(raw)
    settings.HUZHU_VAPID_SUBJECT = "mailto:ops@example.org"
    return settings.HUZHU_VAPID_PRIVATE_KEY


@pytest.fixture
def vapid(settings: Any) -> str:
    return configure_vapid(settings)


def message(channel: str, address: str, key: str = "k-1", **kw: Any) -> OutgoingMessage:
    return OutgoingMessage(
        channel=channel,
        address=address,
        title=kw.pop("title", "明早核酸"),
        body=kw.pop("body", "请 7 点到 1 号楼集合"),
        idempotency_key=key,
        **kw,
    )


# --- signatures ---------------------------------------------------------------------------


def test_aliyun_signature_matches_the_published_example_and_an_independent_one() -> None:
    # The worked example of the provider's signature page (secret "testsecret").
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert aliyun.sign("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # Chinese text, spaces, '*' and '~' in values: the RFC 3986 rules.
    params.update({"SignName": "互助 社区", "TemplateParam": '{"a":"x*y~z"}'})
    assert aliyun.sign("POST", params, SECRET_KEY) == aliyun_expected_signature(
        "POST", params, SECRET_KEY
    )
    assert "%20" in aliyun.canonical_query(params) and "%2A" in aliyun.canonical_query(params)


def test_tencent_signature_matches_an_independent_computation() -> None:
    payload = '{"PhoneNumberSet":["+8613800000002"],"SessionContext":"k"}'
    got = tencent.authorization(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        host="sms.tencentcloudapi.com",
        payload=payload,
        timestamp=1551113065,
    )
    assert got == tencent_expected_authorization(
        SECRET_ID, SECRET_KEY, "sms.tencentcloudapi.com", payload.encode(), 1551113065
    )
    assert "Credential=AKID-test-0001/2019-02-25/sms/tc3_request" in got


# --- SMS providers ------------------------------------------------------------------------


def test_aliyun_sends_a_signed_request_with_the_key_as_out_id(gateway: FakeGateway) -> None:
    result = get_transport("sms").send(message("sms", "13800000002", key="notification:1:sms"))
    assert result.provider_id == "biz-1"
    (seen,) = gateway.requests("aliyun")
    assert seen.signature_ok
    assert seen.body["PhoneNumbers"] == "13800000002"
    assert seen.body["OutId"] == "notification:1:sms"
    assert seen.body["Action"] == "SendSms" and seen.body["SignName"] == "互助社区"
    assert json.loads(seen.body["TemplateParam"]) == {
        "title": "明早核酸",
        "content": "请 7 点到 1 号楼集合",
    }


@pytest.mark.parametrize(
    ("response", "retryable"),
    [
        (("json", 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "bad number"}), False),
        (("json", 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "limit"}), True),
        (("json", 400, {"Code": "Throttling.User", "Message": "slow down"}), True),
        (("status", 503), True),
        (("sleep", 1.2), True),
    ],
)
def test_aliyun_errors_are_classified(
    gateway: FakeGateway, response: tuple[Any, ...], retryable: bool
) -> None:
    gateway.script("aliyun", response)
    with pytest.raises(TransportError) as info:
        get_transport("sms").send(message("sms", "13800000002"))
    assert info.value.retryable is retryable
    if response[0] == "sleep":
        assert "timeout" in str(info.value)


def test_tencent_sends_e164_with_session_context(gateway: FakeGateway, settings: Any) -> None:
    use_tencent(settings, gateway)
    result = get_transport("sms").send(message("sms", "13800000002", key="receipt:9:sms"))
    assert result.provider_id == "serial-1"
    (seen,) = gateway.requests("tencent")
    assert seen.signature_ok
    assert seen.body["PhoneNumberSet"] == ["+8613800000002"]
    assert seen.body["SessionContext"] == "receipt:9:sms"
    assert seen.body["SmsSdkAppId"] == "1400000000"
    assert seen.headers["x-tc-region"] == "ap-guangzhou"


@pytest.mark.parametrize(
    ("response", "retryable"),
    [
        (
            (
                "json",
                200,
                {
                    "Response": {
                        "Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": "no"},
                        "RequestId": "r",
                    }
                },
            ),
            False,
        ),
        (
            (
                "json",
                200,
                {
                    "Response": {
                        "Error": {"Code": "RequestLimitExceeded", "Message": "slow"},
                        "RequestId": "r",
                    }
                },
            ),
            True,
        ),
        (
            (
                "json",
                200,
                {
                    "Response": {
                        "SendStatusSet": [
                            {"Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad"}
                        ],
                        "RequestId": "r",
                    }
                },
            ),
            False,
        ),
        (
            (
                "json",
                200,
                {
                    "Response": {
                        "SendStatusSet": [
                            {
                                "Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
                                "Message": "later",
                            }
                        ],
                        "RequestId": "r",
                    }
                },
            ),
            True,
        ),
        (("status", 502), True),
    ],
)
def test_tencent_errors_are_classified(
    gateway: FakeGateway, settings: Any, response: tuple[Any, ...], retryable: bool
) -> None:
    use_tencent(settings, gateway)
    gateway.script("tencent", response)
    with pytest.raises(TransportError) as info:
        get_transport("sms").send(message("sms", "13800000002"))
    assert info.value.retryable is retryable


def test_a_wrong_secret_is_refused_by_the_gateway(gateway: FakeGateway, settings: Any) -> None:
    settings.HUZHU_SMS_ACCESS_KEY_SECRET = "not-the-secret"
    with pytest.raises(TransportError) as info:
        get_transport("sms").send(message("sms", "13800000002"))
    assert "SignatureDoesNotMatch" in str(info.value) and not info.value.retryable
    assert gateway.requests("aliyun")[0].signature_ok is False


def test_console_sms_masks_the_phone_in_the_log_and_the_file(
    settings: Any, tmp_path: Any, caplog: Any
) -> None:
    settings.HUZHU_SMS_PROVIDER = "console"
    settings.HUZHU_SMS_FILE = str(tmp_path / "sms.log")
    caplog.set_level("INFO", logger="huzhu.notify.sms")
    msg = message("sms", "13812345678", body="回电 13987654321")
    result = get_transport("sms").send(msg)
    assert result.provider_id.startswith("console-")
    text = caplog.text + (tmp_path / "sms.log").read_text(encoding="utf-8")
    assert "138****5678" in text and "139****4321" in text
    assert "13812345678" not in text and "13987654321" not in text


def test_sms_without_configuration_fails_for_good(settings: Any) -> None:
    settings.HUZHU_SMS_ACCESS_KEY_ID = ""
    provider = aliyun.AliyunSms(SmsConfig.from_settings())
    with pytest.raises(TransportError) as info:
        provider.send("13800000002", message("sms", "13800000002"))
    assert not info.value.retryable
    assert ConsoleSms(SmsConfig.from_settings()).send("1380000", message("sms", "x"))


# --- WeCom, Web Push, email -----------------------------------------------------------------


def test_wecom_posts_markdown_to_the_robot(gateway: FakeGateway) -> None:
    get_transport("wecom").send(message("wecom", "robot-key-1", urgent=True))
    (seen,) = gateway.requests("wecom")
    assert seen.key == "robot-key-1"
    assert seen.body["msgtype"] == "markdown"
    assert "**明早核酸**" in seen.body["markdown"]["content"]
    assert "warning" in seen.body["markdown"]["content"]


@pytest.mark.parametrize(("errcode", "retryable"), [(93000, False), (45009, True), (-1, True)])
def test_wecom_errcodes(gateway: FakeGateway, errcode: int, retryable: bool) -> None:
    gateway.script("wecom", ("json", 200, {"errcode": errcode, "errmsg": "err"}))
    with pytest.raises(TransportError) as info:
        get_transport("wecom").send(message("wecom", "robot-key-1"))
    assert info.value.retryable is retryable


def test_webpush_encrypts_for_the_browser_with_a_topic(gateway: FakeGateway, vapid: str) -> None:
    sub = push_subscriber(gateway)
    msg = message(
        "webpush",
        sub.endpoint,
        key="notification:7:webpush",
        link="/inbox/",
        keys={"p256dh": sub.p256dh, "auth": sub.auth},
    )
    result = get_transport("webpush").send(msg)
    assert result.provider_id.endswith("/msg/1")
    (seen,) = gateway.requests("push")
    assert seen.body == {
        "title": "明早核酸",
        "body": "请 7 点到 1 号楼集合",
        "url": "/inbox/",
        "tag": seen.key,
        "urgent": False,
    }
    assert len(seen.key) <= 32 and seen.headers["urgency"] == "normal"
    assert seen.headers["authorization"].startswith("vapid t=")


@pytest.mark.parametrize(
    ("status", "gone", "retryable"),
    [
        (410, True, False),
        (404, True, False),
        (429, False, True),
        (500, False, True),
        (400, False, False),
    ],
)
def test_webpush_errors(
    gateway: FakeGateway, vapid: str, status: int, gone: bool, retryable: bool
) -> None:
    sub = push_subscriber(gateway)
    gateway.script("push", ("status", status))
    with pytest.raises(TransportError) as info:
        get_transport("webpush").send(
            message("webpush", sub.endpoint, keys={"p256dh": sub.p256dh, "auth": sub.auth})
        )
    assert info.value.gone is gone and info.value.retryable is retryable


def test_webpush_without_vapid_keys_fails_for_good(settings: Any) -> None:
    settings.HUZHU_VAPID_PRIVATE_KEY = ""
    with pytest.raises(TransportError) as info:
        get_transport("webpush").send(
            message("webpush", "http://127.0.0.1:9/push/x", keys={"p256dh": "x", "auth": "y"})
        )
    assert not info.value.retryable


def test_email_uses_django_mail_with_a_stable_message_id(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "huzhu@example.org"
    transport = get_transport("email")
    first = transport.send(
        message(
            "email",
            "v@example.org",
            key="notification:3:email",
            link="https://huzhu.example.org/inbox/",
        )
    )
    second = transport.send(message("email", "v@example.org", key="notification:3:email"))
    assert first.provider_id == second.provider_id
    assert first.provider_id.endswith("@example.org>")
    sent = mail.outbox[0]
    assert sent.to == ["v@example.org"] and sent.subject == "明早核酸"
    assert sent.extra_headers["Message-ID"] == first.provider_id
    assert "https://huzhu.example.org/inbox/" in sent.body
