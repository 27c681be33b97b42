"""Offering a need to volunteers, and their answers: the first to accept wins, exactly once
(DOMAIN.md "The core loop" 3. Match, 4. Accept)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person, Status
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.needs import states
from huzhu.needs.actions.common import authorize, clean_text, lock_need, move, setting, tell
from huzhu.needs.matching.rules import AVAILABILITY, CODES, DECLINED
from huzhu.needs.models import (
    Assignment,
    AssignmentState,
    Need,
    NeedState,
)
from huzhu.timebank.actions.ledger import hold, person_account

if TYPE_CHECKING:
    from huzhu.needs.candidates import Located
    from huzhu.needs.matching import Candidate

A = AssignmentState


def _taken() -> ConflictError:
    return ConflictError("needs.need.taken", _("已被他人接单。"))


def _check_volunteer_active(volunteer: Person, at: dt.datetime) -> None:
    if not volunteer.is_active or volunteer.effective_status(at) != Status.ACTIVE:
        raise DomainError(
            "needs.volunteer.inactive",
            _("志愿者%(name)s当前暂停服务或已冻结，不能派单。") % {"name": volunteer.name},
            details={"volunteer": volunteer.pk},
        )


def _check_basics(need: Need, volunteer: Person, at: dt.datetime) -> None:
    """Not the requester, inside the need's alliance, active, the gender asked for."""
    if volunteer.pk == need.requester_id:
        raise DomainError("needs.volunteer.is_requester", _("不能派单给服务对象本人。"))
    if volunteer.community is None or volunteer.community.alliance_id != need.community.alliance_id:
        raise DomainError(
            "needs.volunteer.outside",
            _("志愿者%(name)s不在本联盟内。") % {"name": volunteer.name},
            details={"volunteer": volunteer.pk},
        )
    _check_volunteer_active(volunteer, at)
    if need.gender and volunteer.gender != need.gender:
        raise DomainError(
            "needs.volunteer.gender",
            _("志愿者%(name)s不符合该需求的性别要求。") % {"name": volunteer.name},
            details={"volunteer": volunteer.pk},
        )


# --- the hard constraints of a pick ---------------------------------------------------------

#: The rules of ``huzhu.needs.matching.rules`` a manager's (or broker's) own pick must also meet.
#: Not availability: a volunteer asked outside their weekly slots may still accept (the offer
#: is a question); not declined: a volunteer who declined is skipped, never asked again.
PICK_RULES = frozenset(CODES) - {AVAILABILITY, DECLINED}


def rule_message(code: str, name: str) -> str:
    """The hard constraint ``code`` (``huzhu.needs.matching.CODES``, or ``place_unknown``)
    that volunteer ``name`` breaks, in words."""
    texts = {
        "status": _("志愿者%(name)s当前暂停服务或已冻结，不能派单。"),
        "requester": _("不能派单给服务对象本人。"),
        "declined": _("志愿者%(name)s已谢绝该需求。"),
        "skill": _("志愿者%(name)s不具备该需求所需的技能。"),
        "certification": _("志愿者%(name)s没有该需求所需的有效资格证书。"),
        "gender": _("志愿者%(name)s不符合该需求的性别要求。"),
        "strength": _("该需求需要体力，志愿者%(name)s不符合。"),
        "language": _("志愿者%(name)s不会该需求要求的语言。"),
        "load_limit": _("志愿者%(name)s进行中的服务已达上限，不能再派单。"),
        "availability": _("志愿者%(name)s在该时段没有空。"),
        "double_booking": _("志愿者%(name)s在该时段已有其他服务。"),
        "distance": _("志愿者%(name)s距离服务地点超出搜索半径。"),
        "place_unknown": _("志愿者%(name)s的位置未知，无法确认是否在搜索半径内。"),
    }
    return texts.get(code, _("志愿者%(name)s不符合该需求的条件。")) % {"name": name}


def fresh_candidates(
    need: Need, volunteers: Sequence[Person], at: dt.datetime
) -> tuple[Located, dict[int, Candidate]]:
    """The need's spec and the volunteers as the matching core sees them now (a volunteer
    without a known position is missing when the need has a place)."""
    from huzhu.needs.candidates import build_candidates, need_spec

    located = need_spec(need)
    found = build_candidates(
        need,
        list(volunteers),
        at=at,
        load_limit=setting("needs.volunteer_load_limit", need),
        has_location=located.has_location,
    )
    return located, {c.id: c for c in found}


