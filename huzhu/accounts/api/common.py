"""The accounts router and what its operations share: the calling person, and a person
fetched within the caller's scope."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router

from huzhu.accounts import policy
from huzhu.accounts.models import Person

router = Router(tags=["accounts"])


def _actor(request: HttpRequest) -> Person:
    user = request.user
    if not isinstance(user, Person) or not user.is_authenticated:
        raise PermissionDenied
    return user


def _people_qs() -> Any:
    return Person.objects.select_related("community__alliance", "household__building__community")


def _person_in_scope(actor: Person, pk: int, perm: str) -> Person:
    person: Person = get_object_or_404(_people_qs(), pk=pk)
    policy.require(actor, perm, person)
    return person
