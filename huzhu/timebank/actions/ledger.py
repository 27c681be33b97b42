"""Every change of the time bank's ledger (DOMAIN.md "The time bank").

Rules: a transaction has two or more non-zero postings that sum to zero; every account touched
is locked (in primary-key order, so concurrent postings cannot deadlock) and its cached balance
changed in the same database transaction; a person's available points (balance − held) never go
below zero; an idempotency key maps to exactly one transaction, also under concurrency;
corrections are reversals, at most one per transaction. ``actor=None`` means a system job and is
recorded as "system"; it skips the permission checks meant for people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Community
from huzhu.orgs.queries import get_setting
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Hold,
    Posting,
    Transaction,
    TransactionKind,
)
from huzhu.timebank.money import HUNDREDTHS

MAX_KEY_LENGTH = 128
HOLDS_CODE = "holds"
PENALTIES_CODE = "penalties"


# --- accounts --------------------------------------------------------------------------------


def person_account(person: Person) -> Account:
    """The person's point account, created on first use."""
    account, _created = Account.objects.get_or_create(
        kind=AccountKind.PERSON,
        person=person,
        defaults={"community_id": person.community_id},
    )
    return account


def issuing_account(community: Community) -> Account:
    """The community's issuing account: service credits are paid from it (it goes negative)."""
    account, _created = Account.objects.get_or_create(
        kind=AccountKind.COMMUNITY, community=community, defaults={"name": community.name}
    )
    return account


def system_account(code: str) -> Account:
    """A system account by code (penalties, holds)."""
    account, _created = Account.objects.get_or_create(
        kind=AccountKind.SYSTEM, code=code, defaults={"name": code}
    )
    return account


# --- checks ----------------------------------------------------------------------------------


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise DomainError("timebank.key.required", _("缺少幂等键。"))
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError("timebank.key.too_long", _("幂等键过长。"))
    return key


def _check_amount(amount: Any) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DomainError("timebank.amount.not_integer", _("金额必须是以百分之一分计的整数。"))
    return amount


def _insufficient(account: Account) -> DomainError:
    return DomainError(
        "timebank.insufficient",
        _("积分余额不足。"),
        details={"account": account.pk, "available": account.available},
        status=409,
    )


def _may_act_for_account(actor: Person | None, account: Account) -> None:
    """A person may act on their own account; otherwise the actor needs the right permission."""
    if actor is None:
        return
    if account.kind == AccountKind.PERSON:
        if account.person_id == actor.pk:
            return
        policy.require(actor, "accounts.manage_person", account.person)
        return
    if account.community is not None:
        policy.require(actor, "orgs.manage_community", account.community)
        return
    if not actor.is_superuser:
        raise DomainError("timebank.forbidden", _("无权操作该积分账户。"), status=403)


# --- the one posting primitive ---------------------------------------------------------------


