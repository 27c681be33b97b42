"""Community pages: the list of what a person may see, create, detail, edit."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.orgs import actions
from huzhu.orgs.forms import CommunityCreateForm, CommunityForm, SearchForm
from huzhu.orgs.models import Alliance, Building, Community, Group
from huzhu.orgs.views._common import _actor, _community, _coords, _done, _page, _run


@login_required
def community_list(request: HttpRequest) -> HttpResponse:
    """Communities the person may view, plus their own buildings and groups elsewhere."""
    actor = _actor(request)
    communities = policy.visible_to(actor, "orgs.view_community", Community.objects.all())
    community_ids = communities.values("pk")
    page = _page(
        request,
        communities.select_related("alliance")
        .annotate(building_count=Count("buildings"))
        .order_by("alliance_id", "id"),
    )
    buildings = list(
        policy.visible_to(actor, "orgs.view_building", Building.objects.all())
        .exclude(community__in=community_ids)
        .select_related("community")
        .annotate(household_count=Count("households"))
    )
    groups = list(
        policy.visible_to(actor, "orgs.view_group", Group.objects.all())
        .exclude(community__in=community_ids)
        .select_related("community", "parent")
    )
    if not page.paginator.count and not buildings and not groups:
        raise PermissionDenied("orgs.view_community")
    can_create = policy.visible_to(actor, "orgs.manage_community", Alliance.objects.all()).exists()
    return render(
        request,
        "orgs/community_list.html",
        {"page": page, "buildings": buildings, "groups": groups, "can_create": can_create},
    )


@login_required
def community_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    alliances = policy.visible_to(actor, "orgs.manage_community", Alliance.objects.all())
    if not alliances.exists():
        raise PermissionDenied("orgs.manage_community")
    form = CommunityCreateForm(request.POST or None, alliances=alliances)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        community = _run(
            form,
            lambda: actions.create_community(
                actor=actor,
                alliance=data["alliance"],
                name=data["name"],
                name_en=data["name_en"],
                district=data["district"],
                address=data["address"],
                **_coords(data),
            ),
        )
        if community is not None:
            return _done(
                request,
                _("已新建社区“%(name)s”。") % {"name": str(community)},
                reverse("orgs:community_detail", args=[community.pk]),
            )
    return render(
        request,
        "orgs/form.html",
        {"form": form, "title": _("新建社区"), "back": reverse("orgs:community_list")},
    )


@login_required
def community_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    community = _community(pk)
    policy.require(actor, "orgs.view_community", community)
    search = SearchForm(request.GET)
    term = search.term()
    buildings = community.buildings.annotate(household_count=Count("households"))
    if term:
        buildings = buildings.filter(name__icontains=term)
    return render(
        request,
        "orgs/community_detail.html",
        {
            "community": community,
            "page": _page(request, buildings.order_by("id")),
            "search": search,
            "term": term,
            "can_edit": policy.can(actor, "orgs.manage_community", community),
            "can_add_building": policy.can(actor, "orgs.manage_building", community),
            "can_view_groups": policy.can(actor, "orgs.view_group", community),
            "can_settings": policy.can(actor, "core.edit_settings", community),
        },
    )


@login_required
def community_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    community = _community(pk)
    policy.require(actor, "orgs.manage_community", community)
    initial = {f: getattr(community, f) for f in CommunityForm.base_fields}
    form = CommunityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {f: data[f] for f in CommunityForm.base_fields}
        saved = _run(
            form, lambda: actions.update_community(actor=actor, community=community, **changes)
        )
        if saved is not None:
            return _done(
                request, _("已保存社区信息。"), reverse("orgs:community_detail", args=[saved.pk])
            )
    return render(
        request,
        "orgs/form.html",
        {
            "form": form,
            "title": _("编辑社区：%(name)s") % {"name": str(community)},
            "back": reverse("orgs:community_detail", args=[community.pk]),
        },
    )
