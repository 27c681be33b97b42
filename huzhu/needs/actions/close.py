"""Ending a need otherwise: cancellation with notice, no-show with its penalty, expiry, and
the freeze after a malicious cancellation (DOMAIN.md "The core loop" 8. Cancel)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person, Status
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.needs import states
from huzhu.needs.actions.common import authorize, clean_text, lock_need, move, setting, tell
from huzhu.needs.actions.publish import repeat_need
from huzhu.needs.actions.serve import _holding_assignment
from huzhu.needs.models import (
    Assignment,
    AssignmentState,
    Need,
    NeedState,
)
from huzhu.timebank.actions import rules as timebank_rules
from huzhu.timebank.actions.ledger import release_hold

A = AssignmentState


# --- cancel, no-show, expire ----------------------------------------------------------------


def _release(need: Need) -> None:
    if need.hold is not None and need.hold.released_at is None:
        release_hold(actor=None, hold=need.hold)


def cancel_need(*, actor: Person, need: Need, reason: str) -> Need:
    """The requester (or a building manager, "needs.manage") cancels with a reason. Once
    volunteers have been asked, only at least ``needs.cancel_notice_hours`` (2) hours before
    the start; later the need can only end as served or as a no-show (DOMAIN.md "The core
    loop" 8. Cancel: at least 2 hours notice). Open offers are withdrawn, held points given
    back, an accepted volunteer told."""
    reason = clean_text(reason, "reason", 500, required=True)
    with transaction.atomic():
        need = lock_need(need)
        t = states.transition("cancel")
        authorize(actor, t.parties, need)
        states.check(need.state, "cancel")
        now = clock.now()
        if need.state in (NeedState.OFFERED, NeedState.ACCEPTED):
            notice = setting("needs.cancel_notice_hours", need)
            if now > need.starts_at - dt.timedelta(hours=notice):
                raise DomainError(
                    "needs.need.cancel_too_late",
                    _("距服务开始已不足 %(hours)s 小时，不能取消。如有特殊情况请联系楼长。")
                    % {"hours": notice},
                    details={"notice_hours": notice},
                    status=409,
                )
        accepted = (
            Assignment.objects.filter(need=need, state=A.ACCEPTED)
            .select_related("volunteer")
            .first()
        )
        Assignment.objects.filter(need=need, state=A.OFFERED).update(
            state=A.WITHDRAWN, updated_at=now
        )
        if accepted is not None:
            accepted.state = A.CANCELLED
            accepted.save(update_fields=["state", "updated_at"])
        _release(need)
        need.cancelled_by = actor
        need.cancelled_at = now
        need.cancel_reason = reason
        move(
            need,
            "cancel",
            actor=actor,
            note=reason,
            audit={"reason": reason},
            update_fields=("cancelled_by", "cancelled_at", "cancel_reason"),
        )
        if accepted is not None:
            tell(
                accepted.volunteer,
                "needs.need.cancelled",
                f"needs.need.cancelled:{need.pk}",
                need,
                reason=reason,
            )
    return need


def mark_no_show(*, actor: Person | None, need: Need, note: str = "") -> Need:
    """A building manager ("needs.manage") or a job records that the accepted volunteer did
    not come (never checked in) after the start: the time bank's no-show penalty
    (``timebank.no_show_penalty``, 5 points) is taken through ``penalize_no_show`` and any
    held points go back to the requester (DOMAIN.md "The core loop" 8. no-show −5 points)."""
    note = clean_text(note, "note", 500, required=False)
    with transaction.atomic():
        need = lock_need(need)
        t = states.transition("no_show")
        authorize(actor, t.parties, need)
        states.check(need.state, "no_show")
        now = clock.now()
        if now < need.starts_at:
            raise DomainError("needs.no_show.too_early", _("服务尚未开始，不能记为爽约。"))
        a = _holding_assignment(need)
        penalty = timebank_rules.penalize_no_show(
            actor=None,
            volunteer=a.volunteer,
            community=need.community,
            key=f"need:{need.pk}:no_show",
            reference=f"need:{need.pk}",
        )
        a.state = A.NO_SHOW
        a.save(update_fields=["state", "updated_at"])
        _release(need)
        move(
            need,
            "no_show",
            actor=actor,
            note=note,
            audit={"volunteer": a.volunteer_id, "penalty": penalty.pk if penalty else None},
        )
        repeat_need(actor=actor, need=need)
    return need


def expire_need(*, need: Need, actor: Person | None = None) -> Need:
    """A job closes a need whose time window began while nobody had accepted it; open offers
    expire (DOMAIN.md "The core loop": a need is never lost — it ends in a recorded state)."""
    with transaction.atomic():
        need = lock_need(need)
        t = states.transition("expire")
        authorize(actor, t.parties, need)
        states.check(need.state, "expire")
        now = clock.now()
        Assignment.objects.filter(need=need, state=A.OFFERED).update(
            state=A.EXPIRED, updated_at=now
        )
        move(need, "expire", actor=actor, note=_("开始时间已过仍无人接单"))
        repeat_need(actor=actor, need=need)
    return need


def freeze_requester(*, actor: Person, need: Need, reason: str) -> Person:
    """A building manager decides that a cancellation was malicious: the requester may not
    publish for ``needs.malicious_cancel_freeze_days`` (30) days (DOMAIN.md "The core loop"
    8.: "a resident's malicious cancellation freezes their right to request for 1 month";
    the manager's decision, audited). The freeze itself is the accounts' ``set_status``."""
    from huzhu.accounts.actions.people import set_status

    reason = clean_text(reason, "reason", 500, required=True)
    with transaction.atomic():
        need = lock_need(need)
        authorize(actor, ("needs.manage",), need)
        if need.state != NeedState.CANCELLED:
            raise ConflictError(
                "needs.freeze.not_cancelled", _("只有已取消的需求才能认定为恶意取消。")
            )
        days = setting("needs.malicious_cancel_freeze_days", need)
        until = clock.now() + dt.timedelta(days=days)
        person = set_status(
            actor=actor,
            person=need.requester,
            status=Status.FROZEN,
            until=until,
            reason=reason,
        )
        record(
            "needs.need.malicious_cancel",
            actor=actor,
            target=need,
            community=need.community,
            new={"requester": need.requester_id, "until": until, "reason": reason},
        )
    return person
