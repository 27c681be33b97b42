"""Complaints against a service (DOMAIN.md "Activities, complaints, safety": "contact both
sides within 1 hour, result within 24 hours; outcomes: deduct points, suspend the volunteer
1 week and retrain; a malicious complainant is frozen 1 month").

    open → contacted            (record_contact: the handler spoke to both sides)
    contacted → resolved        (resolve_complaint, upheld: deduct points / suspend + retrain)
    contacted → dismissed       (resolve_complaint, not upheld, or malicious: freeze)

Every number is a community setting read at the need's building (else its community):
``complaints.contact_hours`` (1), ``complaints.result_hours`` (24),
``complaints.max_points_deduction`` (20: the handler decides the amount, up to this),
``complaints.suspension_days`` (7), ``complaints.malicious_freeze_days`` (30).

Who: one side of the service complains about the other — the person served (or whoever
published the need for them) about the volunteer, or the serving volunteer about the person
served; a manager with "needs.file_complaint" files on a side's behalf. Handlers hold
"needs.handle_complaint" on the need's building. Suspending or freezing a person goes through
``accounts.actions.people.set_status`` and so also needs "accounts.manage_person" on that
person (a building manager cannot suspend a volunteer living elsewhere: the branch head can).
Points are deducted through the time bank (a penalty posting, once per complaint, never below
the volunteer's available balance; the shortfall is recorded).

The overdue contact and the overdue result are each handed up to the branch head once
(``escalate_complaint_contact``, ``escalate_complaint_result``, called by the sweeper).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Role, Status
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.needs.actions.common import authorize, clean_text, is_requester_party, lock_need, tell
from huzhu.needs.actions.escalation import branch_heads
from huzhu.needs.actions.tracking import holding_assignment
from huzhu.needs.models import (
    Complaint,
    ComplaintCategory,
    ComplaintDecision,
    ComplaintEvent,
    ComplaintLevel,
    ComplaintState,
    Need,
    NeedState,
)
from huzhu.orgs.queries import get_setting
from huzhu.timebank.money import HUNDREDTHS, format_points

C = ComplaintState
HANDLE = "needs.handle_complaint"
FILE_FOR = "needs.file_complaint"
MANAGE_PERSON = "accounts.manage_person"

# A service can be complained about once a volunteer has started it.
COMPLAINABLE_STATES = frozenset(
    {NeedState.IN_SERVICE, NeedState.COMPLETED, NeedState.RATED, NeedState.NO_SHOW}
)


# --- shared ----------------------------------------------------------------------------------


def complaint_setting(key: str, complaint_or_need: Complaint | Need) -> int:
    """A complaint number resolved at the need's building (else its community)."""
    return int(get_setting(key, complaint_or_need.scope_node()))


def lock_complaint(complaint: Complaint) -> Complaint:
    """The complaint, re-read under a row lock (the steps of one complaint are serialized)."""
    return (
        Complaint.objects.select_for_update(of=("self",))
        .select_related(
            "need__need_type",
            "need__community",
            "need__building",
            "community",
            "building",
            "complainant__community",
            "complainant__household",
            "respondent__community",
            "respondent__household",
            "assignment",
        )
        .get(pk=complaint.pk)
    )


def may_handle(actor: Person | None, complaint: Complaint) -> bool:
    return actor is not None and policy.can(actor, HANDLE, complaint.scope_node())


def is_party(actor: Person | None, complaint: Complaint) -> bool:
    """A side of the complaint: the complainant, whoever filed it, the respondent."""
    return actor is not None and actor.pk in (
        complaint.complainant_id,
        complaint.filed_by_id,
        complaint.respondent_id,
    )


def require_handler(actor: Person, complaint: Complaint) -> None:
    """ "needs.handle_complaint" on the complaint's building (404 outside scope, 403 inside)."""
    policy.require(actor, HANDLE, complaint.scope_node())


def _event(
    complaint: Complaint, action: str, *, actor: Person | None, old_state: str, note: str = ""
) -> None:
    ComplaintEvent.objects.create(
        complaint=complaint,
        community_id=complaint.community_id,
        actor=actor,
        action=action,
        from_state=old_state,
        to_state=complaint.state,
        at=clock.now(),
        note=note[:1000],
    )


