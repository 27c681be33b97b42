"""Login by phone number + password; API bearer tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from huzhu.accounts import pii
from huzhu.accounts.models import ApiToken, Person
from huzhu.core import clock

# A token's ``last_used_at`` is written at most once per this many minutes: a write (and its
# commit) on every API request would double the cost of a cheap request.
LAST_USED_EVERY_MINUTES = 5


class PhoneBackend(ModelBackend):
    """Authenticate with ``phone`` (or ``username``) and ``password``."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        phone: str | None = None,
        password: str | None = None,
        username: str | None = None,
        **kwargs: Any,
    ) -> Person | None:
        phone = phone or username
        if not phone or not password:
            return None
        try:
            person = Person.objects.get(phone_hash=pii.phone_index(phone))
        except Person.DoesNotExist:
            # Run the hasher anyway so that timing does not tell which phones exist.
            Person().set_password(password)
            return None
        if person.check_password(password) and self.user_can_authenticate(person):
            return person
        return None


def _hash_token(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_token(person: Person, name: str = "api") -> str:
    """Create a token and return its key; only the hash is stored."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(person=person, name=name, key_hash=_hash_token(key))
    return key


def person_for_token(key: str) -> Person | None:
    """The active person of a valid, unrevoked token, or None.

    ``last_used_at`` is coarse: it is written only when it is empty or older than
    ``LAST_USED_EVERY_MINUTES`` (5) minutes, so most requests read the token and write nothing.
    """
    try:
        token = ApiToken.objects.select_related("person").get(
            key_hash=_hash_token(key), revoked_at__isnull=True
        )
    except ApiToken.DoesNotExist:
        return None
    if not token.person.is_active:
        return None
    now = clock.now()
    every = dt.timedelta(minutes=LAST_USED_EVERY_MINUTES)
    if token.last_used_at is None or now - token.last_used_at >= every:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.person
