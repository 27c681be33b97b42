"""Production settings pass Django's deployment check; every response carries the CSP header and
no template needs inline script (issue 7)."""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import PASSWORD
from huzhu.core.middleware import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parents[3]


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HUZHU_", "DJANGO_")) and k != "DATABASE_URL"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "HUZHU_ENV": "production",
            "HUZHU_SECRET_KEY": secrets.token_urlsafe(50),
            "HUZHU_PII_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
            "HUZHU_PII_INDEX_KEY": secrets.token_urlsafe(32),
            "HUZHU_ALLOWED_HOSTS": "huzhu.example.org",
            "HUZHU_CSRF_TRUSTED_ORIGINS": "https://huzhu.example.org",
        }
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_is_clean_with_production_settings():
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_flags_development_settings():
    """The check is not vacuous: development settings (DEBUG, insecure cookies) are flagged."""
    env = _production_env(HUZHU_ENV="development", HUZHU_SECRET_KEY="")
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout  # DEBUG on


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HUZHU_SECRET_KEY", ""),
        ("HUZHU_SECRET_KEY", "dev-only-secret-key-do-not-use-in-production-0123456789abcdef"),
        ("HUZHU_PII_KEYS", ""),
        ("HUZHU_PII_INDEX_KEY", "dev-only-pii-index-key"),
    ],
)
def test_production_refuses_missing_or_development_keys(name, value):
    result = _manage(_production_env(**{name: value}), "check")
    assert result.returncode != 0
    assert name in result.stderr


def test_production_settings_values():
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER[0],"
        " s.X_FRAME_OPTIONS, s.SECURE_CONTENT_TYPE_NOSNIFF, s.ALLOWED_HOSTS)"
    )
    env = _production_env(HUZHU_HSTS_SECONDS="600", HUZHU_SSL_REDIRECT="false")
    result = _manage(env, "shell", "-v", "0", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "False",
        "True",
        "True",
        "True",
        "False",
        "600",
        "HTTP_X_FORWARDED_PROTO",
        "DENY",
        "True",
        "['huzhu.example.org']",
    ]


# --- Content-Security-Policy --------------------------------------------------------------


def _plain_paths(patterns: list[URLPattern | URLResolver], prefix: str = "") -> list[str]:
    """Every URL of the project that takes no parameter."""
    paths: list[str] = []
    for p in patterns:
        if p.pattern.regex.groups:
            continue
        route = str(p.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
        if re.search(r"[\\()\[\]*+?|{}]", route):
            continue
        if isinstance(p, URLResolver):
            paths += _plain_paths(p.url_patterns, prefix + route)
        else:
            paths.append("/" + prefix + route)
    return sorted(set(paths))


def test_policy_forbids_inline_script_and_framing():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'"


@pytest.mark.django_db
def test_every_page_carries_the_policy(client, cast):
    paths = _plain_paths(get_resolver().url_patterns)
    assert "/accounts/login/" in paths and len(paths) > 20
    missing: list[str] = []
    for who in (None, cast.branch_head):
        if who is not None:
            client.force_login(who)
        for path in paths:
            resp = client.get(path)
            if resp.headers.get("Content-Security-Policy") != CONTENT_SECURITY_POLICY:
                missing.append(
                    f"{path} ({resp.status_code}, {'anonymous' if who is None else who})"
                )
    assert not missing, missing
    # a 404, a 405 and a form post carry it too
    assert client.get("/no/such/page/")["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    client.logout()
    resp = client.post("/accounts/login/", {"username": "13800000007", "password": PASSWORD})
    assert resp.status_code == 302
    assert resp["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


_TEMPLATE_DIRS = [ROOT / "templates"]
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
_HANDLER_ATTR = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)


def test_templates_have_no_inline_script():
    """script-src 'self' would silently break an inline <script>, an on…= handler or a
    javascript: link: keep scripts in static/js."""
    found: list[str] = []
    for folder in _TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for pattern in (_INLINE_SCRIPT, _HANDLER_ATTR):
                for m in pattern.finditer(text):
                    found.append(f"{path.relative_to(ROOT)}: {m.group(0)[:60]}")
            if "javascript:" in text.lower():
                found.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert not found, found


_INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def test_templates_have_no_inline_style():
    """style-src 'self' ignores a <style> block or a style attribute: styles live in
    static/css."""
    found = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for folder in _TEMPLATE_DIRS
        for path in folder.rglob("*.html")
        for m in _INLINE_STYLE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found
    assert _INLINE_STYLE.search('<p style="color:red">') and _INLINE_STYLE.search("<style>")


def test_the_inline_script_check_finds_one():
    assert _INLINE_SCRIPT.search("<p>x</p><script>alert(1)</script>")
    assert _HANDLER_ATTR.search('<button onclick="go()">')
    assert not _INLINE_SCRIPT.search('<script src="/static/js/timebank.js" defer></script>')


_POST_FORM = re.compile(r"<form\b[^>]*\bmethod\s*=\s*\"?post[^>]*>", re.I)


def _forms_without_csrf(text: str) -> list[str]:
    missing = []
    for m in _POST_FORM.finditer(text):
        end = text.find("</form>", m.end())
        if "csrf_token" not in text[m.end() : end if end != -1 else None]:
            missing.append(m.group(0)[:80])
    return missing


def test_every_post_form_carries_a_csrf_token():
    found = [
        f"{path.relative_to(ROOT)}: {form}"
        for folder in _TEMPLATE_DIRS
        for path in folder.rglob("*.html")
        for form in _forms_without_csrf(path.read_text(encoding="utf-8"))
    ]
    assert not found, found
    assert _forms_without_csrf('<form method="post"><input name="x"></form>')
    assert not _forms_without_csrf('<form method="post">{% csrf_token %}</form>')