def handlers(need: Need) -> list[Person]:
    """Who is told of a new complaint: the building managers of the need's building and the
    branch heads of its community (active grants)."""
    q = Q(
        grants__role=Role.BRANCH_HEAD,
        grants__scope_kind="community",
        grants__community_id=need.community_id,
    )
    if need.building_id is not None:
        q |= Q(
            grants__role=Role.BUILDING_MANAGER,
            grants__scope_kind="building",
            grants__building_id=need.building_id,
        )
    return list(
        Person.objects.filter(q, grants__revoked_at__isnull=True, is_active=True)
        .distinct()
        .order_by("pk")
    )


# --- filing ----------------------------------------------------------------------------------


def file_complaint(
    *,
    actor: Person,
    need: Need,
    category: str,
    description: str,
    complainant: Person | None = None,
    key: str = "",
) -> Complaint:
    """One side of a started or finished service complains about the other (DOMAIN.md
    "Activities, complaints, safety"). The person served (or whoever published the need for
    them) complains about the volunteer — the default —, the serving volunteer about the
    person served; a manager with "needs.file_complaint" files for either side
    (``complainant``). The contact is due in ``complaints.contact_hours`` (1) and the result
    in ``complaints.result_hours`` (24); the handlers are told. A frozen complainant cannot
    complain; a side has one open complaint per service at a time. A retry with the same
    ``key`` by the same person answers the complaint it made."""
    if category not in ComplaintCategory.values:
        raise DomainError(
            "needs.complaint.category",
            _("请选择投诉类别。"),
            details={"field": "category"},
        )
    description = clean_text(description, "description", 2000, required=True)
    key = (key or "").strip()[:128]
    with transaction.atomic():
        need = lock_need(need)
        holder = holding_assignment(need)
        volunteer = holder.volunteer if holder is not None else None
        if complainant is None:
            if volunteer is not None and actor.pk == volunteer.pk:
                complainant = volunteer
            else:
                complainant = need.requester
        own_side = (complainant.pk == need.requester_id and is_requester_party(actor, need)) or (
            volunteer is not None and complainant.pk == volunteer.pk == actor.pk
        )
        if not own_side:
            authorize(actor, (FILE_FOR,), need)
        if key:
            earlier = Complaint.objects.filter(filed_by=actor, idempotency_key=key).first()
            if earlier is not None:
                return earlier
        if need.state not in COMPLAINABLE_STATES or holder is None or volunteer is None:
            raise ConflictError(
                "needs.complaint.bad_state",
                _("只能对已开始或已完成的服务投诉（当前状态：%(state)s）。")
                % {"state": NeedState(need.state).label},
                details={"state": need.state},
            )
        if complainant.pk == need.requester_id:
            respondent = volunteer
        elif complainant.pk == volunteer.pk:
            respondent = need.requester
        else:
            raise DomainError(
                "needs.complaint.not_a_side",
                _("投诉人必须是这次服务的服务对象或志愿者。"),
                details={"field": "complainant"},
            )
        now = clock.now()
        if complainant.effective_status(now) == Status.FROZEN:
            raise DomainError(
                "needs.complaint.frozen",
                _("投诉人的权限已被冻结，冻结期内不能投诉。"),
                status=403,
            )
        if Complaint.objects.open().filter(need=need, complainant=complainant).exists():
            raise ConflictError(
                "needs.complaint.already_open",
                _("已经就这次服务提出过投诉，正在处理中。"),
            )
        contact_due = now + dt.timedelta(hours=complaint_setting("complaints.contact_hours", need))
        result_due = max(
            now + dt.timedelta(hours=complaint_setting("complaints.result_hours", need)),
            contact_due,
        )
        complaint = Complaint.objects.create(
            need=need,
            assignment=holder,
            community_id=need.community_id,
            building_id=need.building_id,
            complainant=complainant,
            respondent=respondent,
            filed_by=actor,
            category=category,
            description=description,
            state=C.OPEN,
            filed_at=now,
            contact_due_at=contact_due,
            result_due_at=result_due,
            idempotency_key=key,
        )
        _event(complaint, "file", actor=actor, old_state="", note=description[:200])
        record(
            "needs.complaint.filed",
            actor=actor,
            target=complaint,
            community=need.community,
            on_behalf_of=complainant if complainant.pk != actor.pk else None,
            new={
                "need": need.pk,
                "complainant": complainant.pk,
                "respondent": respondent.pk,
                "category": category,
                "contact_due_at": contact_due,
                "result_due_at": result_due,
            },
        )
        label = ComplaintCategory(category).label
        tell(
            complainant,
            "needs.complaint.filed",
            f"needs.complaint.filed:{complaint.pk}",
            need,
            contact_due=contact_due,
            result_due=result_due,
        )
        for person in handlers(need):
            tell(
                person,
                "needs.complaint.new",
                f"needs.complaint.new:{complaint.pk}:{person.pk}",
                need,
                category=label,
                contact_due=contact_due,
                result_due=result_due,
            )
    return complaint