def pick_violations(
    need: Need, volunteers: Sequence[Person], at: dt.datetime, rules: frozenset[str]
) -> dict[int, list[str]]:
    """Volunteer id → the hard constraints in ``rules`` they break for ``need`` now, from fresh
    candidates (``huzhu.needs.candidates``) checked by the pure core's ``violations`` (a constant
    number of queries for all of them). A volunteer without a known position, for a need with
    a place, breaks ``place_unknown``."""
    from huzhu.needs.matching import violations

    if not volunteers:
        return {}
    located, fresh = fresh_candidates(need, volunteers, at)
    found: dict[int, list[str]] = {}
    for volunteer in volunteers:
        cand = fresh.get(volunteer.pk)
        if cand is None:
            found[volunteer.pk] = ["place_unknown"] if "distance" in rules else []
            continue
        found[volunteer.pk] = [c for c in violations(located.spec, cand) if c in rules]
    return found


def _check_pick(need: Need, volunteers: Sequence[Person], at: dt.datetime) -> None:
    """Every volunteer of a pick meets the hard constraints of ``PICK_RULES`` now, else a
    DomainError naming the first rule broken (``needs.volunteer.<rule>``)."""
    broken = pick_violations(need, volunteers, at, PICK_RULES)
    for volunteer in volunteers:
        codes = broken.get(volunteer.pk) or []
        if codes:
            raise DomainError(
                f"needs.volunteer.{codes[0]}",
                rule_message(codes[0], volunteer.name),
                details={"volunteer": volunteer.pk, "rules": codes},
            )


# --- offer, accept, decline ------------------------------------------------------------------


def offer_need(
    *,
    actor: Person | None,
    need: Need,
    volunteers: Sequence[Person],
    reasons: dict[int, list[str]] | None = None,
) -> list[Assignment]:
    """Ask volunteers to serve an approved need (a manager's or broker's pick, "needs.offer",
    or the top candidates offered by a job). They must accept within ``needs.accept_hours``
    (2) hours (DOMAIN.md "The core loop" 3. Match, 4. Accept). A volunteer who declined
    this need is not asked again; one whose offer expired is asked again. Returns the
    assignments opened now."""
    if not volunteers:
        raise DomainError(
            "needs.offer.nobody", _("请至少选择一位志愿者。"), details={"field": "volunteers"}
        )
    with transaction.atomic():
        need = lock_need(need)
        t = states.transition("offer")
        authorize(actor, t.parties, need)
        states.check(need.state, "offer")
        now = clock.now()
        due = now + dt.timedelta(hours=setting("needs.accept_hours", need))
        existing = {a.volunteer_id: a for a in Assignment.objects.filter(need=need)}
        opened: list[Assignment] = []
        for volunteer in volunteers:
            _check_basics(need, volunteer, now)
        # The pick meets the hard constraints now (one set of queries for all of them).
        _check_pick(
            need,
            [v for v in volunteers if v.pk not in existing or existing[v.pk].state == A.EXPIRED],
            now,
        )
        for volunteer in volunteers:
            why = (reasons or {}).get(volunteer.pk, [])
            current = existing.get(volunteer.pk)
            if current is None:
                a = Assignment.objects.create(
                    need=need,
                    community_id=need.community_id,
                    volunteer=volunteer,
                    offered_by=actor,
                    offered_at=now,
                    expires_at=due,
                    reasons=why,
                )
            elif current.state == A.EXPIRED:
                a = current
                a.state = A.OFFERED
                a.offered_by = actor
                a.offered_at = now
                a.expires_at = due
                a.responded_at = None
                a.reasons = why
                a.save()
            else:
                continue  # already asked, or declined this need
            existing[volunteer.pk] = a
            opened.append(a)
        if not opened:
            raise DomainError("needs.offer.nobody_new", _("所选志愿者都已被邀请过或已谢绝该需求。"))
        # A new round restarts the accept deadline; the open offers of an earlier round too.
        Assignment.objects.filter(need=need, state=A.OFFERED).update(expires_at=due)
        need.accept_due_at = due
        move(
            need,
            "offer",
            actor=actor,
            audit={"volunteers": [a.volunteer_id for a in opened], "accept_due_at": due},
            update_fields=("accept_due_at",),
        )
        for a in opened:
            tell(
                a.volunteer,
                "needs.assignment.offered",
                f"needs.assignment.offered:{a.pk}:{int(now.timestamp())}",
                need,
                due=due,
            )
    return opened


