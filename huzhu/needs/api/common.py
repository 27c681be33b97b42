"""The needs router and what its operations share: the calling person, the idempotency key,
fetching a need or an assignment in scope, and turning rows into output schemas.

Idempotency. Every write requires a key (header ``Idempotency-Key``, or the body field
``idempotency_key`` where a client cannot set headers). The actions keep no table of keys;
they are idempotent by state, and so is the API: before acting, an operation looks whether
its effect is already there, done by the same person, and if so answers **200 with the
current state and does nothing** (no second history row, audit entry, notification or
posting). What a replay answers, operation by operation:

- publish: the same person publishing the same need again (same requester, type, time window,
  description, payment and constraints) while the first is still open answers the first need
  (200 instead of 201);
- review: the need already approved (or further along) / rejected by the same reviewer;
- offer: every volunteer of the request already asked for this need: 200 with their
  assignments as they stand, nobody is told twice;
- accept: the volunteer's assignment already accepted (or completed);
- decline: already declined; check-in / check-out: already checked in / out;
- confirm: already confirmed by the same person (nothing credited or paid twice);
- rate: already rated by the same person with the same stars and comment (a different rating
  is refused: 409 ``needs.need.bad_state``);
- cancel: already cancelled by the same person; no-show: already recorded as a no-show.

Anything else goes to the action, whose rules answer (e.g. 409 ``needs.need.bad_state``).
Permission comes first: a replay by someone without the right is still 404 / 403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from ninja import Router

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core.api import actor_of as actor_of
from huzhu.core.api import idempotency_key
from huzhu.core.models import localized
from huzhu.needs import states
from huzhu.needs.actions.common import is_requester_party
from huzhu.needs.api.schemas import (
    AssignmentOut,
    EventOut,
    NeedDetailOut,
    NeedOut,
    NeedTypeOut,
    RatingOut,
)
from huzhu.needs.models import Assignment, AssignmentState, Need, NeedState, NeedType

router = Router(tags=["needs"])

VIEW = "needs.view"
# The states in which a requester sees the volunteer's assignment.
_HOLDING = {AssignmentState.ACCEPTED, AssignmentState.COMPLETED, AssignmentState.NO_SHOW}
# The transitions a person can take (not the sweeper's alone), for ``NeedOut.next``.
_PERSONAL = {n for n, t in states.TRANSITIONS.items() if t.parties != (states.SYSTEM,)}

# The API's idempotency key (header, else body field): one definition for every app.
key_of = idempotency_key


# --- fetching in scope -----------------------------------------------------------------------


def needs_qs() -> QuerySet[Need]:
    return Need.objects.select_related(
        "need_type", "building__community", "community__alliance", "rating"
    )


def load_need(need_id: int) -> Need:
    """The need with what its output and its permission checks read (404 if unknown)."""
    return get_object_or_404(needs_qs(), pk=need_id)


def can_view(actor: Person, need: Need) -> bool:
    """ "needs.view" on the need's building (else community), or a party to it: the requester,
    whoever published it for them, a volunteer asked to serve it."""
    if is_requester_party(actor, need) or policy.can(actor, VIEW, need.scope_node()):
        return True
    return Assignment.objects.filter(need=need, volunteer=actor).exists()


def visible_need(actor: Person, need_id: int) -> Need:
    """The need if the actor may see it; 404 outside their scope, 403 inside it."""
    need = load_need(need_id)
    if can_view(actor, need):
        return need
    if not policy.in_scope(actor, need.scope_node()):
        raise Http404
    raise PermissionDenied(VIEW)


def load_assignment(assignment_id: int) -> Assignment:
    return get_object_or_404(
        Assignment.objects.select_related(
            "volunteer",
            "need__need_type",
            "need__building__community",
            "need__community__alliance",
            "need__rating",
        ),
        pk=assignment_id,
    )


def visible_needs(actor: Person) -> QuerySet[Need]:
    """Needs the actor may see: "needs.view" where they hold it, plus their own (as requester
    or publisher) and those they were asked to serve."""
    mine = Need.objects.filter(requester=actor) | Need.objects.filter(published_by=actor)
    asked = Need.objects.filter(pk__in=Assignment.objects.filter(volunteer=actor).values("need_id"))
    return policy.visible_to(actor, VIEW, Need.objects.all()) | mine | asked


# --- output ----------------------------------------------------------------------------------


def building_label(need: Need) -> str:
    b = need.building
    if b is None:
        return ""
    return f"{localized(b.community.name, b.community.name_en)} {b.name}"


def need_out(need: Need) -> NeedOut:
    return NeedOut(**_need_fields(need))


def _need_fields(need: Need) -> dict[str, Any]:
    rating = getattr(need, "rating", None)
    return {
        "id": need.pk,
        "type": need.need_type.code,
        "type_name": str(need.need_type),
        "description": need.description,
        "state": need.state,
        "state_label": str(NeedState(need.state).label),
        "starts_at": need.starts_at,
        "ends_at": need.ends_at,
        "duration_minutes": need.duration_minutes,
        "radius_m": need.radius_m,
        "urgency": need.urgency,
        "gender": need.gender,
        "needs_strength": need.needs_strength,
        "certification_required": need.certification_required,
        "language": need.language,
        "pay_with_points": need.pay_with_points,
        "points": need.points,
        "recurrence": need.recurrence,
        "community_id": need.community_id,
        "building_id": need.building_id,
        "building": building_label(need),
        "requester_id": need.requester_id,
        "published_by_id": need.published_by_id,
        "on_behalf": need.on_behalf,
        "review_due_at": need.review_due_at,
        "accept_due_at": need.accept_due_at,
        "reject_reason": need.reject_reason,
        "cancel_reason": need.cancel_reason,
        "confirmed_at": need.confirmed_at,
        "slip_number": need.slip_number,
        "rating": (
            RatingOut(stars=rating.stars, comment=rating.comment, created_at=rating.created_at)
            if rating is not None
            else None
        ),
        "next": [n for n in states.next_names(need.state) if n in _PERSONAL],
    }


def assignment_out(a: Assignment) -> AssignmentOut:
    return AssignmentOut(**_assignment_fields(a))


def _assignment_fields(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "need_id": a.need_id,
        "volunteer_id": a.volunteer_id,
        "state": a.state,
        "state_label": str(AssignmentState(a.state).label),
        "offered_at": a.offered_at,
        "expires_at": a.expires_at,
        "responded_at": a.responded_at,
        "decline_reason": a.decline_reason,
        "check_in_at": a.check_in_at,
        "check_out_at": a.check_out_at,
        "reasons": [str(r) for r in (a.reasons or [])],
    }


def need_detail_out(actor: Person, need: Need) -> NeedDetailOut:
    """The need with its history and the assignments the actor may see: all of them with
    "needs.view", else the actor's own and, for the requester, the one serving them."""
    rows = list(Assignment.objects.filter(need=need).order_by("id"))
    if not policy.can(actor, VIEW, need.scope_node()):
        requester = is_requester_party(actor, need)
        rows = [
            a for a in rows if a.volunteer_id == actor.pk or (requester and a.state in _HOLDING)
        ]
    events = [
        EventOut(
            transition=e.transition,
            from_state=e.from_state,
            to_state=e.to_state,
            at=e.at,
            actor_id=e.actor_id,
            note=e.note,
        )
        for e in need.events.order_by("at", "pk")
    ]
    return NeedDetailOut(
        **_need_fields(need), assignments=[assignment_out(a) for a in rows], events=events
    )


def need_type_out(t: NeedType) -> NeedTypeOut:
    return NeedTypeOut(
        code=t.code,
        name=str(t),
        default_duration_minutes=t.default_duration_minutes,
        default_radius_m=t.default_radius_m,
        skills=[s.code for s in t.skills.all()],
    )