# --- handling --------------------------------------------------------------------------------


def record_contact(*, actor: Person, complaint: Complaint, note: str) -> Complaint:
    """A handler ("needs.handle_complaint") records that both sides were contacted, with a
    note of what they said (DOMAIN.md: contact both sides within 1 hour)."""
    note = clean_text(note, "note", 1000, required=True)
    with transaction.atomic():
        complaint = lock_complaint(complaint)
        require_handler(actor, complaint)
        if complaint.state != C.OPEN:
            raise ConflictError(
                "needs.complaint.bad_state",
                _("投诉当前状态为“%(state)s”，不能执行此操作。")
                % {"state": ComplaintState(complaint.state).label},
                details={"state": complaint.state},
            )
        now = clock.now()
        complaint.state = C.CONTACTED
        complaint.contacted_by = actor
        complaint.contacted_at = now
        complaint.contact_note = note
        complaint.handler = actor
        complaint.save(
            update_fields=[
                "state",
                "contacted_by",
                "contacted_at",
                "contact_note",
                "handler",
                "updated_at",
            ]
        )
        _event(complaint, "contact", actor=actor, old_state=C.OPEN, note=note)
        record(
            "needs.complaint.contacted",
            actor=actor,
            target=complaint,
            community=complaint.community,
            old={"state": C.OPEN},
            new={
                "state": C.CONTACTED,
                "note": note,
                "on_time": now <= complaint.contact_due_at,
            },
        )
    return complaint


def _require_manage_person(actor: Person, person: Person, message: str) -> None:
    """Suspending or freezing a person also needs "accounts.manage_person" on them."""
    if not policy.can(actor, MANAGE_PERSON, person):
        raise DomainError("needs.complaint.status_forbidden", message, status=403)


def _restrict(
    *, actor: Person, person: Person, status: str, until: dt.datetime, reason: str
) -> None:
    """Suspend or freeze ``person`` until ``until`` through the accounts' ``set_status``.
    One status field holds both: the more severe one (frozen) wins and the later end is kept,
    so a complaint never shortens or softens a restriction already in force (an open-ended
    one stays as it is)."""
    from huzhu.accounts.actions.people import set_status

    current = person.effective_status(clock.now())
    if current != Status.ACTIVE:
        if person.status_until is None:
            return
        if current == Status.FROZEN:
            status = Status.FROZEN
        until = max(until, person.status_until)
        if status == current and until == person.status_until:
            return
    set_status(actor=actor, person=person, status=status, until=until, reason=reason)


def _deduct(*, actor: Person, complaint: Complaint, amount: int) -> tuple[Any, int]:
    """Take up to ``amount`` hundredths from the respondent into the penalties account, once
    per complaint (the idempotency key ``complaint:<id>:deduction``). Only the available
    points (balance − held) are charged: a balance never goes below zero. (transaction, charged)."""
    from huzhu.timebank.actions.ledger import (
        PENALTIES_CODE,
        person_account,
        post_transaction,
        system_account,
    )
    from huzhu.timebank.models import Account, Transaction, TransactionKind

    key = f"complaint:{complaint.pk}:deduction"
    existing = Transaction.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing, complaint.points_deducted
    account = person_account(complaint.respondent)
    locked = Account.objects.select_for_update().get(pk=account.pk)
    charge = max(0, min(amount, locked.available))
    if charge == 0:
        return None, 0
    tx = post_transaction(
        actor=actor,
        kind=TransactionKind.PENALTY,
        postings=[(locked, -charge), (system_account(PENALTIES_CODE), charge)],
        idempotency_key=key,
        memo=_("投诉扣分"),
        community=complaint.community,
        reason=_("投诉 #%(id)s 成立") % {"id": complaint.pk},
        reference=f"complaint:{complaint.pk}",
    )
    return tx, charge


