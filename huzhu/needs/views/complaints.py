"""Complaint pages (DOMAIN.md "Activities, complaints, safety"): 投诉这次服务 from a need's
page (a side of the service, or a manager for a side), the complaints list (handlers: the
complaints of their buildings / community with filters — pending, overdue, escalated —,
search and paging; everybody else: the complaints they are a side of), and a complaint's page
with the handler's contact record and decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.needs import complaint_queries as cq
from huzhu.needs.actions import complaints as actions
from huzhu.needs.actions.common import is_requester_party
from huzhu.needs.actions.tracking import holding_assignment
from huzhu.needs.api.common import building_label, visible_need
from huzhu.needs.forms.complaints import (
    VOLUNTEER_SIDE,
    ComplaintFilterForm,
    ComplaintForm,
    ContactForm,
    ResolveForm,
)
from huzhu.needs.models import (
    Complaint,
    ComplaintCategory,
    ComplaintDecision,
    ComplaintState,
    Need,
)
from huzhu.needs.views._common import actor_of, page_of, run, succeeded
from huzhu.timebank.money import format_points

C = ComplaintState
_BADGES: dict[str, str] = {C.OPEN: "warn", C.CONTACTED: "warn", C.RESOLVED: "ok", C.DISMISSED: ""}
# The words of a complaint's history (ComplaintEvent.action).
ACTION_LABELS = {
    "file": gettext_lazy("提出投诉"),
    "contact": gettext_lazy("联系双方"),
    "escalate": gettext_lazy("超时上报"),
    "resolve": gettext_lazy("给出处理结果"),
}


def _detail_url(complaint: Complaint) -> str:
    return reverse("needs:complaint_detail", args=[complaint.pk])


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return str(formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT"))


def complaint_row(c: Complaint, now: dt.datetime) -> dict[str, Any]:
    """What a list shows of a complaint (names and the building, no personal data)."""
    overdue = (c.state == C.OPEN and c.contact_due_at <= now) or (
        c.is_open and c.result_due_at <= now
    )
    return {
        "complaint": c,
        "state_label": ComplaintState(c.state).label,
        "badge": _BADGES.get(c.state, ""),
        "category_label": ComplaintCategory(c.category).label,
        "decision_label": ComplaintDecision(c.decision).label if c.decision else "",
        "where": building_label(c.need),
        "overdue": overdue,
        "escalated": c.is_open and c.escalation_level > 0,
    }


# --- filing ----------------------------------------------------------------------------------


def _own_side(actor: Person, need: Need) -> bool:
    if is_requester_party(actor, need):
        return True
    holder = holding_assignment(need)
    return holder is not None and holder.volunteer_id == actor.pk


@login_required
def complaint_create(request: HttpRequest, pk: int) -> HttpResponse:
    """投诉这次服务: the person served (or whoever published for them), the serving volunteer,
    or a manager with "needs.file_complaint" for either side."""
    actor = actor_of(request)
    need = visible_need(actor, pk)
    own = _own_side(actor, need)
    if not own and not policy.can(actor, actions.FILE_FOR, need.scope_node()):
        raise PermissionDenied(actions.FILE_FOR)
    need_url = reverse("needs:need_detail", args=[need.pk])
    if need.state not in actions.COMPLAINABLE_STATES:
        messages.error(request, _("只能对已开始或已完成的服务投诉。"))
        return redirect(need_url)
    earlier = Complaint.objects.open().filter(need=need, filed_by=actor).first()
    if earlier is not None:
        messages.info(request, _("您对这次服务的投诉正在处理中。"))
        return redirect(_detail_url(earlier))
    form = ComplaintForm(request.POST if request.method == "POST" else None, on_behalf=not own)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        complainant = None
        if not own:
            holder = holding_assignment(need)
            side_volunteer = data.get("side") == VOLUNTEER_SIDE and holder is not None
            complainant = holder.volunteer if side_volunteer and holder else need.requester
        complaint = run(
            form,
            lambda: actions.file_complaint(
                actor=actor,
                need=need,
                category=data["category"],
                description=data["description"],
                complainant=complainant,
            ),
        )
        if complaint is not None:
            messages.success(
                request,
                _("投诉已提交，我们将在 %(due)s 前联系双方。")
                % {"due": _when(complaint.contact_due_at)},
            )
            return redirect(_detail_url(complaint))
    return render(
        request,
        "needs/complaint_form.html",
        {"form": form, "need": need, "need_url": need_url, "on_behalf": not own},
    )


# --- the list --------------------------------------------------------------------------------


@login_required
def complaint_list(request: HttpRequest) -> HttpResponse:
    """投诉处理 (handlers) / 我的投诉 (everybody else), the newest first."""
    actor = actor_of(request)
    handler = policy.can_anywhere(actor, actions.HANDLE)
    form = ComplaintFilterForm(request.GET)
    state = category = search = ""
    if form.is_valid():
        state = form.cleaned_data["state"]
        category = form.cleaned_data["category"]
        search = form.cleaned_data["q"]
    now = clock.now()
    qs = cq.filter_complaints(
        cq.visible_complaints(actor), state=state, category=category, search=search, now=now
    ).order_by("-filed_at", "-id")
    page = page_of(request, qs)
    return render(
        request,
        "needs/complaint_list.html",
        {
            "page": page,
            "rows": [complaint_row(c, now) for c in page.object_list],
            "form": form,
            "filtered": bool(state or category or search),
            "handler": handler,
        },
    )


# --- one complaint ---------------------------------------------------------------------------


def _render_detail(request: HttpRequest, complaint: Complaint, **bound: forms.Form) -> HttpResponse:
    actor = actor_of(request)
    handler = actions.may_handle(actor, complaint)
    now = clock.now()
    context: dict[str, Any] = {
        "row": complaint_row(complaint, now),
        "complaint": complaint,
        "need": complaint.need,
        "handler": handler,
        "points_decided": format_points(complaint.points_decided),
        "points_deducted": format_points(complaint.points_deducted),
        "shortfall": complaint.points_deducted < complaint.points_decided,
        "events": (
            [
                {
                    "label": ACTION_LABELS.get(e.action, e.action),
                    "at": e.at,
                    "actor": e.actor.name if e.actor is not None else _("系统"),
                    "note": e.note,
                }
                for e in cq.history(complaint)
            ]
            if handler
            else []
        ),
        "may_contact": handler and complaint.state == C.OPEN,
        "may_resolve": handler and complaint.state == C.CONTACTED,
        "contact_form": ContactForm(),
        "resolve_form": ResolveForm(),
    }
    context.update(bound)
    return render(request, "needs/complaint_detail.html", context)


@login_required
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A complaint for its handlers and its sides: what, when, the deadlines, the result."""
    actor = actor_of(request)
    return _render_detail(request, cq.visible_complaint(actor, pk))


