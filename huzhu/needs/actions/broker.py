"""What a broker (社会公益经纪人) arranges for the people in their care beyond publishing and
offering (DOMAIN.md roles: "arranges recurring services"; "Recurring needs exist")."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core.errors import ConflictError, DomainError
from huzhu.needs import states
from huzhu.needs.actions.common import lock_need
from huzhu.needs.actions.publish import repeat_need
from huzhu.needs.models import Assignment, Need, NeedState, Recurrence

S = NeedState
#: A service can be made recurring while it is open or once it was served.
ARRANGEABLE = frozenset(
    {S.SUBMITTED, S.APPROVED, S.OFFERED, S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.RATED}
)
SERVED = frozenset({S.COMPLETED, S.RATED})


def arrange_recurring(*, actor: Person, need: Need, recurrence: str) -> Need | None:
    """Make ``need`` the first of a recurring service — weekly, every two weeks or monthly —
    with the volunteer who serves it preferred next time (continuity; DOMAIN.md "Match"). The
    next occurrence is published by the existing repeat logic (``repeat_need``) when this one is
    confirmed; if it was served already, it is published now. Who: the person served, or
    whoever may publish for them ("needs.publish_for": broker, building manager, branch
    head). Arranging the same rhythm again changes nothing; another rhythm is refused (the
    series keeps its own). Returns the next occurrence when
    one was published now."""
    if recurrence not in (Recurrence.WEEKLY, Recurrence.BIWEEKLY, Recurrence.MONTHLY):
        raise DomainError(
            "needs.recurrence.invalid", _("重复方式无效。"), details={"field": "recurrence"}
        )
    with transaction.atomic():
        need = lock_need(need)
        if actor.pk != need.requester_id:
            policy.require(actor, "needs.publish_for", need.requester)
        if need.state not in ARRANGEABLE:
            raise ConflictError(
                "needs.need.bad_state",
                _("需求当前状态为“%(state)s”，不能设为周期服务。")
                % {"state": NeedState(need.state).label},
                details={"state": need.state},
            )
        if need.recurrence == recurrence:
            return None  # arranged already (a repeated click)
        if need.recurrence != Recurrence.NONE:
            raise ConflictError(
                "needs.recurrence.already",
                _("该服务已是周期服务（%(rhythm)s），不能更改。")
                % {"rhythm": Recurrence(need.recurrence).label},
            )
        old = need.recurrence
        holder = (
            Assignment.objects.filter(need=need, state__in=states.HOLDING_ASSIGNMENT_STATES)
            .values_list("volunteer_id", flat=True)
            .first()
        )
        need.recurrence = recurrence
        if holder is not None:
            need.preferred_volunteer_id = holder
        need.save(update_fields=["recurrence", "preferred_volunteer", "updated_at"])
        record(
            "needs.need.recurrence_arranged",
            actor=actor,
            target=need,
            community=need.community,
            on_behalf_of=need.requester if actor.pk != need.requester_id else None,
            old={"recurrence": old},
            new={"recurrence": recurrence, "preferred_volunteer": need.preferred_volunteer_id},
        )
        if need.state in SERVED:
            return repeat_need(actor=actor, need=need)
    return None
