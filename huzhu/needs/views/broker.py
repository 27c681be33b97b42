"""经纪人工作台: the social-welfare broker's workspace (DOMAIN.md roles: "their service
station's area; enters needs for people who cannot, picks the best match from the suggestions,
arranges recurring services"). The people in their care (searchable, with masked phones; anyone
else of their area by searching all residents), per person their needs and where each stands,
entering a need for them, the ranked volunteers of a need with the reasons and "派给此人", and
making a service recurring with the same volunteer preferred (huzhu.needs.care for the reads;
publish_need, offer_need and arrange_recurring for the writes)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.needs import actions, states
from huzhu.needs.actions.broker import ARRANGEABLE, arrange_recurring
from huzhu.needs.api.common import load_need
from huzhu.needs.care import CARE, care_list, needs_of
from huzhu.needs.forms.broker import CareSearchForm, PickForm, RecurringForm
from huzhu.needs.forms.needs import PublishForm
from huzhu.needs.models import Need, NeedType, Recurrence
from huzhu.needs.suggest import suggest
from huzhu.needs.views._common import actor_of, need_row, page_of, run


def _require_workspace(actor: Person) -> None:
    if not policy.can_anywhere(actor, CARE):
        raise PermissionDenied(CARE)


def _person(actor: Person, pk: int) -> Person:
    """A person of the broker's area: 404 outside their scope, 403 inside it without the right."""
    person = get_object_or_404(
        Person.objects.select_related("community__alliance", "household__building"),
        pk=pk,
        is_active=True,
    )
    policy.require(actor, CARE, person)
    return person


def _need(actor: Person, pk: int) -> Need:
    """A need of the broker's area ("needs.care" on its building, else its community)."""
    need = load_need(pk)
    policy.require(actor, CARE, need.scope_node())
    return need


def _person_url(person_id: int) -> str:
    return reverse("needs:broker_person", args=[person_id])


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The people in my care (or everyone of my area), searched, one page at a time."""
    actor = actor_of(request)
    _require_workspace(actor)
    form = CareSearchForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    everyone = data.get("scope") == "all"
    q = data.get("q") or ""
    page = page_of(request, care_list(actor, q=q, everyone=everyone))
    return render(
        request,
        "needs/broker_home.html",
        {"form": form, "page": page, "everyone": everyone, "q": q, "filtered": bool(q)},
    )


def _recurring_label(need: Need) -> str:
    return str(Recurrence(need.recurrence).label) if need.recurrence != Recurrence.NONE else ""


@login_required
def person(request: HttpRequest, pk: int) -> HttpResponse:
    """One person in my care: their needs and where each stands, and what I can do next."""
    actor = actor_of(request)
    who = _person(actor, pk)
    page = page_of(request, needs_of(actor, who))
    rows: list[dict[str, Any]] = []
    for need in page.object_list:
        row = need_row(need)
        row["may_pick"] = states.allowed(need.state, "offer")
        row["recurring"] = _recurring_label(need)
        row["may_repeat"] = need.recurrence == Recurrence.NONE and need.state in ARRANGEABLE
        rows.append(row)
    return render(
        request,
        "needs/broker_person.html",
        {"person": who, "page": page, "rows": rows, "recurring_form": RecurringForm()},
    )


@login_required
def need_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Enter a need for a person who cannot (recorded as on their behalf)."""
    actor = actor_of(request)
    who = _person(actor, pk)
    form = PublishForm(
        request.POST if request.method == "POST" else None,
        types=NeedType.objects.filter(active=True).order_by("code"),
        initial={"date": clock.today(), "duration": 60},
    )
    key = request.POST.get("key", "") if request.method == "POST" else uuid.uuid4().hex
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        need = run(
            form,
            lambda: actions.publish_need(
                actor=actor,
                requester=who,
                need_type=data["need_type"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                description=data["description"],
                pay_with_points=data["pay_with_points"],
                points=data["points"] if data["pay_with_points"] else 0,
                key=f"broker:{key}" if key else "",
            ),
        )
        if need is not None:
            messages.success(
                request, _("已为%(name)s发布求助，等待楼长审核。") % {"name": who.name}
            )
            return redirect(_person_url(who.pk))
    return render(request, "needs/broker_need_form.html", {"form": form, "person": who, "key": key})


@login_required
def candidates(request: HttpRequest, pk: int) -> HttpResponse:
    """The ranked volunteers of a need, each with the reasons, to pick one."""
    actor = actor_of(request)
    need = _need(actor, pk)
    may_pick = states.allowed(need.state, "offer")
    return render(
        request,
        "needs/broker_candidates.html",
        {
            "need": need,
            "row": need_row(need),
            "may_pick": may_pick,
            "suggestions": suggest(actor, need) if may_pick else [],
            "recurring": _recurring_label(need),
        },
    )


@require_POST
@login_required
def offer(request: HttpRequest, pk: int) -> HttpResponse:
    """派给此人: offer the need to the one volunteer picked among the suggestions."""
    actor = actor_of(request)
    need = _need(actor, pk)
    form = PickForm(request.POST)
    back = reverse("needs:broker_candidates", args=[need.pk])
    if not form.is_valid():
        messages.error(request, _("请选择一位志愿者。"))
        return redirect(back)
    chosen = next(
        (s for s in suggest(actor, need) if s.volunteer_id == form.cleaned_data["volunteer"]),
        None,
    )
    if chosen is None or chosen.already_asked:
        messages.error(request, _("该志愿者不在推荐名单中，或已邀请过。"))
        return redirect(back)
    volunteer = Person.objects.select_related("community__alliance", "household").get(
        pk=chosen.volunteer_id
    )
    try:
        actions.offer_need(
            actor=actor,
            need=need,
            volunteers=[volunteer],
            reasons={volunteer.pk: chosen.texts()},
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(back)
    messages.success(request, _("已派单给%(name)s，等待接单。") % {"name": volunteer.name})
    return redirect(_person_url(need.requester_id))


@require_POST
@login_required
def recurring(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a service recurring (weekly, every two weeks, monthly), the same volunteer
    preferred."""
    actor = actor_of(request)
    need = _need(actor, pk)
    form = RecurringForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择重复方式。"))
        return redirect(_person_url(need.requester_id))
    try:
        nxt = arrange_recurring(actor=actor, need=need, recurrence=form.cleaned_data["recurrence"])
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(_person_url(need.requester_id))
    label = Recurrence(form.cleaned_data["recurrence"]).label
    if nxt is not None:
        messages.success(
            request,
            _("已设为%(rhythm)s的周期服务，下一次（%(when)s）已发布，等待审核。")
            % {"rhythm": label, "when": timezone.localtime(nxt.starts_at).strftime("%m-%d %H:%M")},
        )
    else:
        messages.success(
            request,
            _("已设为%(rhythm)s的周期服务，本次验收后自动发布下一次，优先同一位志愿者。")
            % {"rhythm": label},
        )
    return redirect(_person_url(need.requester_id))


urlpatterns: list[URLPattern] = [
    path("broker/", home, name="broker_home"),
    path("broker/people/<int:pk>/", person, name="broker_person"),
    path("broker/people/<int:pk>/new/", need_create, name="broker_need_create"),
    path("broker/needs/<int:pk>/", candidates, name="broker_candidates"),
    path("broker/needs/<int:pk>/offer/", offer, name="broker_offer"),
    path("broker/needs/<int:pk>/recurring/", recurring, name="broker_recurring"),
]
