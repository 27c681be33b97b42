"""Pages of the org tree: communities, buildings, households, groups, job descriptions, settings.

Every view: fetch in scope → policy.require (404 outside scope, 403 without the permission) →
parse the form → call the action → redirect with a message. Rules live in huzhu.orgs.actions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.actions import reveal_household_address
from huzhu.accounts.models import Household, Person, Role, RoleGrant
from huzhu.core.errors import DomainError
from huzhu.core.registry import REGISTRY
from huzhu.orgs import actions
from huzhu.orgs.forms import (
    BuildingForm,
    CommunityCreateForm,
    CommunityForm,
    GroupCreateForm,
    GroupForm,
    HouseholdForm,
    JobForm,
    SearchForm,
    SettingForm,
    add_domain_error,
)
from huzhu.orgs.models import Alliance, Building, Community, Group, JobDescription
from huzhu.orgs.queries import effective_settings

T = TypeVar("T")

GROUP_ROLES = (Role.GROUP_MEMBER, Role.GROUP_LEADER)
ROLE_LABELS: dict[str, Any] = dict(Role.choices)


# --- helpers -------------------------------------------------------------------------------


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


# --- communities ---------------------------------------------------------------------------


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


# --- buildings and households --------------------------------------------------------------


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


# --- groups and job descriptions -----------------------------------------------------------


def _group_tree(groups: list[Group]) -> list[dict[str, Any]]:
    nodes: dict[int, dict[str, Any]] = {g.pk: {"group": g, "children": []} for g in groups}
    roots: list[dict[str, Any]] = []
    for g in groups:
        parent = nodes.get(g.parent_id) if g.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(nodes[g.pk])
    return roots


def _with_counts(groups: QuerySet[Group]) -> QuerySet[Group]:
    return groups.annotate(
        member_count=Count(
            "rolegrant",
            distinct=True,
            filter=Q(rolegrant__revoked_at__isnull=True, rolegrant__role__in=GROUP_ROLES),
        ),
        job_count=Count("job_descriptions", distinct=True),
    )


def _jobs(queryset: QuerySet[JobDescription]) -> list[dict[str, Any]]:
    return [
        {"job": j, "role_label": ROLE_LABELS.get(j.role, j.role)}
        for j in queryset.select_related("group")
    ]


@login_required
def group_list(request: HttpRequest, community_pk: int) -> HttpResponse:
    """The group tree of a community and its job descriptions."""
    actor = _actor(request)
    community = _community(community_pk)
    policy.require(actor, "orgs.view_group", community)
    groups = list(_with_counts(community.groups.select_related("building")).order_by("id"))
    manage_all = policy.can(actor, "orgs.manage_group", community)
    return render(
        request,
        "orgs/group_list.html",
        {
            "community": community,
            "tree": _group_tree(groups),
            "jobs": _jobs(community.job_descriptions.order_by("id")),
            "can_manage": manage_all,
            "can_view_community": policy.can(actor, "orgs.view_community", community),
        },
    )


@login_required
def group_create(request: HttpRequest, community_pk: int) -> HttpResponse:
    actor = _actor(request)
    community = _community(community_pk)
    manage_all, parents = _manageable_groups(actor, community)
    form = GroupCreateForm(
        request.POST or None,
        parents=parents,
        buildings=community.buildings.all(),
        parent_required=not manage_all,
        initial={"parent": _initial_pk(request, "parent")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        group = _run(
            form,
            lambda: actions.create_group(
                actor=actor,
                community=community,
                name=data["name"],
                name_en=data["name_en"],
                parent=data["parent"],
                building=data["building"],
                description=data["description"],
            ),
        )
        if group is not None:
            return _done(
                request,
                _("已新建职能组“%(name)s”。") % {"name": str(group)},
                reverse("orgs:group_detail", args=[group.pk]),
            )
    back = (
        reverse("orgs:group_list", args=[community.pk])
        if manage_all
        else reverse("orgs:community_list")
    )
    return render(
        request,
        "orgs/form.html",
        {
            "form": form,
            "title": _("在%(community)s新建职能组") % {"community": str(community)},
            "back": back,
        },
    )


@login_required
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    group = _group(pk)
    policy.require(actor, "orgs.view_group", group)
    members = [
        {"person": g.person, "role_label": ROLE_LABELS.get(g.role, g.role), "role": g.role}
        for g in RoleGrant.objects.active()
        .filter(group=group, role__in=GROUP_ROLES)
        .select_related("person")
        .order_by("-role", "person__name", "id")
    ]
    ancestors = list(reversed(group.ancestors()))
    return render(
        request,
        "orgs/group_detail.html",
        {
            "group": group,
            "community": group.community,
            "ancestors": ancestors,
            "members": members,
            "children": list(_with_counts(group.children.all()).order_by("id")),
            "jobs": _jobs(group.job_descriptions.order_by("id")),
            "can_manage": policy.can(actor, "orgs.manage_group", group),
            "can_view_list": policy.can(actor, "orgs.view_group", group.community),
        },
    )


@login_required
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    group = _group(pk)
    policy.require(actor, "orgs.manage_group", group)
    form = GroupForm(
        request.POST or None,
        initial={"name": group.name, "name_en": group.name_en, "description": group.description},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _run(
            form,
            lambda: actions.update_group(
                actor=actor,
                group=group,
                name=data["name"],
                name_en=data["name_en"],
                description=data["description"],
            ),
        )
        if saved is not None:
            return _done(
                request, _("已保存职能组。"), reverse("orgs:group_detail", args=[saved.pk])
            )
    return render(
        request,
        "orgs/form.html",
        {
            "form": form,
            "title": _("编辑职能组：%(name)s") % {"name": str(group)},
            "back": reverse("orgs:group_detail", args=[group.pk]),
        },
    )


def _job_form(
    request: HttpRequest, actor: Person, community: Community, job: JobDescription | None
) -> HttpResponse:
    manage_all, groups = _manageable_groups(actor, community)
    if job is not None:
        initial: dict[str, Any] = {
            f: getattr(job, f) for f in ("role", "title", "purpose", "duties", "workflow", "howto")
        }
        initial["group"] = job.group_id
    else:
        initial = {"group": _initial_pk(request, "group")}
    form = JobForm(
        request.POST or None, groups=groups, group_required=not manage_all, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _run(
            form,
            lambda: actions.save_job_description(
                actor=actor,
                community=community,
                title=data["title"],
                purpose=data["purpose"],
                duties=data["duties"],
                workflow=data["workflow"],
                howto=data["howto"],
                group=data["group"],
                role=data["role"],
                job=job,
            ),
        )
        if saved is not None:
            return _done(
                request,
                _("已保存岗位说明书“%(title)s”。") % {"title": saved.title},
                reverse("orgs:job_detail", args=[saved.pk]),
            )
    if job is not None:
        title = _("编辑岗位说明书：%(title)s") % {"title": job.title}
        back = reverse("orgs:job_detail", args=[job.pk])
    else:
        title = _("新建岗位说明书")
        back = (
            reverse("orgs:group_list", args=[community.pk])
            if manage_all
            else reverse("orgs:community_list")
        )
    return render(request, "orgs/form.html", {"form": form, "title": title, "back": back})


@login_required
def job_create(request: HttpRequest, community_pk: int) -> HttpResponse:
    actor = _actor(request)
    community = _community(community_pk)
    return _job_form(request, actor, community, None)


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    job = _job(pk)
    policy.require(actor, "orgs.view_group", job.group or job.community)
    return render(
        request,
        "orgs/job_detail.html",
        {
            "job": job,
            "community": job.community,
            "role_label": ROLE_LABELS.get(job.role, job.role),
            "can_manage": policy.can(actor, "orgs.manage_group", job.group or job.community),
        },
    )


@login_required
def job_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    job = _job(pk)
    policy.require(actor, "orgs.manage_group", job.group or job.community)
    return _job_form(request, actor, job.community, job)


# --- settings-as-data ----------------------------------------------------------------------


def _settings_page(
    request: HttpRequest, node: Community | Building, url: str, context: dict[str, Any]
) -> HttpResponse:
    actor = _actor(request)
    policy.require(actor, "core.edit_settings", node)
    errors: dict[str, str] = {}
    submitted: dict[str, str] = {}
    if request.method == "POST":
        form = SettingForm(request.POST)
        if form.is_valid():
            key = form.cleaned_data["key"]
            value = "" if request.POST.get("clear") else form.cleaned_data["value"]
            try:
                saved = actions.set_setting(actor=actor, node=node, key=key, value=value)
            except DomainError as exc:
                errors[key] = str(exc.message)
                submitted[key] = value
            else:
                message = _("已恢复为继承的值。") if saved is None else _("已保存设置。")
                return _done(request, message, f"{url}#setting-{key}")
        else:
            key = str(request.POST.get("key", ""))
            errors[key] = " ".join(str(e) for errs in form.errors.values() for e in errs)
            submitted[key] = str(request.POST.get("value", ""))[:64]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in effective_settings(node):
        key = row["key"]
        row["error"] = errors.get(key, "")
        row["input"] = submitted.get(key, str(row["value"]) if row["overridden"] else "")
        groups.setdefault(str(row["spec"].group) or _("其他"), []).append(row)
    unplaced = [msg for key, msg in errors.items() if key not in REGISTRY]
    return render(
        request,
        "orgs/settings.html",
        {**context, "groups": list(groups.items()), "action": url, "errors": unplaced},
    )


@login_required
def community_settings(request: HttpRequest, community_pk: int) -> HttpResponse:
    community = _community(community_pk)
    return _settings_page(
        request,
        community,
        reverse("orgs:settings", args=[community.pk]),
        {"community": community, "building": None},
    )


@login_required
def building_settings(request: HttpRequest, pk: int) -> HttpResponse:
    building = _building(pk)
    return _settings_page(
        request,
        building,
        reverse("orgs:building_settings", args=[building.pk]),
        {"community": building.community, "building": building},
    )
