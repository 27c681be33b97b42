"""The one settings module of huzhu. Every deployment choice comes from the environment.

Each variable is listed with its default in docs/configuration.md and .env.example.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """The variable's value; unset and empty both mean the default."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


# development | production. Production refuses to start with development keys.
HUZHU_ENV = env("HUZHU_ENV", "development")
PRODUCTION = HUZHU_ENV == "production"

DEBUG = env_bool("HUZHU_DEBUG", not PRODUCTION)

# Development-only fallbacks: fixed so that a demo database stays readable across restarts.
_DEV_SECRET = "dev-only-secret-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
_DEV_PII_KEYS = "dev1:ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="
_DEV_PII_INDEX_KEY = "dev-only-pii-index-key"

SECRET_KEY = env("HUZHU_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
# Comma-separated "id:base64key" pairs, the first one encrypts, all of them decrypt.
HUZHU_PII_KEYS = env("HUZHU_PII_KEYS", "" if PRODUCTION else _DEV_PII_KEYS)
# Secret for the keyed hash (blind index) that lets us look a person up by phone number.
HUZHU_PII_INDEX_KEY = env("HUZHU_PII_INDEX_KEY", "" if PRODUCTION else _DEV_PII_INDEX_KEY)

if PRODUCTION:
    for _name, _value in (
        ("HUZHU_SECRET_KEY", SECRET_KEY),
        ("HUZHU_PII_KEYS", HUZHU_PII_KEYS),
        ("HUZHU_PII_INDEX_KEY", HUZHU_PII_INDEX_KEY),
    ):
        if not _value:
            raise ImproperlyConfigured(f"{_name} must be set when HUZHU_ENV=production")
    for _name, _value, _dev in (
        ("HUZHU_SECRET_KEY", SECRET_KEY, _DEV_SECRET),
        ("HUZHU_PII_KEYS", HUZHU_PII_KEYS, _DEV_PII_KEYS),
        ("HUZHU_PII_INDEX_KEY", HUZHU_PII_INDEX_KEY, _DEV_PII_INDEX_KEY),
    ):
        if _value == _dev:
            raise ImproperlyConfigured(f"{_name} is the development key; set your own")

ALLOWED_HOSTS = [
    h.strip() for h in env("HUZHU_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in env("HUZHU_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # serves the API docs' assets itself instead of from a CDN
    "huzhu.core",
    "huzhu.orgs",
    "huzhu.accounts",
    "huzhu.audit",
    "huzhu.notify",
    "huzhu.timebank",
    "huzhu.needs",
    "huzhu.lockdown",
    "huzhu.documents",
    "huzhu.helpdesk",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "huzhu.core.middleware.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "huzhu.core.middleware.RequestContextMiddleware",
    "huzhu.core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "huzhu.core.context_processors.ui",
            ],
        },
    }
]

