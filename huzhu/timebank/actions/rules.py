"""The postings DOMAIN.md names beyond the ledger core ("The time bank"): the no-show penalty,
paying a volunteer with points, settling a hold. The first-service day (首存日) multiplier lives
in ``credit_service`` and the reversal window in ``reverse_transaction`` (actions.ledger); both
are re-exported here so the rules can be found in one place.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Community
from huzhu.orgs.queries import get_setting
from huzhu.timebank.actions.ledger import (
    PENALTIES_CODE,
    _check_amount,
    _check_key,
    _may_act_for_account,
    _transfer,
    add_working_days,
    person_account,
    post_transaction,
    release_hold,
    reversal_deadline,
    service_multiplier,
    system_account,
)
from huzhu.timebank.models import Account, Hold, Transaction, TransactionKind
from huzhu.timebank.money import HUNDREDTHS

__all__ = [
    "add_working_days",
    "pay_for_service",
    "penalize_no_show",
    "reversal_deadline",
    "service_multiplier",
    "settle_hold",
]

PENALTY_AUDIT = "timebank.penalty.no_show"


def penalize_no_show(
    *,
    actor: Person | None,
    volunteer: Person,
    community: Community,
    key: str,
    reference: str = "",
) -> Transaction | None:
    """Take ``timebank.no_show_penalty`` points from a volunteer who did not show up
    (DOMAIN.md: no-show −5) into the penalties system account.

    A balance never goes negative: only the available points (balance − held) are charged and
    the shortfall is written to the audit entry; with nothing available nothing is posted and
    None is returned. A replay of ``key`` changes nothing. People need
    "accounts.manage_person" on the volunteer.
    """
    key = _check_key(key)
    if actor is not None:
        policy.require(actor, "accounts.manage_person", volunteer)
    penalty = int(get_setting("timebank.no_show_penalty", community)) * HUNDREDTHS
    with transaction.atomic():
        existing = Transaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        account = person_account(volunteer)
        locked = Account.objects.select_for_update().get(pk=account.pk)
        from huzhu.audit.models import AuditEntry

        if AuditEntry.objects.filter(code=PENALTY_AUDIT, new_values__penalty_key=key).exists():
            return None  # a replay of a penalty that found nothing to charge
        charge = max(0, min(penalty, locked.available))
        tx = None
        if charge > 0:
            tx = post_transaction(
                actor=actor,
                kind=TransactionKind.PENALTY,
                postings=[(locked, -charge), (system_account(PENALTIES_CODE), charge)],
                idempotency_key=key,
                memo=_("爽约扣分"),
                community=community,
                on_behalf_of=volunteer if actor is not None else None,
                reference=reference,
            )
        record(
            PENALTY_AUDIT,
            actor=actor,
            target=tx if tx is not None else locked,
            community=community,
            new={
                "volunteer": volunteer.pk,
                "penalty": penalty,
                "charged": charge,
                "shortfall": penalty - charge,
                "reference": reference,
                "penalty_key": key,
            },
        )
    return tx


def pay_for_service(
    *,
    actor: Person | None,
    payer: Person,
    payee: Person,
    points: int,
    key: str,
    reference: str = "",
    memo: str = "",
) -> Transaction:
    """The requester pays the volunteer ``points`` hundredths for a service ("pay with points",
    DOMAIN.md). The payer acts for themselves; anyone else needs "accounts.manage_person" on
    the payer (a building manager settling a paper slip)."""
    if payer.pk == payee.pk:
        raise DomainError(
            "timebank.payment.self", _("不能向自己支付积分。"), details={"field": "counterparty"}
        )
    return _transfer(
        actor=actor,
        payer=person_account(payer),
        payee=person_account(payee),
        amount=points,
        key=key,
        memo=memo or _("积分支付服务"),
        kind=TransactionKind.SERVICE_PAYMENT,
        reference=reference,
    ).transaction


def settle_hold(
    *, actor: Person | None, hold: Hold, payee: Person | Account, key: str, memo: str = ""
) -> Transaction:
    """Release a hold and pay its amount to ``payee`` in one database transaction, exactly
    once: a replay of ``key`` returns the payment; a hold released otherwise is refused."""
    key = _check_key(key)
    existing = Transaction.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    payee_account = payee if isinstance(payee, Account) else person_account(payee)
    _may_act_for_account(actor, hold.account)
    _check_amount(hold.amount)
    with transaction.atomic():
        # The same lock order as every posting: accounts by primary key, then the hold.
        list(
            Account.objects.select_for_update()
            .filter(pk__in={hold.account_id, payee_account.pk})
            .order_by("pk")
        )
        current = Hold.objects.select_for_update().get(pk=hold.pk)
        existing = Transaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        if current.released_at is not None:
            raise ConflictError("timebank.hold.released", _("该冻结已释放。"))
        release_hold(actor=actor, hold=current)
        payer = Account.objects.get(pk=current.account_id)
        tx = _transfer(
            actor=actor,
            payer=payer,
            payee=payee_account,
            amount=current.amount,
            key=key,
            memo=memo or current.memo or _("积分支付服务"),
            kind=TransactionKind.SERVICE_PAYMENT,
            reference=f"hold:{current.pk}",
        ).transaction
        record(
            "timebank.hold.settled",
            actor=actor,
            target=current,
            community=payer.community,
            new={"payee": payee_account.pk, "amount": current.amount, "tx": tx.pk},
        )
    hold.released_at = current.released_at or clock.now()
    return tx
