"""The time bank router and what its operations share: the calling person."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Router

from huzhu.accounts.models import Person

router = Router(tags=["timebank"])


def actor_of(request: HttpRequest) -> Person:
    user = request.user
    if not isinstance(user, Person) or not user.is_authenticated:
        raise PermissionDenied
    return user
