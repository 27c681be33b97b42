"""Helpers shared by the org-tree pages: the actor, paging, running an action, fetching a node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person
from huzhu.core.errors import DomainError
from huzhu.orgs.forms import add_domain_error
from huzhu.orgs.models import Building, Community, Group, JobDescription

T = TypeVar("T")


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> Page[Any]:
    return Paginator(queryset, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))


def _run(form: Any, call: Callable[[], T]) -> T | None:
    """Call an action; a DomainError becomes a form error and None is returned."""
    try:
        return call()
    except DomainError as exc:
        add_domain_error(form, exc)
        return None


def _done(request: HttpRequest, message: str, url: str) -> HttpResponseRedirect:
    messages.success(request, message)
    return redirect(url)


def _community(pk: int) -> Community:
    return get_object_or_404(Community.objects.select_related("alliance"), pk=pk)


def _building(pk: int) -> Building:
    return get_object_or_404(Building.objects.select_related("community__alliance"), pk=pk)


def _household(pk: int) -> Household:
    return get_object_or_404(
        Household.objects.select_related(
            "building__community__alliance", "community__alliance"
        ).defer("address_detail"),
        pk=pk,
    )


def _group(pk: int) -> Group:
    return get_object_or_404(
        Group.objects.select_related("community__alliance", "building", "parent"), pk=pk
    )


def _job(pk: int) -> JobDescription:
    return get_object_or_404(
        JobDescription.objects.select_related("community__alliance", "group__community"), pk=pk
    )


def _coords(data: dict[str, Any]) -> dict[str, Any]:
    return {"latitude": data.get("latitude"), "longitude": data.get("longitude")}


def _manageable_groups(actor: Person, community: Community) -> tuple[bool, QuerySet[Group]]:
    """(may manage every group of the community, the groups the actor may manage there).

    A group leader manages their group and its sub-groups; without any of these the caller
    raises through policy.require (404 outside scope, 403 inside).
    """
    base = Group.objects.filter(community=community).select_related("parent")
    if policy.can(actor, "orgs.manage_group", community):
        return True, base
    groups = policy.visible_to(actor, "orgs.manage_group", base)
    if not groups.exists():
        policy.require(actor, "orgs.manage_group", community)
    return False, groups


def _initial_pk(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() else None