def _handled(request: HttpRequest, pk: int) -> tuple[Person, Complaint]:
    actor = actor_of(request)
    complaint = cq.load_complaint(pk)
    actions.require_handler(actor, complaint)
    return actor, complaint


@require_POST
@login_required
def complaint_contact(request: HttpRequest, pk: int) -> HttpResponse:
    """Record that both sides were contacted (a handler)."""
    actor, complaint = _handled(request, pk)
    if complaint.state != C.OPEN and complaint.contacted_by_id == actor.pk:
        return redirect(_detail_url(complaint))
    form = ContactForm(request.POST)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.record_contact(
            actor=actor, complaint=complaint, note=form.cleaned_data["note"]
        ),
    ):
        messages.success(
            request,
            _("已记录联系情况，请在 %(due)s 前给出处理结果。")
            % {"due": _when(complaint.result_due_at)},
        )
        return redirect(_detail_url(complaint))
    return _render_detail(request, cq.load_complaint(pk), contact_form=form)


@require_POST
@login_required
def complaint_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Decide a contacted complaint (a handler); both sides are told."""
    actor, complaint = _handled(request, pk)
    if complaint.state in (C.RESOLVED, C.DISMISSED) and complaint.handler_id == actor.pk:
        return redirect(_detail_url(complaint))
    form = ResolveForm(request.POST)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.resolve_complaint(
            actor=actor,
            complaint=complaint,
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
            deduct_points=form.cleaned_data["deduct_points"],
            suspend=form.cleaned_data["suspend"],
            retrain=form.cleaned_data["retrain"],
        ),
    ):
        messages.success(request, _("已给出处理结果，并通知了投诉双方。"))
        return redirect(_detail_url(complaint))
    return _render_detail(request, cq.load_complaint(pk), resolve_form=form)


urlpatterns: list[URLPattern] = [
    path("<int:pk>/complain/", complaint_create, name="complaint_create"),
    path("complaints/", complaint_list, name="complaint_list"),
    path("complaints/<int:pk>/", complaint_detail, name="complaint_detail"),
    path("complaints/<int:pk>/contact/", complaint_contact, name="complaint_contact"),
    path("complaints/<int:pk>/resolve/", complaint_resolve, name="complaint_resolve"),
]
