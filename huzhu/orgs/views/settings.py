"""The settings-as-data page of a community or a building (overrides resolved up the tree)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.core.errors import DomainError
from huzhu.core.registry import REGISTRY
from huzhu.orgs import actions
from huzhu.orgs.forms import SettingForm
from huzhu.orgs.models import Building, Community
from huzhu.orgs.queries import effective_settings
from huzhu.orgs.views._common import _actor, _building, _community, _done


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
