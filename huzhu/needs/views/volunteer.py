"""Needs pages of the volunteer: 我的邀请 (the offers waiting for an answer: accept, or decline
with a reason), 我的服务 (the services accepted, soonest first) and check-in / check-out.
The inbox shows what, when and the building, never the address: that shows on the need only
once the volunteer has accepted it."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.core.errors import DomainError
from huzhu.needs import actions
from huzhu.needs.api.common import load_need
from huzhu.needs.forms.needs import DeclineForm, add_domain_error
from huzhu.needs.models import Assignment, AssignmentState, NeedState
from huzhu.needs.views._common import actor_of, my_assignment, need_row, page_of, render_detail

A = AssignmentState
S = NeedState
_RELATED = ("need__need_type", "need__building__community", "need__rating")


def _rows(page: object) -> list[dict[str, object]]:
    return [{**need_row(a.need), "assignment": a} for a in page.object_list]  # type: ignore[attr-defined]


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """我的邀请: offers waiting for my answer, the one due soonest first."""
    actor = actor_of(request)
    qs = (
        Assignment.objects.filter(volunteer=actor, state=A.OFFERED, need__state=S.OFFERED)
        .select_related(*_RELATED)
        .order_by("expires_at", "need__starts_at", "id")
    )
    page = page_of(request, qs)
    return render(
        request,
        "needs/inbox.html",
        {"page": page, "rows": _rows(page), "decline_form": DeclineForm()},
    )


@login_required
def schedule(request: HttpRequest) -> HttpResponse:
    """我的服务: the services I accepted and have not finished, soonest first."""
    actor = actor_of(request)
    qs = (
        Assignment.objects.filter(
            volunteer=actor, state=A.ACCEPTED, need__state__in=(S.ACCEPTED, S.IN_SERVICE)
        )
        .select_related(*_RELATED)
        .order_by("need__starts_at", "id")
    )
    page = page_of(request, qs)
    return render(request, "needs/schedule.html", {"page": page, "rows": _rows(page)})


def _back(need_id: int) -> HttpResponse:
    return redirect(reverse("needs:need_detail", args=[need_id]))


def _act(
    request: HttpRequest,
    pk: int,
    done: str,
    act: Callable[..., Assignment],
    replayed: Callable[[Assignment], bool],
) -> HttpResponse:
    """Accept, check in or check out: one button, no form fields; a refusal shows on the
    need's page. A second press of a step already done changes nothing."""
    actor = actor_of(request)
    a = my_assignment(actor, pk)
    if not replayed(a):
        try:
            act(actor=actor, assignment=a)
        except DomainError as exc:
            messages.error(request, str(exc.message))
            return _back(a.need_id)
    messages.success(request, done)
    return _back(a.need_id)


@require_POST
@login_required
def assignment_accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        _("已接单，请按时上门服务。"),
        actions.accept_assignment,
        lambda a: a.state in (A.ACCEPTED, A.COMPLETED),
    )


@require_POST
@login_required
def assignment_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        _("已签到，服务开始计时。"),
        actions.check_in,
        lambda a: a.check_in_at is not None,
    )


@require_POST
@login_required
def assignment_check_out(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        _("已签退，等待居民验收。"),
        actions.check_out,
        lambda a: a.check_out_at is not None,
    )


@require_POST
@login_required
def assignment_decline(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    a = my_assignment(actor, pk)
    if a.state == A.DECLINED:
        return redirect(reverse("needs:inbox"))
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            actions.decline_assignment(
                actor=actor, assignment=a, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已谢绝该邀请。"))
            return redirect(reverse("needs:inbox"))
    return render_detail(request, load_need(a.need_id), decline_form=form)


urlpatterns: list[URLPattern] = [
    path("invitations/", inbox, name="inbox"),
    path("schedule/", schedule, name="schedule"),
    path("assignments/<int:pk>/accept/", assignment_accept, name="assignment_accept"),
    path("assignments/<int:pk>/decline/", assignment_decline, name="assignment_decline"),
    path("assignments/<int:pk>/check-in/", assignment_check_in, name="assignment_check_in"),
    path("assignments/<int:pk>/check-out/", assignment_check_out, name="assignment_check_out"),
]
