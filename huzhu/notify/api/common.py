"""The notify router and what its operations share: the calling person, paging."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Router

from huzhu.accounts.models import Person

router = Router(tags=["notify"])


def _actor(request: HttpRequest) -> Person:
    user = request.user
    if not isinstance(user, Person) or not user.is_authenticated:
        raise PermissionDenied
    return user
