"""Failed sign-ins are bounded per phone number and per client IP (page and API)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from conftest import PASSWORD, ROLE_PHONES
from huzhu.core import ratelimit

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _login(client, phone, password, ip="10.1.1.1"):
    return client.post(LOGIN, {"username": phone, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_phone_number(client, cast):
    phone = ROLE_PHONES["branch_head"]
    for _ in range(5):
        resp = _login(client, phone, "wrong-password")
        assert resp.status_code == 200
        assert "手机号或密码不正确" in resp.content.decode()
    resp = _login(client, phone, PASSWORD)  # even the right password waits
    assert resp.status_code == 429
    assert 0 < int(resp["Retry-After"]) <= 900
    body = resp.content.decode()
    assert "登录失败次数过多，请 15 分钟后再试。" in body
    assert resp.wsgi_request.user.is_anonymous
    # the same number written differently is the same number
    assert _login(client, "+86 " + phone, PASSWORD, ip="10.9.9.9").status_code == 429
    # somebody else from the same address is not locked out
    other = _login(client, ROLE_PHONES["resident"], PASSWORD)
    assert other.status_code == 302


def test_a_success_clears_the_phone_numbers_failures(client, cast):
    phone = ROLE_PHONES["volunteer"]
    for _ in range(4):
        assert _login(client, phone, "wrong-password").status_code == 200
    assert _login(client, phone, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert _login(client, phone, "wrong-password").status_code == 200
    assert _login(client, phone, PASSWORD).status_code == 302


def test_failures_from_one_address_lock_that_address(client, cast, settings):
    settings.HUZHU_LOGIN_MAX_FAILURES_PER_IP = 3
    for role in ("resident", "volunteer", "merchant"):
        assert _login(client, ROLE_PHONES[role], "nope", ip="10.2.2.2").status_code == 200
    blocked = _login(client, ROLE_PHONES["branch_head"], PASSWORD, ip="10.2.2.2")
    assert blocked.status_code == 429 and blocked["Retry-After"]
    assert _login(client, ROLE_PHONES["branch_head"], PASSWORD, ip="10.3.3.3").status_code == 302


def test_the_api_token_shares_the_limit(client, cast):
    phone = ROLE_PHONES["finance_officer"]
    body = {"phone": phone, "password": "wrong-password"}
    for _ in range(3):
        resp = client.post(TOKEN, body, content_type="application/json", REMOTE_ADDR="10.4.4.4")
        assert resp.status_code == 401
    for _ in range(2):  # the page's failures count for the same number
        assert _login(client, phone, "wrong-password", ip="10.4.4.4").status_code == 200
    resp = client.post(
        TOKEN,
        {"phone": phone, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="10.4.4.4",
    )
    assert resp.status_code == 429
    assert int(resp["Retry-After"]) > 0
    error = resp.json()["error"]
    assert error["code"] == "accounts.login.throttled"
    assert error["details"]["retry_after"] == int(resp["Retry-After"])


def test_the_lock_ends_with_the_window():
    limit = ratelimit.Limit("login-phone", "13900000001", max_failures=2, window=900)
    now = time.time()
    limit.fail(now)
    assert limit.retry_after(now) == 0
    limit.fail(now)
    assert 899 <= limit.retry_after(now) <= 900
    assert limit.retry_after(now + 600) == 300
    assert limit.retry_after(now + 900) == 0
    limit.reset()
    assert limit.retry_after(now) == 0


def test_counters_do_not_hold_the_phone_number(cast):
    limit = ratelimit.Limit("login-phone", "13900000001", max_failures=5, window=60)
    limit.fail(time.time())
    keys = list(cache._cache.keys())  # locmem: the stored keys
    assert keys and not any("13900000001" in k for k in keys)
