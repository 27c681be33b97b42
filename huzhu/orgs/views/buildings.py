"""Building and household pages, including the audited reveal of a household's address."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.actions import reveal_household_address
from huzhu.accounts.models import Household, Person
from huzhu.orgs import actions
from huzhu.orgs.forms import BuildingForm, HouseholdForm, SearchForm
from huzhu.orgs.views._common import (
    _actor,
    _building,
    _community,
    _coords,
    _done,
    _household,
    _page,
    _run,
)


@login_required
def building_create(request: HttpRequest, community_pk: int) -> HttpResponse:
    actor = _actor(request)
    community = _community(community_pk)
    policy.require(actor, "orgs.manage_building", community)
    form = BuildingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        building = _run(
            form,
            lambda: actions.create_building(
                actor=actor,
                community=community,
                name=data["name"],
                floors=data["floors"],
                **_coords(data),
            ),
        )
        if building is not None:
            return _done(
                request,
                _("已新建楼栋“%(name)s”。") % {"name": building.name},
                reverse("orgs:building_detail", args=[building.pk]),
            )
    return render(
        request,
        "orgs/form.html",
        {
            "form": form,
            "title": _("在%(community)s新建楼栋") % {"community": str(community)},
            "back": reverse("orgs:community_detail", args=[community.pk]),
        },
    )


@login_required
def building_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    building = _building(pk)
    policy.require(actor, "orgs.view_building", building)
    search = SearchForm(request.GET)
    term = search.term()
    households = building.households.defer("address_detail").annotate(
        resident_count=Count("members")
    )
    if term:
        households = households.filter(room__icontains=term)
    return render(
        request,
        "orgs/building_detail.html",
        {
            "building": building,
            "community": building.community,
            "page": _page(request, households.order_by("room", "id")),
            "search": search,
            "term": term,
            "can_view_community": policy.can(actor, "orgs.view_community", building.community),
            "can_edit": policy.can(actor, "orgs.manage_building", building),
            "can_add_household": policy.can(actor, "orgs.manage_household", building),
            "can_settings": policy.can(actor, "core.edit_settings", building),
        },
    )


@login_required
def building_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    building = _building(pk)
    policy.require(actor, "orgs.manage_building", building)
    initial = {f: getattr(building, f) for f in BuildingForm.base_fields}
    form = BuildingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _run(
            form,
            lambda: actions.update_building(
                actor=actor,
                building=building,
                name=data["name"],
                floors=data["floors"],
                **_coords(data),
            ),
        )
        if saved is not None:
            return _done(
                request, _("已保存楼栋信息。"), reverse("orgs:building_detail", args=[saved.pk])
            )
    return render(
        request,
        "orgs/form.html",
        {
            "form": form,
            "title": _("编辑楼栋：%(name)s") % {"name": building.name},
            "back": reverse("orgs:building_detail", args=[building.pk]),
        },
    )


@login_required
def household_create(request: HttpRequest, building_pk: int) -> HttpResponse:
    actor = _actor(request)
    building = _building(building_pk)
    policy.require(actor, "orgs.manage_household", building)
    form = HouseholdForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        household = _run(
            form,
            lambda: actions.create_household(
                actor=actor,
                building=building,
                room=data["room"],
                floor=data["floor"],
                address_detail=data["address_detail"],
            ),
        )
        if household is not None:
            return _done(
                request,
                _("已新建住户 %(room)s。") % {"room": household.room},
                reverse("orgs:building_detail", args=[building.pk]),
            )
    return render(
        request,
        "orgs/form.html",
        {
            "form": form,
            "title": _("在%(building)s新建住户") % {"building": building.name},
            "back": reverse("orgs:building_detail", args=[building.pk]),
        },
    )


def _household_page(
    request: HttpRequest, household: Household, revealed: str | None = None
) -> HttpResponse:
    actor = _actor(request)
    residents = Person.objects.filter(household=household).count()
    response = render(
        request,
        "orgs/household_detail.html",
        {
            "household": household,
            "building": household.building,
            "residents": residents,
            "revealed": revealed,
            "can_reveal": policy.can(actor, "accounts.reveal_pii", household),
            "can_edit": policy.can(actor, "orgs.manage_household", household),
        },
    )
    if revealed is not None:
        add_never_cache_headers(response)
    return response


@login_required
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The household page; the address detail is shown only after the reveal POST."""
    household = _household(pk)
    policy.require(_actor(request), "orgs.view_building", household)
    return _household_page(request, household)


@require_POST
@login_required
def household_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the address detail once, on this response only; the action audits the reveal."""
    actor = _actor(request)
    household = _household(pk)
    policy.require(actor, "accounts.reveal_pii", household)
    address = reveal_household_address(actor=actor, household=household)
    return _household_page(request, household, revealed=address)


@login_required
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    household = _household(pk)
    policy.require(actor, "orgs.manage_household", household)
    form = HouseholdForm(
        request.POST or None,
        editing=True,
        initial={"room": household.room, "floor": household.floor},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _run(
            form,
            lambda: actions.update_household(
                actor=actor,
                household=household,
                room=data["room"],
                floor=data["floor"],
                address_detail=data["address_detail"] or None,
            ),
        )
        if saved is not None:
            return _done(
                request,
                _("已保存住户 %(room)s。") % {"room": saved.room},
                reverse("orgs:household_detail", args=[saved.pk]),
            )
    return render(
        request,
        "orgs/form.html",
        {
            "form": form,
            "title": _("编辑住户：%(building)s %(room)s")
            % {"building": household.building.name, "room": household.room},
            "back": reverse("orgs:household_detail", args=[household.pk]),
        },
    )
