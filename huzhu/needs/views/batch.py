"""批量派单 (issue 5 "Batch mode"): a building manager or branch head sees the approved needs
not offered yet in their scope planned together — each with the volunteer the minimum-cost
assignment gives it, the reasons and the cost, and the needs it could not place with why —,
ticks "不派" on rows to leave out and approves. The approval posts the plan's signed digest,
the rows left out and the form's key; ``approve_batch_plan`` re-checks every pair and offers the
valid ones (huzhu.needs.plans, huzhu.needs.actions.batch)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.core.errors import DomainError
from huzhu.needs.actions.batch import approve_batch_plan
from huzhu.needs.api.common import building_label
from huzhu.needs.forms.batch import BatchFilterForm
from huzhu.needs.models import NeedType
from huzhu.needs.plans import PLAN, batch_plan, kept_pairs, planning_buildings
from huzhu.needs.views._common import actor_of

#: How many skipped pairs are listed one by one after an approval (the rest are counted).
SHOWN_SKIPPED = 20


@login_required
def plan_page(request: HttpRequest) -> HttpResponse:
    """The plan of the approved needs in scope (filtered by building, type, day)."""
    actor = actor_of(request)
    if not policy.can_anywhere(actor, PLAN):
        raise PermissionDenied(PLAN)
    form = BatchFilterForm(
        request.GET or None,
        buildings=planning_buildings(actor),
        types=NeedType.objects.filter(active=True).order_by("code"),
    )
    data = form.cleaned_data if form.is_valid() else {}
    plan = batch_plan(
        actor,
        building=data.get("building"),
        need_type=data.get("need_type"),
        day=data.get("day"),
    )
    rows = [{"row": r, "where": building_label(r.need)} for r in plan.rows]
    left = [{"left": u, "where": building_label(u.need)} for u in plan.unassigned]
    return render(
        request,
        "needs/batch_plan.html",
        {
            "form": form,
            "plan": plan,
            "rows": rows,
            "left": left,
            "filtered": bool(data and any(data.values())),
            "key": uuid.uuid4().hex,
        },
    )


@require_POST
@login_required
def plan_approve(request: HttpRequest) -> HttpResponse:
    """Approve the plan shown, less the rows left out."""
    actor = actor_of(request)
    if not policy.can_anywhere(actor, PLAN):
        raise PermissionDenied(PLAN)
    leave_out = [int(v) for v in request.POST.getlist("leave_out") if v.isdigit()]
    try:
        pairs = kept_pairs(request.POST.get("digest", ""), leave_out)
        result = approve_batch_plan(actor=actor, pairs=pairs, key=request.POST.get("key", ""))
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(reverse("needs:batch_plan"))
    if result.offered:
        messages.success(
            request,
            _("已按方案派单 %(n)s 项，等待志愿者接单。") % {"n": len(result.offered)},
        )
    elif not result.skipped:
        messages.info(request, _("方案中的需求都已选择不派，没有派单。"))
    for item in result.skipped[:SHOWN_SKIPPED]:
        messages.warning(
            request,
            _("需求 #%(id)s 未派单：%(why)s") % {"id": item.need_id, "why": item.message},
        )
    if len(result.skipped) > SHOWN_SKIPPED:
        messages.warning(
            request,
            _("另有 %(n)s 项未派单。") % {"n": len(result.skipped) - SHOWN_SKIPPED},
        )
    return redirect(reverse("needs:batch_plan"))


urlpatterns: list[URLPattern] = [
    path("batch/", plan_page, name="batch_plan"),
    path("batch/approve/", plan_approve, name="batch_approve"),
]
