"""Needs pages of the building manager, branch head and broker (by permission): 待审核 (the
review queue: approve, or reject with a reason), offering a need to volunteers ticked among
the ranked suggestions or automatically (自动派单), 超时上报 (needs handed up past a
deadline) and recording a no-show. Confirming from a paper slip is on the need's page
(huzhu.needs.views.resident.need_confirm)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.needs import actions, queries
from huzhu.needs.api.common import needs_qs, visible_need
from huzhu.needs.complaint_queries import escalated_complaints
from huzhu.needs.forms.needs import NoShowForm, OfferForm, ReviewForm
from huzhu.needs.models import Need, NeedState
from huzhu.needs.suggest import auto_offer, suggest
from huzhu.needs.views._common import (
    actor_of,
    need_row,
    page_of,
    render_detail,
    require_party,
    run,
    succeeded,
)

S = NeedState
REVIEW = "needs.review"
VIEW = "needs.view"


def _detail_url(need: Need) -> str:
    return reverse("needs:need_detail", args=[need.pk])


def _need(request: HttpRequest, pk: int, name: str) -> tuple[Person, Need]:
    actor = actor_of(request)
    need = visible_need(actor, pk)
    require_party(actor, name, need)
    return actor, need


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """待审核: submitted needs where I review, the one due soonest first."""
    actor = actor_of(request)
    if not policy.can_anywhere(actor, REVIEW):
        raise PermissionDenied(REVIEW)
    qs = (
        policy.visible_to(actor, REVIEW, needs_qs().filter(state=S.SUBMITTED))
        .select_related("requester")
        .order_by("review_due_at", "id")
    )
    page = page_of(request, qs)
    return render(
        request,
        "needs/review_queue.html",
        {"page": page, "rows": [need_row(n) for n in page.object_list]},
    )


#: How many escalated complaints the escalated page lists before linking to the full list.
ESCALATED_COMPLAINTS_SHOWN = 20


@login_required
def escalated(request: HttpRequest) -> HttpResponse:
    """超时上报: open needs handed up past their review or accept deadline."""
    actor = actor_of(request)
    if not policy.can_anywhere(actor, VIEW):
        raise PermissionDenied(VIEW)
    qs = queries.escalated_needs(actor).select_related("building__community", "rating")
    page = page_of(request, qs)
    # Complaints past their contact or result deadline, in the actor's handling scope (the
    # full list, filtered and paginated, is the complaints page's "已上报" filter).
    complaints = list(escalated_complaints(actor)[:ESCALATED_COMPLAINTS_SHOWN])
    return render(
        request,
        "needs/escalated.html",
        {
            "page": page,
            "rows": [need_row(n) for n in page.object_list],
            "complaints": complaints,
            "more_complaints": len(complaints) == ESCALATED_COMPLAINTS_SHOWN,
        },
    )


@require_POST
@login_required
def need_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve, or reject with a reason."""
    actor = actor_of(request)
    need = visible_need(actor, pk)
    form = ReviewForm(request.POST)
    approve = request.POST.get("decision") != "reject"
    require_party(actor, "approve" if approve else "reject", need)
    replay = need.reviewed_by_id == actor.pk and (
        need.state not in (S.SUBMITTED, S.REJECTED) if approve else need.state == S.REJECTED
    )
    if replay:
        return redirect(_detail_url(need))
    if form.is_valid() and succeeded(
        form,
        lambda: actions.review_need(
            actor=actor, need=need, approve=approve, reason=form.cleaned_data["reason"]
        ),
    ):
        if approve:
            messages.success(request, _("已通过审核，请从推荐的志愿者中派单。"))
        else:
            messages.success(request, _("已驳回该需求。"))
        return redirect(_detail_url(need))
    return render_detail(request, visible_need(actor, pk), review_form=form)


@require_POST
@login_required
def need_offer(request: HttpRequest, pk: int) -> HttpResponse:
    """Offer the need to the volunteers ticked among the suggestions."""
    actor, need = _need(request, pk, "offer")
    choices = [(s.volunteer_id, s.name) for s in suggest(actor, need) if not s.already_asked]
    form = OfferForm(request.POST, choices=choices)
    if form.is_valid():
        ids = form.cleaned_data["volunteers"]
        people = Person.objects.select_related("community__alliance", "household").in_bulk(ids)
        opened = run(
            form,
            lambda: actions.offer_need(
                actor=actor, need=need, volunteers=[people[i] for i in ids if i in people]
            ),
        )
        if opened is not None:
            messages.success(request, _("已派单给 %(n)s 位志愿者，等待接单。") % {"n": len(opened)})
            return redirect(_detail_url(need))
    return render_detail(request, visible_need(actor, pk), offer_form=form)


@require_POST
@login_required
def need_auto_offer(request: HttpRequest, pk: int) -> HttpResponse:
    """自动派单: offer to the best volunteers not asked yet."""
    actor, need = _need(request, pk, "offer")
    try:
        opened = auto_offer(actor=actor, need=need)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("已自动派单给 %(n)s 位志愿者。") % {"n": len(opened)})
    return redirect(_detail_url(need))


@require_POST
@login_required
def need_no_show(request: HttpRequest, pk: int) -> HttpResponse:
    """The accepted volunteer did not come (after the start): the penalty is taken."""
    actor, need = _need(request, pk, "no_show")
    if need.state == S.NO_SHOW:
        return redirect(_detail_url(need))
    form = NoShowForm(request.POST)
    if form.is_valid() and succeeded(
        form, lambda: actions.mark_no_show(actor=actor, need=need, note=form.cleaned_data["note"])
    ):
        messages.success(request, _("已记录志愿者爽约。"))
        return redirect(_detail_url(need))
    return render_detail(request, visible_need(actor, pk), no_show_form=form)


urlpatterns: list[URLPattern] = [
    path("review/", review_queue, name="review_queue"),
    path("escalated/", escalated, name="escalated"),
    path("<int:pk>/review/", need_review, name="need_review"),
    path("<int:pk>/offer/", need_offer, name="need_offer"),
    path("<int:pk>/auto-offer/", need_auto_offer, name="need_auto_offer"),
    path("<int:pk>/no-show/", need_no_show, name="need_no_show"),
]
