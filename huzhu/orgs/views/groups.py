"""Functional group pages (the group tree) and job descriptions (岗位说明书)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Role, RoleGrant
from huzhu.orgs import actions
from huzhu.orgs.forms import GroupCreateForm, GroupForm, JobForm
from huzhu.orgs.models import Community, Group, JobDescription
from huzhu.orgs.views._common import (
    _actor,
    _community,
    _done,
    _group,
    _initial_pk,
    _job,
    _manageable_groups,
    _run,
)

GROUP_ROLES = (Role.GROUP_MEMBER, Role.GROUP_LEADER)
ROLE_LABELS: dict[str, Any] = dict(Role.choices)


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
