"""Overdue deadlines, handed up once (DOMAIN.md "The core loop" 2. "Overdue reviews
escalate", 4. "Accept within 2 hours, else re-match or escalate").

Levels (``Need.escalation_level``, only ever raised):
  1 — a review is overdue: the community's branch heads are told; the need is on their list;
  2 — an accept is overdue: the open offers expire, the need goes back to be matched again,
      and the branch heads are told.
A later overdue round of the same need re-matches silently: nothing is escalated twice.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person, Role
from huzhu.audit.service import record
from huzhu.needs.actions.common import lock_need, move, tell
from huzhu.needs.models import Assignment, AssignmentState, EscalationLevel, Need, NeedState


def branch_heads(need: Need) -> list[Person]:
    """The people holding an active branch-head grant on the need's community."""
    return list(
        Person.objects.filter(
            grants__role=Role.BRANCH_HEAD,
            grants__community_id=need.community_id,
            grants__scope_kind="community",
            grants__revoked_at__isnull=True,
            is_active=True,
        )
        .distinct()
        .order_by("pk")
    )


def _tell_heads(need: Need, level: int, what: str) -> list[int]:
    heads = branch_heads(need)
    for head in heads:
        tell(
            head,
            "needs.need.escalated",
            f"needs.need.escalated:{need.pk}:{level}:{head.pk}",
            need,
            what=what,
        )
    return [h.pk for h in heads]


def escalate_review(*, need: Need, now: dt.datetime) -> bool:
    """A submitted need past ``review_due_at`` goes to the branch head (level 1), once.
    Returns whether it escalated now (False: reviewed meanwhile, not due, or done before)."""
    with transaction.atomic():
        need = lock_need(need)
        if (
            need.state != NeedState.SUBMITTED
            or need.review_due_at is None
            or need.review_due_at > now
            or need.escalation_level >= EscalationLevel.BRANCH_HEAD
        ):
            return False
        need.escalation_level = EscalationLevel.BRANCH_HEAD
        need.escalated_at = now
        need.save(update_fields=["escalation_level", "escalated_at", "updated_at"])
        heads = _tell_heads(need, EscalationLevel.BRANCH_HEAD, _("待审核"))
        record(
            "needs.need.review_escalated",
            actor=None,
            target=need,
            community=need.community,
            old={"escalation_level": EscalationLevel.NONE},
            new={
                "escalation_level": EscalationLevel.BRANCH_HEAD,
                "review_due_at": need.review_due_at,
                "branch_heads": heads,
            },
        )
    return True


def lapse_offers(*, need: Need, now: dt.datetime) -> bool:
    """An offered need past ``accept_due_at``: its open offers expire and it goes back to be
    matched again; the first time also up to the branch head (level 2). Returns whether it
    escalated now."""
    with transaction.atomic():
        need = lock_need(need)
        if (
            need.state != NeedState.OFFERED
            or need.accept_due_at is None
            or need.accept_due_at > now
        ):
            return False
        expired = Assignment.objects.filter(need=need, state=AssignmentState.OFFERED).update(
            state=AssignmentState.EXPIRED, updated_at=now
        )
        due = need.accept_due_at
        need.accept_due_at = None
        escalate = need.escalation_level < EscalationLevel.REMATCHED
        fields: tuple[str, ...] = ("accept_due_at",)
        if escalate:
            old_level = need.escalation_level
            need.escalation_level = EscalationLevel.REMATCHED
            need.escalated_at = now
            fields = (*fields, "escalation_level", "escalated_at")
        move(
            need,
            "rematch",
            actor=None,
            note=_("超过接单时限，重新匹配"),
            audit={"offers_expired": expired, "accept_due_at": due},
            update_fields=fields,
        )
        if escalate:
            heads = _tell_heads(need, EscalationLevel.REMATCHED, _("无人接单，需重新匹配"))
            record(
                "needs.need.accept_escalated",
                actor=None,
                target=need,
                community=need.community,
                old={"escalation_level": old_level},
                new={
                    "escalation_level": EscalationLevel.REMATCHED,
                    "accept_due_at": due,
                    "branch_heads": heads,
                },
            )
    return escalate
