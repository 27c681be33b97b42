"""The paper ledger (纸质积分登记本, DOMAIN.md "The time bank": "paper ledger for elderly
residents, entered by the building manager, kept in sync").

A building manager or branch head ("timebank.enter_paper" on the person) copies a slip of the
paper book: hours the person served (EARN) or points the person paid a volunteer (SPEND). It
stays pending, nothing posted, until a *different* person holding the same permission checks
it: approval posts it (EARN through ``credit_service`` with the slip's service date, so a
first-service day doubles it; SPEND through ``pay_for_service``), rejection needs a reason. A slip
number is entered once per community; each check happens once, under a row lock.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.timebank.actions.ledger import _check_key, credit_service
from huzhu.timebank.actions.rules import pay_for_service
from huzhu.timebank.models import PaperEntry, PaperKind, PaperStatus

PERM = "timebank.enter_paper"


def _duplicate_slip(slip: str) -> DomainError:
    return DomainError(
        "timebank.paper.duplicate_slip",
        _("登记本编号 %(slip)s 已经录入过，不能重复录入；请核对纸质登记本。") % {"slip": slip},
        details={"field": "slip_number"},
        status=409,
    )


def enter_paper_entry(
    *,
    actor: Person,
    person: Person,
    kind: str,
    service_date: dt.date,
    slip_number: str,
    key: str,
    hours: Decimal | None = None,
    points: int | None = None,
    counterparty: Person | None = None,
    note: str = "",
) -> PaperEntry:
    """Copy one slip of the paper book; pending until a second person checks it."""
    key = _check_key(key)
    existing = PaperEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    policy.require(actor, PERM, person)
    if person.community is None:
        raise DomainError("timebank.paper.no_community", _("该居民不属于任何社区。"))
    slip = (slip_number or "").strip()
    if not slip:
        raise DomainError(
            "timebank.paper.slip_required",
            _("请填写登记本编号。"),
            details={"field": "slip_number"},
        )
    if len(slip) > 40:
        raise DomainError(
            "timebank.paper.slip_too_long",
            _("登记本编号最多 40 个字符。"),
            details={"field": "slip_number"},
        )
    if service_date > clock.today():
        raise DomainError(
            "timebank.service_date.future",
            _("服务日期不能晚于今天。"),
            details={"field": "service_date"},
        )
    if kind == PaperKind.EARN:
        if (
            hours is None
            or not isinstance(hours, Decimal | int)
            or isinstance(hours, bool)
            or Decimal(hours) <= 0
            or Decimal(hours) > 24
        ):
            raise DomainError(
                "timebank.paper.hours",
                _("请填写服务时长（大于 0、不超过 24 小时）。"),
                details={"field": "hours"},
            )
        if Decimal(hours) != Decimal(hours).quantize(Decimal("0.01")):
            raise DomainError(
                "timebank.paper.hours",
                _("服务时长最多保留两位小数。"),
                details={"field": "hours"},
            )
        points, counterparty = None, None
        hours = Decimal(hours)
    elif kind == PaperKind.SPEND:
        if points is None or isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise DomainError(
                "timebank.paper.points",
                _("请填写支付的积分（大于 0）。"),
                details={"field": "points"},
            )
        if counterparty is None:
            raise DomainError(
                "timebank.paper.counterparty",
                _("请选择收款的志愿者。"),
                details={"field": "counterparty"},
            )
        if counterparty.pk == person.pk:
            raise DomainError(
                "timebank.payment.self",
                _("不能向自己支付积分。"),
                details={"field": "counterparty"},
            )
        if not policy.in_scope(actor, counterparty):
            raise DomainError(
                "timebank.paper.counterparty",
                _("找不到该志愿者。"),
                details={"field": "counterparty"},
            )
        hours = None
    else:
        raise DomainError("timebank.paper.kind", _("请选择登记类型。"), details={"field": "kind"})
    community = person.community
    building = person.household.building if person.household is not None else None
    with transaction.atomic():
        if PaperEntry.objects.filter(community=community, slip_number=slip).exists():
            raise _duplicate_slip(slip)
        try:
            with transaction.atomic():
                entry = PaperEntry.objects.create(
                    community=community,
                    building=building,
                    person=person,
                    kind=kind,
                    hours=hours,
                    points=points,
                    counterparty=counterparty,
                    service_date=service_date,
                    slip_number=slip,
                    note=(note or "").strip()[:200],
                    entered_by=actor,
                    entered_at=clock.now(),
                    idempotency_key=key,
                )
        except IntegrityError:
            winner = PaperEntry.objects.filter(idempotency_key=key).first()
            if winner is not None:
                return winner
            raise _duplicate_slip(slip) from None
        record(
            "timebank.paper.entered",
            actor=actor,
            target=entry,
            community=community,
            on_behalf_of=person,
            new={
                "slip_number": slip,
                "kind": kind,
                "hours": str(hours) if hours is not None else None,
                "points": points,
                "counterparty": counterparty.pk if counterparty is not None else None,
                "service_date": service_date.isoformat(),
            },
        )
    return entry


def check_paper_entry(
    *, actor: Person, entry: PaperEntry, approve: bool, reason: str = ""
) -> PaperEntry:
    """The second-person check: approve (post it) or reject (with a reason), exactly once.

    The person who entered the slip cannot check it. Repeating the same decision by the same
    checker answers the entry as it is (a replay); any other second decision is refused.
    """
    policy.require(actor, PERM, entry.person)
    reason = (reason or "").strip()
    with transaction.atomic():
        # Only the entry's own row is locked (no outer joins under FOR UPDATE).
        current = PaperEntry.objects.select_for_update().get(pk=entry.pk)
        if current.status != PaperStatus.PENDING:
            same = current.checked_by_id == actor.pk and (
                current.status == (PaperStatus.SETTLED if approve else PaperStatus.REJECTED)
            )
            if same:
                return current
            raise ConflictError(
                "timebank.paper.checked",
                _("该登记已经复核过（%(status)s），不能再次复核。")
                % {"status": current.get_status_display()},
            )
        if current.entered_by_id == actor.pk:
            raise DomainError(
                "timebank.paper.same_person",
                _("录入人不能复核自己录入的登记，请由另一位楼长或分会长复核。"),
                status=403,
            )
        if not approve and not reason:
            raise DomainError(
                "timebank.paper.reason_required",
                _("退回时请填写原因。"),
                details={"field": "reason"},
            )
        old = {"status": current.status}
        current.checked_by = actor
        current.checked_at = clock.now()
        tx_key = f"paper:{current.pk}"
        reference = f"paper:{current.slip_number}"
        if approve:
            memo = _("纸质登记 %(slip)s") % {"slip": current.slip_number}
            if current.kind == PaperKind.EARN:
                assert current.hours is not None
                tx = credit_service(
                    actor=actor,
                    volunteer=current.person,
                    hours=current.hours,
                    community=current.community,
                    key=tx_key,
                    service_date=current.service_date,
                    reference=reference,
                )
            else:
                assert current.points is not None and current.counterparty is not None
                tx = pay_for_service(
                    actor=actor,
                    payer=current.person,
                    payee=current.counterparty,
                    points=current.points,
                    key=tx_key,
                    reference=reference,
                    memo=memo,
                )
            current.transaction = tx
            current.status = PaperStatus.SETTLED
        else:
            current.status = PaperStatus.REJECTED
            current.reject_reason = reason[:200]
        current.save(
            update_fields=["status", "checked_by", "checked_at", "reject_reason", "transaction"]
        )
        if approve:
            _tell_person(current)
        record(
            "timebank.paper.approved" if approve else "timebank.paper.rejected",
            actor=actor,
            target=current,
            community=current.community,
            on_behalf_of=current.person,
            old=old,
            new={
                "status": current.status,
                "reason": current.reject_reason,
                "tx": current.transaction_id,
            },
        )
    return current


def _tell_person(entry: PaperEntry) -> None:
    """The resident learns, in their language, that their paper slip was posted."""
    from django.urls import reverse
    from django.utils import translation

    from huzhu.notify.actions import notify
    from huzhu.timebank.money import format_points

    person = entry.person
    with translation.override(person.preferred_language or "zh-hans"):
        if entry.kind == PaperKind.EARN:
            body = _("登记本编号 %(slip)s：服务 %(hours)s 小时，积分已入账。") % {
                "slip": entry.slip_number,
                "hours": entry.hours,
            }
        else:
            body = _("登记本编号 %(slip)s：已支付 %(points)s 积分。") % {
                "slip": entry.slip_number,
                "points": format_points(entry.points or 0),
            }
        title = _("您的纸质登记已入账")
    notify(
        person=person,
        code="timebank.paper.settled",
        title=str(title),
        body=str(body),
        link=reverse("timebank:my_points"),
        key=f"timebank.paper.settled:{entry.pk}",
        community=entry.community,
    )