def post_transaction(
    *,
    actor: Person | None,
    kind: str,
    postings: Sequence[tuple[Account, int]],
    idempotency_key: str,
    memo: str = "",
    community: Community | None = None,
    on_behalf_of: Person | None = None,
    reverses: Transaction | None = None,
    reason: str = "",
    evidence: str = "",
) -> Transaction:
    """Write one balanced transaction; a repeated key returns the existing one unchanged."""
    key = _check_key(idempotency_key)
    if kind not in TransactionKind.values:
        raise DomainError("timebank.kind.unknown", _("未知的交易类型。"))
    if len(postings) < 2:
        raise DomainError("timebank.postings.too_few", _("一笔交易至少需要两条分录。"))
    deltas: dict[int, int] = defaultdict(int)
    for account, amount in postings:
        if _check_amount(amount) == 0:
            raise DomainError("timebank.postings.zero", _("分录金额不能为零。"))
        if account.pk is None:
            raise DomainError("timebank.account.unsaved", _("积分账户不存在。"))
        deltas[account.pk] += amount
    if sum(amount for _account, amount in postings) != 0:
        raise DomainError("timebank.postings.unbalanced", _("分录合计必须为零。"))

    with transaction.atomic():
        existing = Transaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        # Lock every account in primary-key order: concurrent postings cannot deadlock.
        locked = {
            a.pk: a
            for a in Account.objects.select_for_update().filter(pk__in=deltas).order_by("pk")
        }
        if len(locked) != len(deltas):
            raise DomainError("timebank.account.unknown", _("积分账户不存在。"))
        # A concurrent writer of the same key may have committed while we waited for the locks.
        existing = Transaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        for pk, delta in deltas.items():
            account = locked[pk]
            if (
                account.kind == AccountKind.PERSON
                and delta < 0
                and account.balance + delta - account.held < 0
            ):
                raise _insufficient(account)
        try:
            with transaction.atomic():
                tx = Transaction.objects.create(
                    kind=kind,
                    memo=memo[:200],
                    actor=actor,
                    on_behalf_of=on_behalf_of,
                    community=community,
                    created_at=clock.now(),
                    idempotency_key=key,
                    reverses=reverses,
                    reason=reason,
                    evidence=evidence,
                )
        except IntegrityError:
            winner = Transaction.objects.filter(idempotency_key=key).first()
            if winner is not None:
                return winner
            if reverses is not None:
                raise _already_reversed(reverses) from None
            raise
        Posting.objects.bulk_create(
            [
                Posting(transaction=tx, account_id=account.pk, amount=amount, community=community)
                for account, amount in postings
            ]
        )
        for pk, delta in sorted(deltas.items()):
            if delta == 0:
                continue
            account = locked[pk]
            account.balance += delta
            account.save(update_fields=["balance"])
        record(
            "timebank.transaction.posted",
            actor=actor,
            target=tx,
            community=community,
            on_behalf_of=on_behalf_of,
            new={
                "kind": kind,
                "memo": memo,
                "postings": [f"{a.pk}:{amount}" for a, amount in postings],
                "reverses": reverses.pk if reverses is not None else None,
            },
        )
    return tx


# --- built on it -----------------------------------------------------------------------------


def credit_service(
    *,
    actor: Person | None,
    volunteer: Person,
    hours: Decimal,
    community: Community,
    key: str,
    memo: str = "",
) -> Transaction:
    """Credit a volunteer for hours served; the community's issuing account pays.

    1 hour = ``timebank.points_per_hour`` of the community. A human actor other than a system job
    needs "accounts.manage_person" on the volunteer (the building manager entering points).
    """
    if not isinstance(hours, Decimal | int) or isinstance(hours, bool):
        raise DomainError("timebank.hours.invalid", _("服务时长必须是精确的小数。"))
    hours = Decimal(hours)
    if not hours.is_finite() or hours <= 0:
        raise DomainError("timebank.hours.invalid", _("服务时长必须大于零。"))
    if actor is not None:
        policy.require(actor, "accounts.manage_person", volunteer)
    per_hour = int(get_setting("timebank.points_per_hour", community))
    scaled = hours * per_hour * HUNDREDTHS
    if scaled != scaled.to_integral_value():
        raise DomainError("timebank.hours.precision", _("服务时长折算积分不能超过两位小数。"))
    amount = int(scaled)
    return post_transaction(
        actor=actor,
        kind=TransactionKind.SERVICE_CREDIT,
        postings=[(issuing_account(community), -amount), (person_account(volunteer), amount)],
        idempotency_key=key,
        memo=memo or _("服务 %(hours)s 小时") % {"hours": hours},
        community=community,
        on_behalf_of=volunteer if actor is not None and actor.pk != volunteer.pk else None,
    )


def transfer(
    *,
    actor: Person | None,
    payer: Account,
    payee: Account,
    amount: int,
    key: str,
    memo: str = "",
) -> Transaction:
    """Move ``amount`` hundredths from payer to payee. A person may pay from their own account."""
    if _check_amount(amount) <= 0:
        raise DomainError("timebank.amount.not_positive", _("转账金额必须大于零。"))
    if payer.pk == payee.pk:
        raise DomainError("timebank.transfer.same_account", _("不能转给同一个账户。"))
    _may_act_for_account(actor, payer)
    on_behalf_of = None
    if actor is not None and payer.kind == AccountKind.PERSON and payer.person_id != actor.pk:
        on_behalf_of = payer.person
    return post_transaction(
        actor=actor,
        kind=TransactionKind.TRANSFER,
        postings=[(payer, -amount), (payee, amount)],
        idempotency_key=key,
        memo=memo,
        community=payer.community or payee.community,
        on_behalf_of=on_behalf_of,
    )


