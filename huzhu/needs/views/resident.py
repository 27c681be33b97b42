"""Needs pages of the person served: 我要求助 (publish, for oneself or — a building manager,
broker or branch head — on a resident's behalf), 我的需求, the need detail, and the
requester's steps: cancel with a reason, confirm (验收), rate 1–5 stars. A manager confirms
from the paper slip on the same page (its number is then required)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.needs import actions
from huzhu.needs.api.common import needs_qs, visible_need
from huzhu.needs.forms.needs import (
    CancelForm,
    ConfirmForm,
    MyNeedsFilterForm,
    PublishForm,
    RateForm,
)
from huzhu.needs.models import Need, NeedState, NeedType
from huzhu.needs.states import FINAL_STATES
from huzhu.needs.views._common import (
    actor_of,
    need_row,
    page_of,
    points_label,
    render_detail,
    require_party,
    run,
    succeeded,
)
from huzhu.timebank.queries import held_of, own_account

S = NeedState
PUBLISH_FOR = "needs.publish_for"


def _people(actor: Person) -> QuerySet[Person] | None:
    """Whom the actor may publish for (None: only themselves)."""
    if not policy.can_anywhere(actor, PUBLISH_FOR):
        return None
    return (
        policy.visible_to(
            actor, PUBLISH_FOR, Person.objects.filter(is_active=True, community__isnull=False)
        )
        .select_related("household__building")
        .order_by("household__building__name", "household__room", "name", "pk")
    )


def _detail_url(need: Need) -> str:
    return reverse("needs:need_detail", args=[need.pk])


@login_required
def need_create(request: HttpRequest) -> HttpResponse:
    """我要求助: type, date and time, description, pay with points."""
    actor = actor_of(request)
    types = NeedType.objects.filter(active=True).order_by("code")
    people = _people(actor)
    form = PublishForm(
        request.POST if request.method == "POST" else None,
        types=types,
        people=people,
        # Someone publishing only for themselves sees what they can pay with.
        available=points_label(held_of(own_account(actor))[2]) if people is None else None,
        initial={"date": clock.today(), "duration": 60},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        requester: Person = data.get("on_behalf_of") or actor
        # A double submit answers the need already published (as the API's replay does).
        earlier = (
            Need.objects.filter(
                published_by=actor,
                requester=requester,
                need_type=data["need_type"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                description=data["description"].strip(),
                pay_with_points=data["pay_with_points"],
                points=data["points"] if data["pay_with_points"] else 0,
            )
            .exclude(state__in=FINAL_STATES)
            .first()
        )
        if earlier is not None:
            return redirect(_detail_url(earlier))
        need = run(
            form,
            lambda: actions.publish_need(
                actor=actor,
                requester=requester,
                need_type=data["need_type"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                description=data["description"],
                pay_with_points=data["pay_with_points"],
                points=data["points"] if data["pay_with_points"] else 0,
            ),
        )
        if need is not None:
            messages.success(request, _("求助已发布，等待楼长审核。"))
            return redirect(_detail_url(need))
    return render(request, "needs/need_form.html", {"form": form})


@login_required
def my_needs(request: HttpRequest) -> HttpResponse:
    """我的需求: what I asked for (or published for someone), latest start first."""
    actor = actor_of(request)
    qs = (
        needs_qs()
        .filter(Q(requester=actor) | Q(published_by=actor))
        .select_related("requester")
        .order_by("-starts_at", "-id")
    )
    form = MyNeedsFilterForm(request.GET)
    state = form.cleaned_data["state"] if form.is_valid() else ""
    if state == "open":
        qs = qs.exclude(state__in=FINAL_STATES)
    elif state:
        qs = qs.filter(state=state)
    page = page_of(request, qs)
    return render(
        request,
        "needs/my_needs.html",
        {
            "page": page,
            "rows": [need_row(n) for n in page.object_list],
            "form": form,
            "filtered": bool(state),
        },
    )


@login_required
def need_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One need for whoever may see it: its state, history, volunteer and the buttons."""
    actor = actor_of(request)
    return render_detail(request, visible_need(actor, pk))


def _need(request: HttpRequest, pk: int, name: str) -> tuple[Person, Need]:
    actor = actor_of(request)
    need = visible_need(actor, pk)
    require_party(actor, name, need)
    return actor, need


@require_POST
@login_required
def need_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    actor, need = _need(request, pk, "cancel")
    if need.state == S.CANCELLED and need.cancelled_by_id == actor.pk:
        return redirect(_detail_url(need))
    form = CancelForm(request.POST)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.cancel_need(actor=actor, need=need, reason=form.cleaned_data["reason"]),
    ):
        messages.success(request, _("需求已取消。"))
        return redirect(_detail_url(need))
    return render_detail(request, visible_need(actor, pk), cancel_form=form)


@require_POST
@login_required
def need_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """验收: the requester, or a manager from the paper slip (its number required)."""
    actor, need = _need(request, pk, "confirm")
    if need.confirmed_by_id == actor.pk and need.state in (S.COMPLETED, S.RATED):
        return redirect(_detail_url(need))
    form = ConfirmForm(request.POST)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.confirm_need(
            actor=actor, need=need, slip_number=form.cleaned_data["slip_number"]
        ),
    ):
        messages.success(request, _("已验收，志愿者的服务时长已记入积分。"))
        return redirect(_detail_url(need))
    return render_detail(request, visible_need(actor, pk), confirm_form=form)


@require_POST
@login_required
def need_rate(request: HttpRequest, pk: int) -> HttpResponse:
    actor, need = _need(request, pk, "rate")
    form = RateForm(request.POST)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.rate_need(
            actor=actor,
            need=need,
            stars=form.cleaned_data["stars"],
            comment=form.cleaned_data["comment"],
        ),
    ):
        messages.success(request, _("谢谢您的评价。"))
        return redirect(_detail_url(need))
    return render_detail(request, visible_need(actor, pk), rate_form=form)


urlpatterns: list[URLPattern] = [
    path("new/", need_create, name="need_create"),
    path("mine/", my_needs, name="my_needs"),
    path("<int:pk>/", need_detail, name="need_detail"),
    path("<int:pk>/cancel/", need_cancel, name="need_cancel"),
    path("<int:pk>/confirm/", need_confirm, name="need_confirm"),
    path("<int:pk>/rate/", need_rate, name="need_rate"),
]
