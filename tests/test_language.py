"""Chinese first: which language a page and the API answer in."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_pages_default_to_chinese_whatever_the_browser_asks(client: Any) -> None:
    resp = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert resp["Content-Language"] == "zh-hans"
    assert "登录" in resp.content.decode()


def test_the_language_switch_sets_english_and_back(client: Any) -> None:
    resp = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert resp.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/accounts/login/").content.decode()
    assert "Log in" in page and "登录" not in page
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "登录" in client.get("/accounts/login/").content.decode()


def test_a_signed_in_person_gets_their_preferred_language(client: Any, cast: Any) -> None:
    cast.volunteer.preferred_language = "en"
    cast.volunteer.save()
    client.force_login(cast.volunteer)
    resp = client.get("/")
    assert resp["Content-Language"] == "en"
    assert "Hello" in resp.content.decode()


def test_large_text_mode_is_a_switch_kept_on_the_profile(client: Any, cast: Any) -> None:
    client.force_login(cast.resident)
    resp = client.post("/ui/large-text/", {"next": "/"})
    assert resp.status_code == 302 and resp.cookies["huzhu_large_text"].value == "1"
    assert 'class="large-text"' in client.get("/").content.decode()
    cast.resident.refresh_from_db()
    assert cast.resident.large_text is True
    client.post("/ui/large-text/", {"next": "https://evil.example/"})
    assert 'class="large-text"' not in client.get("/").content.decode()


def test_the_api_follows_accept_language(client: Any) -> None:
    zh = client.get("/api/v1/me")
    en = client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en")
    assert zh.status_code == en.status_code == 401
    assert zh.json()["error"]["message"] != en.json()["error"]["message"]
    assert "登录" in zh.json()["error"]["message"]