def _already_reversed(tx: Transaction) -> ConflictError:
    return ConflictError(
        "timebank.reversal.already", _("该交易已被冲正，不能重复冲正。"), details={"tx": tx.pk}
    )


def reverse_transaction(
    *,
    actor: Person | None,
    transaction: Transaction,
    reason: str,
    evidence: str = "",
    key: str,
) -> Transaction:
    """Correct a transaction by mirroring its postings; at most once, reason required."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "timebank.reversal.reason_required", _("请填写冲正原因。"), details={"field": "reason"}
        )
    key = _check_key(key)
    original = transaction
    replay = Transaction.objects.filter(idempotency_key=key).first()
    if replay is not None:
        return replay
    if actor is not None:
        if original.community is not None:
            policy.require(actor, "orgs.manage_community", original.community)
        elif not actor.is_superuser:
            raise DomainError("timebank.forbidden", _("无权冲正该交易。"), status=403)
    if original.kind == TransactionKind.REVERSAL:
        raise DomainError("timebank.reversal.of_reversal", _("冲正记录不能再次冲正。"))
    if Transaction.objects.filter(reverses=original).exists():
        raise _already_reversed(original)
    postings = [(p.account, -p.amount) for p in original.postings.select_related("account")]
    return post_transaction(
        actor=actor,
        kind=TransactionKind.REVERSAL,
        postings=postings,
        idempotency_key=key,
        memo=_("冲正 #%(id)s") % {"id": original.pk},
        community=original.community,
        reverses=original,
        reason=reason[:500],
        evidence=evidence,
    )


# --- holds -----------------------------------------------------------------------------------


def hold(*, actor: Person | None, account: Account, amount: int, key: str, memo: str = "") -> Hold:
    """Set ``amount`` of a person's available points aside (they stay in the account)."""
    key = _check_key(key)
    if _check_amount(amount) <= 0:
        raise DomainError("timebank.amount.not_positive", _("冻结金额必须大于零。"))
    if account.kind != AccountKind.PERSON:
        raise DomainError("timebank.hold.not_person", _("只能冻结个人账户的积分。"))
    _may_act_for_account(actor, account)
    with transaction.atomic():
        existing = Hold.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.available < amount:
            raise _insufficient(locked)
        try:
            with transaction.atomic():
                h = Hold.objects.create(
                    account=locked,
                    amount=amount,
                    idempotency_key=key,
                    memo=memo[:200],
                    actor=actor,
                    created_at=clock.now(),
                )
        except IntegrityError:
            winner = Hold.objects.filter(idempotency_key=key).first()
            if winner is None:
                raise
            return winner
        locked.held += amount
        locked.save(update_fields=["held"])
        record(
            "timebank.hold.placed",
            actor=actor,
            target=h,
            community=locked.community,
            new={"account": locked.pk, "amount": amount},
        )
    account.refresh_from_db(fields=["balance", "held"])
    return h


def release_hold(*, actor: Person | None, hold: Hold) -> Hold:
    """Give held points back to the account's available points; once only."""
    _may_act_for_account(actor, hold.account)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=hold.account_id)
        current = Hold.objects.select_for_update().get(pk=hold.pk)
        if current.released_at is not None:
            raise ConflictError("timebank.hold.released", _("该冻结已释放。"))
        current.released_at = clock.now()
        current.save(update_fields=["released_at"])
        locked.held -= current.amount
        locked.save(update_fields=["held"])
        record(
            "timebank.hold.released",
            actor=actor,
            target=current,
            community=locked.community,
            new={"account": locked.pk, "amount": current.amount},
        )
    hold.released_at = current.released_at
    return current
