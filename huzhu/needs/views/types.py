"""The need taxonomy pages (需求类型, issue 5): the list of every type with search, an
active/inactive filter, paging and how many needs use each type; creating and editing a type
(names, required skills as checkboxes, default duration and radius); deactivating and
reactivating (a type is never deleted). Holders of ``needs.manage_types`` only (403 for
everybody else: the taxonomy is platform-wide, there is nothing to hide with a 404)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.needs.actions import types as actions
from huzhu.needs.forms.types import NeedTypeForm, TypeFilterForm
from huzhu.needs.models import NeedType
from huzhu.needs.views._common import actor_of, page_of, run


@login_required
def type_list(request: HttpRequest) -> HttpResponse:
    """需求类型: every type, active ones first."""
    actions.require_manage_types(actor_of(request))
    form = TypeFilterForm(request.GET)
    search = status = ""
    if form.is_valid():
        search = form.cleaned_data["q"].strip()
        status = form.cleaned_data["status"]
    page = page_of(request, actions.type_rows(search, status))
    return render(
        request,
        "needs/type_list.html",
        {"page": page, "form": form, "filtered": bool(search or status)},
    )


def _initial(t: NeedType) -> dict[str, Any]:
    return {
        "name": t.name,
        "name_en": t.name_en,
        "skills": list(t.skills.all()),
        "default_duration_minutes": t.default_duration_minutes,
        "default_radius_m": t.default_radius_m,
    }


@login_required
def type_create(request: HttpRequest) -> HttpResponse:
    """新建需求类型."""
    actor = actor_of(request)
    actions.require_manage_types(actor)
    form = NeedTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        t = run(
            form,
            lambda: actions.create_need_type(
                actor=actor,
                code=data["code"],
                name=data["name"],
                name_en=data["name_en"],
                skills=list(data["skills"]),
                default_duration_minutes=data["default_duration_minutes"],
                default_radius_m=data["default_radius_m"],
            ),
        )
        if t is not None:
            messages.success(request, _("已保存需求类型“%(name)s”。") % {"name": t.name})
            return redirect("needs:type_list")
    return render(
        request,
        "needs/type_form.html",
        {"form": form, "need_type": None},
    )


@login_required
def type_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """编辑需求类型 (the code is shown, not editable)."""
    actor = actor_of(request)
    actions.require_manage_types(actor)
    t = get_object_or_404(NeedType, pk=pk)
    if request.method == "POST":
        form = NeedTypeForm(request.POST, editing=True)
        if form.is_valid():
            data = form.cleaned_data
            saved = run(
                form,
                lambda: actions.update_need_type(
                    actor=actor,
                    need_type=t,
                    name=data["name"],
                    name_en=data["name_en"],
                    skills=list(data["skills"]),
                    default_duration_minutes=data["default_duration_minutes"],
                    default_radius_m=data["default_radius_m"],
                ),
            )
            if saved is not None:
                messages.success(request, _("已保存需求类型“%(name)s”。") % {"name": saved.name})
                return redirect("needs:type_list")
    else:
        form = NeedTypeForm(initial=_initial(t), editing=True)
    return render(
        request,
        "needs/type_form.html",
        {"form": form, "need_type": t, "need_count": t.needs.count()},
    )


@login_required
@require_POST
def type_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    actions.require_manage_types(actor)
    t = actions.deactivate_need_type(actor=actor, need_type=get_object_or_404(NeedType, pk=pk))
    messages.success(
        request,
        _("已停用“%(name)s”：发布求助时不再显示，已有的求助不受影响。") % {"name": t.name},
    )
    return redirect("needs:type_list")


@login_required
@require_POST
def type_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    actions.require_manage_types(actor)
    t = actions.reactivate_need_type(actor=actor, need_type=get_object_or_404(NeedType, pk=pk))
    messages.success(request, _("已重新启用“%(name)s”。") % {"name": t.name})
    return redirect("needs:type_list")


urlpatterns: list[URLPattern] = [
    path("types/", type_list, name="type_list"),
    path("types/new/", type_create, name="type_create"),
    path("types/<int:pk>/edit/", type_edit, name="type_edit"),
    path("types/<int:pk>/deactivate/", type_deactivate, name="type_deactivate"),
    path("types/<int:pk>/reactivate/", type_reactivate, name="type_reactivate"),
]
