"""Serving: check-in and check-out, the confirmation that credits the hours and pays held
points through the time bank, the rating (DOMAIN.md "The core loop" 5.–7.)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.needs import states
from huzhu.needs.actions.common import authorize, clean_text, lock_need, move
from huzhu.needs.actions.publish import repeat_need
from huzhu.needs.models import (
    Assignment,
    AssignmentState,
    Need,
    NeedEvent,
    NeedState,
    Rating,
)
from huzhu.timebank.actions import rules as timebank_rules
from huzhu.timebank.actions.ledger import credit_service

A = AssignmentState


# --- serve ----------------------------------------------------------------------------------


def _holding_assignment(need: Need) -> Assignment:
    a = (
        Assignment.objects.select_for_update()
        .filter(need=need, state=A.ACCEPTED)
        .select_related("volunteer")
        .first()
    )
    if a is None:
        raise ConflictError("needs.assignment.none", _("该需求还没有志愿者接单。"))
    return a


def check_in(*, actor: Person, assignment: Assignment) -> Assignment:
    """The volunteer arrives and checks in: the service starts (DOMAIN.md "The core loop"
    5. Serve); the time served counts from here."""
    with transaction.atomic():
        need = lock_need(assignment.need)
        a = Assignment.objects.select_for_update().get(pk=assignment.pk)
        authorize(actor, states.transition("check_in").parties, need, a)
        states.check(need.state, "check_in")
        if a.state != A.ACCEPTED:
            raise ConflictError("needs.assignment.not_holder", _("你不是该需求的服务志愿者。"))
        a.check_in_at = clock.now()
        a.save(update_fields=["check_in_at", "updated_at"])
        move(need, "check_in", actor=actor, audit={"at": a.check_in_at})
    return a


def check_out(*, actor: Person, assignment: Assignment) -> Assignment:
    """The volunteer checks out; the need waits for the requester's confirmation, and the
    hours served are check-out − check-in (DOMAIN.md "The core loop" 6.–7.)."""
    with transaction.atomic():
        need = lock_need(assignment.need)
        a = Assignment.objects.select_for_update().get(pk=assignment.pk)
        authorize(actor, (states.VOLUNTEER,), need, a)
        if need.state != NeedState.IN_SERVICE or a.state != A.ACCEPTED:
            raise ConflictError("needs.check_out.not_in_service", _("尚未签到，不能签退。"))
        if a.check_out_at is not None:
            return a
        now = clock.now()
        a.check_out_at = now
        a.save(update_fields=["check_out_at", "updated_at"])
        NeedEvent.objects.create(
            need=need,
            community_id=need.community_id,
            actor=actor,
            transition="check_out",
            from_state=need.state,
            to_state=need.state,
            at=now,
        )
        record(
            "needs.need.checked_out",
            actor=actor,
            target=need,
            community=need.community,
            new={"assignment": a.pk, "at": now},
        )
    return a


def service_hours(need: Need, a: Assignment) -> Decimal:
    """Hours served: check-out − check-in when both are known, else the planned duration;
    in hundredths of an hour (the time bank's precision)."""
    minutes = need.duration_minutes
    if a.check_in_at is not None and a.check_out_at is not None:
        measured = int((a.check_out_at - a.check_in_at).total_seconds() // 60)
        if measured > 0:
            minutes = measured
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def confirm_need(*, actor: Person, need: Need, slip_number: str = "") -> Need:
    """The requester confirms the service (验收), or a building manager confirms it from the
    paper slip, whose number is then required ("needs.manage"). The volunteer is credited
    ``timebank.points_per_hour`` per hour served through the time bank (1 hour = 1 point,
    doubled on a first-service day); a need paid with points settles its hold to the
    volunteer (DOMAIN.md "The core loop" 6. Confirm, 7. Credit)."""
    slip_number = clean_text(slip_number, "slip_number", 40, required=False)
    with transaction.atomic():
        need = lock_need(need)
        t = states.transition("confirm")
        party = authorize(actor, t.parties, need)
        states.check(need.state, "confirm")
        if party != states.REQUESTER and not slip_number:
            raise DomainError(
                "needs.slip.required",
                _("代为验收须填写纸质服务单编号。"),
                details={"field": "slip_number"},
            )
        a = _holding_assignment(need)
        now = clock.now()
        hours = service_hours(need, a)
        day = timezone.localtime(a.check_in_at or need.starts_at).date()
        credit = credit_service(
            actor=None,
            volunteer=a.volunteer,
            hours=hours,
            community=need.community,
            key=f"need:{need.pk}:credit",
            service_date=min(day, clock.today()),
            reference=f"need:{need.pk}",
        )
        payment = None
        if need.hold_id is not None and need.hold is not None:
            payment = timebank_rules.settle_hold(
                actor=None,
                hold=need.hold,
                payee=a.volunteer,
                key=f"need:{need.pk}:pay",
                memo=_("需求 #%(id)s 积分支付") % {"id": need.pk},
            )
        a.state = A.COMPLETED
        a.save(update_fields=["state", "updated_at"])
        need.confirmed_by = actor
        need.confirmed_at = now
        need.slip_number = slip_number
        move(
            need,
            "confirm",
            actor=actor,
            note=slip_number,
            audit={
                "hours": hours,
                "slip_number": slip_number,
                "credit": credit.pk,
                "payment": payment.pk if payment is not None else None,
            },
            update_fields=("confirmed_by", "confirmed_at", "slip_number"),
        )
        repeat_need(actor=actor, need=need)
    return need


def rate_need(*, actor: Person, need: Need, stars: int, comment: str = "") -> Rating:
    """The requester (or a manager from the paper slip) rates a completed service 1–5 stars
    with a comment (DOMAIN.md "The core loop" 6. Confirm … rates 1–5 stars)."""
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise DomainError(
            "needs.rating.invalid", _("评分须为 1 到 5 星。"), details={"field": "stars"}
        )
    comment = clean_text(comment, "comment", 500, required=False)
    with transaction.atomic():
        need = lock_need(need)
        t = states.transition("rate")
        authorize(actor, t.parties, need)
        states.check(need.state, "rate")
        a = Assignment.objects.get(need=need, state=A.COMPLETED)
        rating = Rating.objects.create(
            need=need,
            community_id=need.community_id,
            volunteer_id=a.volunteer_id,
            rated_by=actor,
            stars=stars,
            comment=comment,
            created_at=clock.now(),
        )
        move(need, "rate", actor=actor, audit={"stars": stars, "comment": comment})
    return rating