# SQLite file by default; DATABASE_URL (postgres://...) selects PostgreSQL.
_default_sqlite = f"sqlite:///{BASE_DIR / 'var' / 'huzhu.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", _default_sqlite), conn_max_age=int(env("HUZHU_DB_CONN_MAX_AGE", "0"))
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.Person"
AUTHENTICATION_BACKENDS = ["huzhu.accounts.auth.PhoneBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese is the source language of the UI; English is complete.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("英文"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env("HUZHU_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("HUZHU_STATIC_ROOT", str(BASE_DIR / "var" / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("HUZHU_MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Roster uploads and other files: refuse anything larger (bytes).
HUZHU_MAX_UPLOAD_BYTES = int(env("HUZHU_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = HUZHU_MAX_UPLOAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = HUZHU_MAX_UPLOAD_BYTES

SESSION_COOKIE_SECURE = env_bool("HUZHU_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("HUZHU_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("HUZHU_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Cache: rate-limit counters (login attempts). The default is per process ("locmem://"); with
# several server processes use a shared one: "file:///var/lib/huzhu/cache" (one host) or
# "redis://host:6379/0" (needs the redis package).
HUZHU_CACHE_URL = env("HUZHU_CACHE_URL", "locmem://")
if HUZHU_CACHE_URL.startswith("locmem://"):
    _cache: dict[str, Any] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
elif HUZHU_CACHE_URL.startswith("file://"):
    _cache = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": HUZHU_CACHE_URL.removeprefix("file://"),
    }
elif HUZHU_CACHE_URL.startswith(("redis://", "rediss://")):
    _cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": HUZHU_CACHE_URL}
else:
    raise ImproperlyConfigured("HUZHU_CACHE_URL must start with locmem://, file:// or redis://")
CACHES = {"default": _cache}
# Failed sign-ins (page and API) allowed per phone number and per client IP within the window;
# past them the sign-in answers 429 with Retry-After until the window ends.
HUZHU_LOGIN_MAX_FAILURES_PER_PHONE = int(env("HUZHU_LOGIN_MAX_FAILURES_PER_PHONE", "5"))
HUZHU_LOGIN_MAX_FAILURES_PER_IP = int(env("HUZHU_LOGIN_MAX_FAILURES_PER_IP", "30"))
HUZHU_LOGIN_WINDOW_SECONDS = int(env("HUZHU_LOGIN_WINDOW_SECONDS", "900"))

# Background tasks (django-tasks). "immediate" runs a task in the web process right after the
# transaction commits (the demo, the tests); "database" queues it for `manage.py db_worker`.
HUZHU_TASKS_BACKEND = env("HUZHU_TASKS_BACKEND", "immediate")
_TASK_BACKENDS = {
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
if HUZHU_TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured("HUZHU_TASKS_BACKEND must be immediate or database")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[HUZHU_TASKS_BACKEND]}}
# Parallel database connections writing one broadcast's receipts (PostgreSQL only).
HUZHU_FANOUT_WORKERS = int(env("HUZHU_FANOUT_WORKERS", "2"))
# Ledger postings in one round trip through the PL/pgSQL function timebank_post (PostgreSQL).
HUZHU_LEDGER_FASTPATH = env_bool("HUZHU_LEDGER_FASTPATH", True)
# Postings outside a caller's transaction are written in batches by one writer thread per
# process, one commit per batch (huzhu.timebank.groupcommit; PostgreSQL, with the fast path).
HUZHU_LEDGER_GROUP_COMMIT = env_bool("HUZHU_LEDGER_GROUP_COMMIT", True)

EMAIL_BACKEND = env("HUZHU_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# Number of rows per page in lists.
HUZHU_PAGE_SIZE = int(env("HUZHU_PAGE_SIZE", "25"))

# Every handler carries the PII filter (huzhu.core.logging.MaskPIIFilter): phone and ID numbers
# are masked before a record is written anywhere. Django's own handlers (error mails to ADMINS,
# runserver's request lines) are redefined here so that they carry it too.
HUZHU_LOG_LEVEL = env("HUZHU_LOG_LEVEL", "WARNING").upper()
# Also write the project's and django.request's records (at HUZHU_LOG_FILE_LEVEL) to this file;
# `make test` sets it and scans the file afterwards (python -m huzhu.core.logscan).
HUZHU_LOG_FILE = env("HUZHU_LOG_FILE", "")
HUZHU_LOG_FILE_LEVEL = env("HUZHU_LOG_FILE_LEVEL", "DEBUG").upper()
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "pii": {"()": "huzhu.core.logging.MaskPIIFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["pii"], "level": HUZHU_LOG_LEVEL},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "pii"],
            "level": "ERROR",
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["pii"],
            "level": "INFO",
        },
    },
    "root": {"handlers": ["console"], "level": HUZHU_LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
if HUZHU_LOG_FILE:
    Path(HUZHU_LOG_FILE).parent.mkdir(parents=True, exist_ok=True)
    LOGGING["handlers"]["file"] = {
        "class": "logging.FileHandler",
        "filename": HUZHU_LOG_FILE,
        "formatter": "plain",
        "filters": ["pii"],
        "level": HUZHU_LOG_FILE_LEVEL,
        "encoding": "utf-8",
    }
    LOGGING["root"]["handlers"].append("file")
    LOGGING["loggers"]["huzhu"] = {"level": HUZHU_LOG_FILE_LEVEL}
    LOGGING["loggers"]["django.request"] = {"level": HUZHU_LOG_FILE_LEVEL}
# Error reports (admin mails, the debug page) hide PII-bearing fields and mask numbers.
DEFAULT_EXCEPTION_REPORTER_FILTER = "huzhu.core.logging.PIIExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "huzhu.core.logging.PIIExceptionReporter"

# Notifications (huzhu.notify) ------------------------------------------------------------------
# External channels of the notify app; see docs/configuration.md. Sending happens in the
# `send_notifications` sweeper and the tasks, never inside the action that caused a message.
# SMS gateway: "console" logs a masked line (and appends it to HUZHU_SMS_FILE when set),
# "aliyun" is Alibaba Cloud SMS (dysmsapi), "tencent" is Tencent Cloud SMS (API 3.0).
HUZHU_SMS_PROVIDER = env("HUZHU_SMS_PROVIDER", "console")
if HUZHU_SMS_PROVIDER not in ("console", "aliyun", "tencent"):
    raise ImproperlyConfigured("HUZHU_SMS_PROVIDER must be console, aliyun or tencent")
HUZHU_SMS_FILE = env("HUZHU_SMS_FILE", "")
# Empty means the provider's public endpoint.
HUZHU_SMS_ENDPOINT = env("HUZHU_SMS_ENDPOINT", "")
# Empty means cn-hangzhou (aliyun) or ap-guangzhou (tencent).
HUZHU_SMS_REGION = env("HUZHU_SMS_REGION", "")
HUZHU_SMS_ACCESS_KEY_ID = env("HUZHU_SMS_ACCESS_KEY_ID", "")
HUZHU_SMS_ACCESS_KEY_SECRET = env("HUZHU_SMS_ACCESS_KEY_SECRET", "")
HUZHU_SMS_SIGN_NAME = env("HUZHU_SMS_SIGN_NAME", "")
HUZHU_SMS_TEMPLATE = env("HUZHU_SMS_TEMPLATE", "")
HUZHU_SMS_SDK_APP_ID = env("HUZHU_SMS_SDK_APP_ID", "")
HUZHU_WECOM_BASE_URL = env("HUZHU_WECOM_BASE_URL", "https://qyapi.weixin.qq.com")
HUZHU_VAPID_PUBLIC_KEY = env("HUZHU_VAPID_PUBLIC_KEY", "")
HUZHU_VAPID_PRIVATE_KEY = env("HUZHU_VAPID_PRIVATE_KEY", "")
HUZHU_VAPID_SUBJECT = env("HUZHU_VAPID_SUBJECT", "")
HUZHU_NOTIFY_TIMEOUT_SECONDS = float(env("HUZHU_NOTIFY_TIMEOUT_SECONDS", "5"))
HUZHU_NOTIFY_MAX_ATTEMPTS = int(env("HUZHU_NOTIFY_MAX_ATTEMPTS", "4"))
DEFAULT_FROM_EMAIL = env("HUZHU_DEFAULT_FROM_EMAIL", "huzhu@localhost")
EMAIL_TIMEOUT = HUZHU_NOTIFY_TIMEOUT_SECONDS