def resolve_complaint(
    *,
    actor: Person,
    complaint: Complaint,
    decision: str,
    reason: str,
    deduct_points: int = 0,
    suspend: bool = False,
    retrain: bool = False,
) -> Complaint:
    """A handler ("needs.handle_complaint") decides, after contacting both sides, within
    ``complaints.result_hours`` (24) of the complaint:

    - upheld: optionally deduct ``deduct_points`` hundredths from the respondent (at most
      ``complaints.max_points_deduction`` points; through the time bank, once, never below a
      zero balance), and/or suspend the volunteer for ``complaints.suspension_days`` (7) days,
      which also requires retraining (``retrain`` asks for retraining alone);
    - not upheld: no action;
    - malicious: the complainant is frozen for ``complaints.malicious_freeze_days`` (30) days
      — no new requests or complaints meanwhile.

    Both sides are told the result. Suspending and freezing need "accounts.manage_person" on
    the person as well."""
    reason = clean_text(reason, "reason", 1000, required=True)
    if decision not in ComplaintDecision.values:
        raise DomainError(
            "needs.complaint.decision", _("请选择处理结论。"), details={"field": "decision"}
        )
    if isinstance(deduct_points, bool) or not isinstance(deduct_points, int) or deduct_points < 0:
        raise DomainError(
            "needs.complaint.points",
            _("扣除积分必须是不小于零的数。"),
            details={"field": "deduct_points"},
        )
    upheld = decision == ComplaintDecision.UPHELD
    if not upheld and (deduct_points or suspend or retrain):
        raise DomainError(
            "needs.complaint.sanction_not_upheld",
            _("只有投诉成立时才能扣分、暂停服务或要求重新培训。"),
            details={"field": "decision"},
        )
    with transaction.atomic():
        complaint = lock_complaint(complaint)
        require_handler(actor, complaint)
        if complaint.state == C.OPEN:
            raise ConflictError(
                "needs.complaint.not_contacted",
                _("请先联系双方并记录联系情况，再给出处理结果。"),
                details={"state": complaint.state},
            )
        if complaint.state != C.CONTACTED:
            raise ConflictError(
                "needs.complaint.bad_state",
                _("投诉当前状态为“%(state)s”，不能执行此操作。")
                % {"state": ComplaintState(complaint.state).label},
                details={"state": complaint.state},
            )
        need = complaint.need
        respondent = complaint.respondent
        volunteer_id = complaint.assignment.volunteer_id if complaint.assignment else None
        now = clock.now()
        if deduct_points:
            most = complaint_setting("complaints.max_points_deduction", complaint) * HUNDREDTHS
            if deduct_points > most:
                raise DomainError(
                    "needs.complaint.points_too_many",
                    _("每次投诉最多扣除 %(max)s 积分。") % {"max": format_points(most)},
                    details={"field": "deduct_points", "max": most},
                )
        suspend_days = 0
        if suspend:
            if respondent.pk != volunteer_id:
                raise DomainError(
                    "needs.complaint.suspend_volunteer_only",
                    _("只能暂停志愿者的服务。"),
                    details={"field": "suspend"},
                )
            suspend_days = complaint_setting("complaints.suspension_days", complaint)
            if suspend_days <= 0:
                raise DomainError(
                    "needs.complaint.no_suspension",
                    _("本社区未设置暂停服务天数，不能暂停服务。"),
                    details={"field": "suspend"},
                )
            _require_manage_person(
                actor, respondent, _("你无权暂停该志愿者的服务，请交由分会负责人处理。")
            )
        freeze_days = 0
        if decision == ComplaintDecision.MALICIOUS:
            freeze_days = complaint_setting("complaints.malicious_freeze_days", complaint)
            if freeze_days > 0:
                _require_manage_person(
                    actor,
                    complaint.complainant,
                    _("你无权冻结该投诉人，请交由分会负责人处理。"),
                )

        fields = ["state", "handler", "resolved_at", "decision", "reason", "updated_at"]
        outcome: list[str] = []
        if deduct_points:
            tx, charged = _deduct(actor=actor, complaint=complaint, amount=deduct_points)
            complaint.points_decided = deduct_points
            complaint.points_deducted = charged
            complaint.deduction = tx
            fields += ["points_decided", "points_deducted", "deduction"]
            outcome.append(_("扣除被投诉人 %(points)s 积分。") % {"points": format_points(charged)})
        if suspend:
            complaint.retraining_required = True
            complaint.suspended_until = now + dt.timedelta(days=suspend_days)
            _restrict(
                actor=actor,
                person=respondent,
                status=Status.SUSPENDED,
                until=complaint.suspended_until,
                reason=_("投诉 #%(id)s 成立：暂停服务并需重新培训。%(reason)s")
                % {"id": complaint.pk, "reason": reason},
            )
            fields += ["suspended_until", "retraining_required"]
            outcome.append(
                _("志愿者暂停服务至 %(until)s，并需重新培训。")
                % {"until": _when(complaint.suspended_until)}
            )
        elif retrain:
            complaint.retraining_required = True
            fields.append("retraining_required")
            outcome.append(_("志愿者需重新培训。"))
        if freeze_days > 0:
            complaint.complainant_frozen_until = now + dt.timedelta(days=freeze_days)
            _restrict(
                actor=actor,
                person=complaint.complainant,
                status=Status.FROZEN,
                until=complaint.complainant_frozen_until,
                reason=_("投诉 #%(id)s 被认定为恶意投诉。%(reason)s")
                % {"id": complaint.pk, "reason": reason},
            )
            fields.append("complainant_frozen_until")
            outcome.append(
                _("投诉人冻结至 %(until)s，期间不能求助或投诉。")
                % {"until": _when(complaint.complainant_frozen_until)}
            )
        old_state = complaint.state
        complaint.state = C.RESOLVED if upheld else C.DISMISSED
        complaint.handler = actor
        complaint.resolved_at = now
        complaint.decision = decision
        complaint.reason = reason
        complaint.save(update_fields=fields)
        _event(complaint, "resolve", actor=actor, old_state=old_state, note=reason)
        record(
            "needs.complaint.resolved",
            actor=actor,
            target=complaint,
            community=complaint.community,
            old={"state": old_state},
            new={
                "state": complaint.state,
                "decision": decision,
                "reason": reason,
                "points_decided": complaint.points_decided,
                "points_deducted": complaint.points_deducted,
                "points_shortfall": complaint.points_decided - complaint.points_deducted,
                "deduction": complaint.deduction_id,
                "suspended_until": complaint.suspended_until,
                "retraining_required": complaint.retraining_required,
                "complainant_frozen_until": complaint.complainant_frozen_until,
                "on_time": now <= complaint.result_due_at,
            },
        )
        sides = {complaint.complainant_id: complaint.complainant, respondent.pk: respondent}
        for person in sides.values():
            tell(
                person,
                "needs.complaint.resolved",
                f"needs.complaint.resolved:{complaint.pk}:{person.pk}",
                need,
                decision=ComplaintDecision(decision).label,
                outcome="".join(str(o) for o in outcome),
                reason=reason,
            )
    return complaint


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return str(formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT"))


# --- deadlines (the sweeper) -----------------------------------------------------------------


def _escalate(complaint: Complaint, level: int, what: str, code: str, due: dt.datetime) -> None:
    old_level = complaint.escalation_level
    complaint.escalation_level = level
    complaint.escalated_at = clock.now()
    complaint.save(update_fields=["escalation_level", "escalated_at", "updated_at"])
    _event(complaint, "escalate", actor=None, old_state=complaint.state, note=what)
    heads = branch_heads(complaint.need)
    for head in heads:
        tell(
            head,
            "needs.complaint.escalated",
            f"needs.complaint.escalated:{complaint.pk}:{level}:{head.pk}",
            complaint.need,
            what=what,
        )
    record(
        code,
        actor=None,
        target=complaint,
        community=complaint.community,
        old={"escalation_level": old_level},
        new={"escalation_level": level, "due_at": due, "branch_heads": [h.pk for h in heads]},
    )


def escalate_complaint_contact(*, complaint: Complaint, now: dt.datetime) -> bool:
    """An open complaint past ``contact_due_at`` (nobody contacted both sides) goes to the
    branch head, once. Returns whether it escalated now."""
    with transaction.atomic():
        complaint = lock_complaint(complaint)
        if (
            complaint.state != C.OPEN
            or complaint.contact_due_at > now
            or complaint.escalation_level >= ComplaintLevel.CONTACT_OVERDUE
        ):
            return False
        _escalate(
            complaint,
            ComplaintLevel.CONTACT_OVERDUE,
            _("尚未联系双方"),
            "needs.complaint.contact_escalated",
            complaint.contact_due_at,
        )
    return True


def escalate_complaint_result(*, complaint: Complaint, now: dt.datetime) -> bool:
    """A complaint without a result past ``result_due_at`` goes to the branch head, once.
    Returns whether it escalated now."""
    with transaction.atomic():
        complaint = lock_complaint(complaint)
        if (
            complaint.state not in (C.OPEN, C.CONTACTED)
            or complaint.result_due_at > now
            or complaint.escalation_level >= ComplaintLevel.RESULT_OVERDUE
        ):
            return False
        _escalate(
            complaint,
            ComplaintLevel.RESULT_OVERDUE,
            _("尚未给出处理结果"),
            "needs.complaint.result_escalated",
            complaint.result_due_at,
        )
    return True
