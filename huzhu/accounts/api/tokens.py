"""Exchanging phone number and password for a bearer token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja.responses import Status as Reply

from huzhu.accounts import auth as token_auth
from huzhu.accounts.api.common import router
from huzhu.accounts.api.schemas import TokenIn, TokenOut
from huzhu.accounts.models import Person
from huzhu.accounts.pii import normalize_phone
from huzhu.core import ratelimit
from huzhu.core.admission import BUSY
from huzhu.core.api import ERRORS
from huzhu.core.errors import DomainError


@router.post(
    "auth/token",
    auth=None,
    response={201: TokenOut, **ERRORS, **BUSY},
    operation_id="huzhu_accounts_api_create_token",
)
def create_token(request: HttpRequest, payload: TokenIn) -> Reply[TokenOut] | HttpResponse:
    """Exchange phone number and password for a bearer token. Failed attempts are bounded per
    phone number and per client like the sign-in page's: past them 429 with ``Retry-After``."""
    limits = ratelimit.login_limits(request, normalize_phone(payload.phone))
    wait = ratelimit.blocked(limits)
    if wait:
        return ratelimit.too_many_json(wait)
    person = authenticate(request, phone=payload.phone, password=payload.password)
    if person is None:
        ratelimit.record_failure(limits)
        raise DomainError("accounts.login.failed", _("手机号或密码不正确。"), status=401)
    assert isinstance(person, Person)
    for limit in limits:
        if limit.scope == "login-phone":
            limit.reset()
    return Reply(201, TokenOut(token=token_auth.issue_token(person), person_id=person.pk))
