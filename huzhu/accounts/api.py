"""Accounts API: tokens, the current person."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema

from huzhu.accounts import auth as token_auth
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS
from huzhu.core.errors import DomainError

router = Router(tags=["accounts"])


class TokenIn(Schema):
    phone: str
    password: str


class TokenOut(Schema):
    token: str
    person_id: int


class MeOut(Schema):
    id: int
    name: str
    phone: str
    community_id: int | None
    roles: list[str]


@router.post("auth/token", auth=None, response={201: TokenOut, **ERRORS})
def create_token(request: HttpRequest, payload: TokenIn) -> tuple[int, TokenOut]:
    """Exchange phone number and password for a bearer token."""
    person = authenticate(request, phone=payload.phone, password=payload.password)
    if person is None:
        raise DomainError("accounts.login.failed", _("手机号或密码不正确。"), status=401)
    assert isinstance(person, Person)
    return 201, TokenOut(token=token_auth.issue_token(person), person_id=person.pk)


@router.get("me", response={200: MeOut, **ERRORS})
def me(request: HttpRequest) -> MeOut:
    """The signed-in person; their own phone number is shown in full."""
    person = request.user
    assert isinstance(person, Person)
    from huzhu.accounts import policy

    return MeOut(id=person.pk, name=person.name, phone=person.phone,
                 community_id=person.community_id, roles=sorted(policy.roles_of(person)))
