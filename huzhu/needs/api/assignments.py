"""Needs API, the volunteer's side: my inbox of assignments, accept, decline with a reason,
check-in and check-out. Only the volunteer an assignment is for may act on it (403 inside the
community, 404 outside). Every write takes an idempotency key; a replay answers the
assignment as it stands (huzhu.needs.api.common)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query

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
    load_assignment,
    load_need,
    need_out,
    router,
)
from huzhu.needs.api.schemas import (
    AssignmentStateOut,
    InboxItemOut,
    InboxPage,
    InboxQuery,
    KeyIn,
    ReasonIn,
)
from huzhu.needs.models import Assignment, AssignmentState

A = AssignmentState


@router.get(
    "needs/inbox",
    response={200: InboxPage, **ERRORS},
    operation_id="huzhu_needs_api_my_assignments",
)
def my_assignments(request: HttpRequest, q: Query[InboxQuery]) -> InboxPage:
    """My inbox as a volunteer: the needs I was asked to serve and my answers, latest offer
    first; filter by assignment state (``offered`` for the ones waiting for me)."""
    actor = actor_of(request)
    qs = Assignment.objects.filter(volunteer=actor)
    if q.state:
        if q.state not in A.values:
            raise DomainError(
                "needs.filter.state", _("状态筛选条件无效。"), details={"field": "state"}
            )
        qs = qs.filter(state=q.state)
    qs = qs.select_related("need__need_type", "need__building__community", "need__rating").order_by(
        "-offered_at", "-id"
    )
    rows, meta = paginate(qs, q)
    return InboxPage(
        items=[InboxItemOut(**assignment_out(a).dict(), need=need_out(a.need)) for a in rows],
        meta=meta,
    )


def _mine(actor: Person, assignment_id: int) -> Assignment:
    """The assignment, if it is the actor's (403 inside the community, 404 outside)."""
    a = load_assignment(assignment_id)
    authorize(actor, (states.VOLUNTEER,), a.need, a)
    return a


def _answer(assignment_id: int) -> AssignmentStateOut:
    a = load_assignment(assignment_id)
    return AssignmentStateOut(assignment=assignment_out(a), need=need_out(load_need(a.need_id)))


@router.post(
    "needs/assignments/{int:assignment_id}/accept",
    response={200: AssignmentStateOut, **ERRORS},
    operation_id="huzhu_needs_api_accept_assignment",
)
def accept_assignment(
    request: HttpRequest, assignment_id: PathId, payload: KeyIn
) -> AssignmentStateOut:
    """Accept an offer. The first volunteer to accept wins, exactly once; the others are told
    "已被他人接单" (409 ``needs.need.taken``). A need paid with points holds the requester's
    points now."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    a = _mine(actor, assignment_id)
    if a.state not in (A.ACCEPTED, A.COMPLETED):
        actions.accept_assignment(actor=actor, assignment=a)
    return _answer(assignment_id)


@router.post(
    "needs/assignments/{int:assignment_id}/decline",
    response={200: AssignmentStateOut, **ERRORS},
    operation_id="huzhu_needs_api_decline_assignment",
)
def decline_assignment(
    request: HttpRequest, assignment_id: PathId, payload: ReasonIn
) -> AssignmentStateOut:
    """Decline an offer with a reason; I am not asked again for this need. When nobody is
    left to answer, the need goes back to be matched again."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    a = _mine(actor, assignment_id)
    if a.state != A.DECLINED:
        actions.decline_assignment(actor=actor, assignment=a, reason=payload.reason)
    return _answer(assignment_id)


@router.post(
    "needs/assignments/{int:assignment_id}/check-in",
    response={200: AssignmentStateOut, **ERRORS},
    operation_id="huzhu_needs_api_check_in",
)
def check_in(request: HttpRequest, assignment_id: PathId, payload: KeyIn) -> AssignmentStateOut:
    """I arrived: the service starts, and the time served counts from now."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    a = _mine(actor, assignment_id)
    if a.check_in_at is None:
        actions.check_in(actor=actor, assignment=a)
    return _answer(assignment_id)


@router.post(
    "needs/assignments/{int:assignment_id}/check-out",
    response={200: AssignmentStateOut, **ERRORS},
    operation_id="huzhu_needs_api_check_out",
)
def check_out(request: HttpRequest, assignment_id: PathId, payload: KeyIn) -> AssignmentStateOut:
    """I am done: the need waits for the requester's confirmation; the hours served are
    check-out − check-in."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    a = _mine(actor, assignment_id)
    if a.check_out_at is None:
        actions.check_out(actor=actor, assignment=a)
    return _answer(assignment_id)