def accept_assignment(*, actor: Person, assignment: Assignment) -> Assignment:
    """The volunteer accepts an offer. The first to accept wins, exactly once: the need's row
    lock serializes accepts and a partial unique index allows one holding assignment per need;
    everyone else is told "已被他人接单" (``needs.need.taken``, 409). The other open offers are
    withdrawn. A need paid with points holds the requester's points now (DOMAIN.md "The core
    loop" 4. Accept within 2 hours)."""
    with transaction.atomic():
        need = lock_need(assignment.need)
        a = Assignment.objects.select_for_update().get(pk=assignment.pk)
        authorize(actor, (states.VOLUNTEER,), need, a)
        if need.state in states.STAFFED_STATES:
            if a.state == A.ACCEPTED:
                return a  # a repeated click of the winner
            raise _taken()
        states.check(need.state, "accept")
        now = clock.now()
        if a.state != A.OFFERED:
            raise ConflictError(
                "needs.assignment.closed",
                _("该邀请已失效（%(state)s）。") % {"state": AssignmentState(a.state).label},
            )
        if a.expires_at is not None and a.expires_at <= now:
            raise ConflictError("needs.assignment.expired", _("该邀请已超过接单时限。"))
        _check_volunteer_active(a.volunteer, now)
        a.state = A.ACCEPTED
        a.responded_at = now
        try:
            with transaction.atomic():
                a.save(update_fields=["state", "responded_at", "updated_at"])
        except IntegrityError:
            raise _taken() from None
        Assignment.objects.filter(need=need, state=A.OFFERED).exclude(pk=a.pk).update(
            state=A.WITHDRAWN, updated_at=now
        )
        if need.pay_with_points:
            try:
                need.hold = hold(
                    actor=None,
                    account=person_account(need.requester),
                    amount=need.points,
                    key=f"need:{need.pk}:hold",
                    memo=_("需求 #%(id)s 积分支付") % {"id": need.pk},
                )
            except DomainError as exc:
                if exc.code != "timebank.insufficient":
                    raise
                raise DomainError(
                    "needs.points.insufficient",
                    _("服务对象积分余额不足，暂不能接单，请联系楼长。"),
                    status=409,
                ) from None
        move(
            need,
            "accept",
            actor=actor,
            audit={"assignment": a.pk, "volunteer": a.volunteer_id},
            update_fields=("hold",),
        )
        tell(
            need.requester,
            "needs.need.accepted",
            f"needs.need.accepted:{need.pk}",
            need,
            volunteer=a.volunteer.name,
        )
    assignment.state = a.state
    assignment.responded_at = a.responded_at
    return a


def decline_assignment(*, actor: Person, assignment: Assignment, reason: str) -> Assignment:
    """The volunteer declines an offer with a reason; they are not asked again for this need.
    When nobody is left to answer, the need goes back to be matched again (DOMAIN.md "The
    core loop" 4. Accept … else re-match)."""
    reason = clean_text(reason, "reason", 500, required=True)
    with transaction.atomic():
        need = lock_need(assignment.need)
        a = Assignment.objects.select_for_update().get(pk=assignment.pk)
        authorize(actor, (states.VOLUNTEER,), need, a)
        if a.state != A.OFFERED:
            raise ConflictError(
                "needs.assignment.closed",
                _("该邀请已失效（%(state)s）。") % {"state": AssignmentState(a.state).label},
            )
        a.state = A.DECLINED
        a.responded_at = clock.now()
        a.decline_reason = reason
        a.save(update_fields=["state", "responded_at", "decline_reason", "updated_at"])
        record(
            "needs.assignment.declined",
            actor=actor,
            target=a,
            community=need.community,
            new={"need": need.pk, "reason": reason},
        )
        if (
            need.state == NeedState.OFFERED
            and not Assignment.objects.filter(need=need, state=A.OFFERED).exists()
        ):
            need.accept_due_at = None
            move(
                need,
                "rematch",
                actor=actor,
                note=_("所有受邀志愿者均已谢绝"),
                update_fields=("accept_due_at",),
            )
    return a
