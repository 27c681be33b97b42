"""The notify router and what its operations share: the calling person, paging."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router

from huzhu.accounts.models import Person
from huzhu.core.api import PageMeta, page_bounds
from huzhu.notify.api.schemas import PageIn

router = Router(tags=["notify"])


def _actor(request: HttpRequest) -> Person:
    user = request.user
    if not isinstance(user, Person) or not user.is_authenticated:
        raise PermissionDenied
    return user


def _page(queryset: QuerySet[Any], paging: PageIn) -> tuple[list[Any], PageMeta]:
    start, end = page_bounds(paging.page, paging.page_size)
    total = queryset.count()
    rows = list(queryset[start:end]) if start < total else []
    return rows, PageMeta(page=paging.page, page_size=paging.page_size, total=total)
