"""The one state machine of a need (DOMAIN.md "The core loop").

    submitted → approved | rejected(reason)
    approved  → offered                      (volunteers asked; accept within 2 hours)
    offered   → offered                      (more volunteers asked)
    offered   → approved                     (every offer declined or expired: re-match)
    offered   → accepted                     (the first volunteer to accept wins, once)
    accepted  → in_service                   (check-in)
    accepted | in_service → completed        (the resident confirms, or a manager from a slip)
    completed → rated                        (1–5 stars)
    submitted | approved | offered | accepted → cancelled   (2 hours' notice once offered)
    submitted | approved | offered → expired (the time window began with nobody accepted)
    accepted  → no_show                      (the volunteer did not come: −5 points)

Every transition is one action of ``huzhu.needs.actions``; ``TRANSITIONS`` says which states it
leaves from, where it goes, and which parties may take it. The parties are checked by the
action (``huzhu.needs.actions._authorize``) through the policy module.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from huzhu.core.errors import ConflictError


class NeedState(models.TextChoices):
    SUBMITTED = "submitted", _("待审核")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已驳回")
    OFFERED = "offered", _("待接单")
    ACCEPTED = "accepted", _("已接单")
    IN_SERVICE = "in_service", _("服务中")
    COMPLETED = "completed", _("已完成")
    RATED = "rated", _("已评价")
    CANCELLED = "cancelled", _("已取消")
    EXPIRED = "expired", _("已过期")
    NO_SHOW = "no_show", _("爽约")


S = NeedState

# The parties an action may be taken by:
#   requester — the person served, or whoever published the need for them;
#   volunteer — the volunteer the assignment is for;
#   system    — a job (actor=None): the sweeper;
#   anything else is a permission of huzhu.accounts.policy, checked on the need's building
#   (else its community).
REQUESTER = "requester"
VOLUNTEER = "volunteer"
SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str
    parties: tuple[str, ...]
    audit_code: str


def _t(
    name: str, sources: set[str], target: str, parties: tuple[str, ...], code: str
) -> Transition:
    return Transition(name, frozenset(sources), target, parties, code)


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        _t("approve", {S.SUBMITTED}, S.APPROVED, ("needs.review",), "needs.need.approved"),
        _t("reject", {S.SUBMITTED}, S.REJECTED, ("needs.review",), "needs.need.rejected"),
        _t(
            "offer",
            {S.APPROVED, S.OFFERED},
            S.OFFERED,
            ("needs.offer", SYSTEM),
            "needs.need.offered",
        ),
        _t("rematch", {S.OFFERED}, S.APPROVED, (VOLUNTEER, SYSTEM), "needs.need.rematch"),
        _t("accept", {S.OFFERED}, S.ACCEPTED, (VOLUNTEER,), "needs.need.accepted"),
        _t("check_in", {S.ACCEPTED}, S.IN_SERVICE, (VOLUNTEER,), "needs.need.checked_in"),
        _t(
            "confirm",
            {S.ACCEPTED, S.IN_SERVICE},
            S.COMPLETED,
            (REQUESTER, "needs.manage"),
            "needs.need.confirmed",
        ),
        _t("rate", {S.COMPLETED}, S.RATED, (REQUESTER, "needs.manage"), "needs.need.rated"),
        _t(
            "cancel",
            {S.SUBMITTED, S.APPROVED, S.OFFERED, S.ACCEPTED},
            S.CANCELLED,
            (REQUESTER, "needs.manage"),
            "needs.need.cancelled",
        ),
        _t(
            "expire",
            {S.SUBMITTED, S.APPROVED, S.OFFERED},
            S.EXPIRED,
            (SYSTEM,),
            "needs.need.expired",
        ),
        _t("no_show", {S.ACCEPTED}, S.NO_SHOW, ("needs.manage", SYSTEM), "needs.need.no_show"),
    )
}

# The states in which nothing happens any more.
FINAL_STATES = frozenset({S.REJECTED, S.RATED, S.CANCELLED, S.EXPIRED, S.NO_SHOW})
# The states in which a need has its one volunteer.
STAFFED_STATES = frozenset({S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.RATED, S.NO_SHOW})


def transition(name: str) -> Transition:
    return TRANSITIONS[name]


def allowed(state: str, name: str) -> bool:
    """May a need in ``state`` take transition ``name``?"""
    return state in TRANSITIONS[name].sources


def check(state: str, name: str) -> Transition:
    """The transition, or a 409 saying the need is not in a state that allows it."""
    t = TRANSITIONS[name]
    if state not in t.sources:
        raise ConflictError(
            "needs.need.bad_state",
            gettext("需求当前状态为“%(state)s”，不能执行此操作。")
            % {"state": NeedState(state).label},
            details={"state": state, "transition": name},
        )
    return t


def next_names(state: str) -> list[str]:
    """The transitions a need in ``state`` may take (for pages: which buttons to show)."""
    return [name for name, t in TRANSITIONS.items() if state in t.sources]


class AssignmentState(models.TextChoices):
    OFFERED = "offered", _("待回复")
    ACCEPTED = "accepted", _("已接单")
    DECLINED = "declined", _("已谢绝")
    EXPIRED = "expired", _("已超时")
    WITHDRAWN = "withdrawn", _("已撤回")
    COMPLETED = "completed", _("已完成")
    NO_SHOW = "no_show", _("爽约")
    CANCELLED = "cancelled", _("已取消")


# An assignment in one of these states holds the need: at most one per need (a DB constraint).
HOLDING_ASSIGNMENT_STATES = (
    AssignmentState.ACCEPTED,
    AssignmentState.COMPLETED,
    AssignmentState.NO_SHOW,
)
