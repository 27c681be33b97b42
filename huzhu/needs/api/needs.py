"""Needs API: the taxonomy, needs I may see, publishing (for myself or on a person's behalf),
review, offering to volunteers, confirmation, rating, cancellation and no-show. Operations
register on huzhu.needs.api.common.router; every write takes an idempotency key, and what a
replay answers is described in huzhu.needs.api.common."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, paginate
from huzhu.core.errors import DomainError
from huzhu.needs import actions, states
from huzhu.needs.actions.common import authorize
from huzhu.needs.api.common import (
    actor_of,
    assignment_out,
    key_of,
    load_need,
    need_detail_out,
    need_out,
    need_type_out,
    needs_qs,
    router,
    visible_need,
    visible_needs,
)
from huzhu.needs.api.schemas import (
    ConfirmIn,
    NeedDetailOut,
    NeedIn,
    NeedOut,
    NeedPage,
    NeedQuery,
    NeedTypeOut,
    NoteIn,
    OfferIn,
    OfferOut,
    RateIn,
    ReasonIn,
    ReviewIn,
)
from huzhu.needs.models import (
    Assignment,
    AssignmentState,
    NeedState,
    NeedType,
)

S = NeedState


# --- the taxonomy ----------------------------------------------------------------------------


@router.get(
    "needs/types",
    response={200: list[NeedTypeOut], **ERRORS},
    operation_id="huzhu_needs_api_list_need_types",
)
def list_need_types(request: HttpRequest) -> list[NeedTypeOut]:
    """The active need types (陪诊, 代购, 维修 …) for the publish form, with their defaults."""
    actor_of(request)
    types = NeedType.objects.filter(active=True).prefetch_related("skills").order_by("code")
    return [need_type_out(t) for t in types]


# --- reading ---------------------------------------------------------------------------------


@router.get(
    "needs",
    response={200: NeedPage, **ERRORS},
    operation_id="huzhu_needs_api_list_needs",
)
def list_needs(request: HttpRequest, q: Query[NeedQuery]) -> NeedPage:
    """Needs I may see ("needs.view" where I hold it, my own, those I was asked to serve),
    latest start first; filter by state, type code, or only mine (as requester or publisher)."""
    actor = actor_of(request)
    qs = visible_needs(actor)
    if q.state:
        if q.state not in S.values:
            raise DomainError(
                "needs.filter.state", _("状态筛选条件无效。"), details={"field": "state"}
            )
        qs = qs.filter(state=q.state)
    if q.type:
        qs = qs.filter(need_type__code=q.type)
    if q.mine:
        qs = qs.filter(Q(requester=actor) | Q(published_by=actor))
    qs = needs_qs().filter(pk__in=qs.values("pk")).order_by("-starts_at", "-id")
    rows, meta = paginate(qs, q)
    return NeedPage(items=[need_out(n) for n in rows], meta=meta)


@router.get(
    "needs/{int:need_id}",
    response={200: NeedDetailOut, **ERRORS},
    operation_id="huzhu_needs_api_get_need",
)
def get_need(request: HttpRequest, need_id: PathId) -> NeedDetailOut:
    """One need with its history and the assignments I may see (404 outside my scope)."""
    actor = actor_of(request)
    return need_detail_out(actor, visible_need(actor, need_id))


# --- publish and review ----------------------------------------------------------------------


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@router.post(
    "needs",
    response={200: NeedOut, 201: NeedOut, **ERRORS},
    operation_id="huzhu_needs_api_publish_need",
)
def publish_need(request: HttpRequest, payload: NeedIn) -> Reply[NeedOut]:
    """Publish a need for myself, or on a person's behalf (``on_behalf_of``; building manager,
    broker or branch head: "needs.publish_for" on the person, recorded as such). It waits for
    review. A replay (the same Idempotency-Key from the same publisher, even concurrent)
    answers the need it made, 200, and writes nothing."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    requester = actor
    if payload.on_behalf_of is not None and payload.on_behalf_of != actor.pk:
        requester = get_object_or_404(
            Person.objects.select_related("community__alliance", "household__building"),
            pk=payload.on_behalf_of,
        )
        policy.require(actor, "needs.publish_for", requester)
    need_type = NeedType.objects.filter(code=payload.need_type).first()
    if need_type is None:
        raise DomainError(
            "needs.type.unknown", _("找不到该需求类型。"), details={"field": "need_type"}
        )
    starts_at, ends_at = _aware(payload.starts_at), _aware(payload.ends_at)
    earlier = actions.published_with(actor, key)
    if earlier is not None:
        return Reply(200, need_out(load_need(earlier.pk)))
    need = actions.publish_need(
        actor=actor,
        requester=requester,
        need_type=need_type,
        starts_at=starts_at,
        ends_at=ends_at,
        description=payload.description,
        address_detail=payload.address_detail,
        latitude=payload.latitude,
        longitude=payload.longitude,
        duration_minutes=payload.duration_minutes,
        radius_m=payload.radius_m,
        gender=payload.gender,
        needs_strength=payload.needs_strength,
        certification_required=payload.certification_required,
        language=payload.language,
        urgency=payload.urgency,
        pay_with_points=payload.pay_with_points,
        points=payload.points,
        recurrence=payload.recurrence,
        key=key,
    )
    return Reply(201, need_out(load_need(need.pk)))


@router.post(
    "needs/{int:need_id}/review",
    response={200: NeedOut, **ERRORS},
    operation_id="huzhu_needs_api_review_need",
)
def review_need(request: HttpRequest, need_id: PathId, payload: ReviewIn) -> NeedOut:
    """Approve a submitted need, or reject it with a reason ("needs.review": building manager,
    branch head). Due within 30 minutes of publishing (a community setting)."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    name = "approve" if payload.approve else "reject"
    authorize(actor, states.transition(name).parties, need)
    replay = need.reviewed_by_id == actor.pk and (
        need.state == S.REJECTED
        if not payload.approve
        else need.state not in (S.SUBMITTED, S.REJECTED)
    )
    if not replay:
        actions.review_need(actor=actor, need=need, approve=payload.approve, reason=payload.reason)
    return need_out(load_need(need_id))


# --- offer -----------------------------------------------------------------------------------


@router.post(
    "needs/{int:need_id}/offer",
    response={200: OfferOut, 201: OfferOut, **ERRORS},
    operation_id="huzhu_needs_api_offer_need",
)
def offer_need(request: HttpRequest, need_id: PathId, payload: OfferIn) -> Reply[OfferOut]:
    """Ask volunteers (by person id) to serve an approved need ("needs.offer": building
    manager, broker, branch head); they must accept within 2 hours. 201 with the assignments
    opened; a replay (every one of them asked already) answers 200 with their assignments."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    authorize(actor, states.transition("offer").parties, need)
    ids = list(dict.fromkeys(payload.volunteer_ids))
    asked = {
        a.volunteer_id: a
        for a in Assignment.objects.filter(need=need, volunteer_id__in=ids).exclude(
            state=AssignmentState.EXPIRED
        )
    }
    if ids and all(i in asked for i in ids):
        return Reply(
            200,
            OfferOut(need=need_out(need), assignments=[assignment_out(asked[i]) for i in ids]),
        )
    people = {
        p.pk: p
        for p in Person.objects.filter(pk__in=ids).select_related(
            "community__alliance", "household"
        )
    }
    unknown = [i for i in ids if i not in people]
    if unknown:
        raise DomainError(
            "needs.volunteer.unknown",
            _("找不到所选的志愿者。"),
            details={"field": "volunteer_ids", "volunteers": unknown},
        )
    opened = actions.offer_need(actor=actor, need=need, volunteers=[people[i] for i in ids])
    return Reply(
        201,
        OfferOut(
            need=need_out(load_need(need_id)), assignments=[assignment_out(a) for a in opened]
        ),
    )


# --- confirm, rate, cancel, no-show ----------------------------------------------------------


@router.post(
    "needs/{int:need_id}/confirm",
    response={200: NeedOut, **ERRORS},
    operation_id="huzhu_needs_api_confirm_need",
)
def confirm_need(request: HttpRequest, need_id: PathId, payload: ConfirmIn) -> NeedOut:
    """The requester confirms the service (验收); a building manager or branch head confirms
    from the paper slip, whose number is then required. The volunteer's hours are credited
    and held points paid through the time bank, once."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    authorize(actor, states.transition("confirm").parties, need)
    replay = need.confirmed_by_id == actor.pk and need.state in (S.COMPLETED, S.RATED)
    if not replay:
        actions.confirm_need(actor=actor, need=need, slip_number=payload.slip_number)
    return need_out(load_need(need_id))


@router.post(
    "needs/{int:need_id}/rate",
    response={200: NeedOut, **ERRORS},
    operation_id="huzhu_needs_api_rate_need",
)
def rate_need(request: HttpRequest, need_id: PathId, payload: RateIn) -> NeedOut:
    """Rate a completed service 1–5 stars with a comment (the requester, or a manager from
    the paper slip)."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    authorize(actor, states.transition("rate").parties, need)
    rating = getattr(need, "rating", None)
    replay = (
        rating is not None
        and rating.rated_by_id == actor.pk
        and rating.stars == payload.stars
        and rating.comment == payload.comment.strip()
    )
    if not replay:
        actions.rate_need(actor=actor, need=need, stars=payload.stars, comment=payload.comment)
    return need_out(load_need(need_id))


@router.post(
    "needs/{int:need_id}/cancel",
    response={200: NeedOut, **ERRORS},
    operation_id="huzhu_needs_api_cancel_need",
)
def cancel_need(request: HttpRequest, need_id: PathId, payload: ReasonIn) -> NeedOut:
    """Cancel with a reason (the requester, or a building manager). Once volunteers have been
    asked, only at least 2 hours before the start (a community setting): later, 409."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    authorize(actor, states.transition("cancel").parties, need)
    replay = need.state == S.CANCELLED and need.cancelled_by_id == actor.pk
    if not replay:
        actions.cancel_need(actor=actor, need=need, reason=payload.reason)
    return need_out(load_need(need_id))


@router.post(
    "needs/{int:need_id}/no-show",
    response={200: NeedOut, **ERRORS},
    operation_id="huzhu_needs_api_mark_no_show",
)
def mark_no_show(request: HttpRequest, need_id: PathId, payload: NoteIn) -> NeedOut:
    """Record that the accepted volunteer did not come ("needs.manage", after the start): the
    no-show penalty (5 points) is taken and held points go back to the requester."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    authorize(actor, states.transition("no_show").parties, need)
    if need.state != S.NO_SHOW:
        actions.mark_no_show(actor=actor, need=need, note=payload.note)
    return need_out(load_need(need_id))
