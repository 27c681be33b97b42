"""Every change of the time bank's ledger (DOMAIN.md "The time bank").

Rules: a transaction has two or more non-zero postings that sum to zero; every account touched
is locked (in primary-key order, so concurrent postings cannot deadlock) and its cached balance
changed in the same database transaction; a person's available points (balance − held) never go
below zero; an idempotency key maps to exactly one transaction, also under concurrency;
corrections are reversals, at most one per transaction. ``actor=None`` means a system job and is
recorded as "system"; it skips the permission checks meant for people.

Cross-community books: every posting carries its account's community (a system account without
one takes the transaction's). When the postings of one community do not sum to zero (a volunteer
of one community paid by another, points spent across the alliance), a clearing posting on that
community's clearing account (``clearing:<community pk>``) balances it, so every community's
books balance per transaction while points stay valid across the alliance.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Community
from huzhu.orgs.queries import get_setting
from huzhu.timebank import fastpath, groupcommit
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Hold,
    Posting,
    ServiceDay,
    Transaction,
    TransactionKind,
)
from huzhu.timebank.money import HUNDREDTHS

MAX_KEY_LENGTH = 128
_KINDS = frozenset(TransactionKind.values)
_TRANSACTION_ATTNAMES = [f.attname for f in Transaction._meta.concrete_fields]
HOLDS_CODE = "holds"
PENALTIES_CODE = "penalties"
CLEARING_PREFIX = "clearing:"


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


def clearing_account(community_id: int) -> Account:
    """The community's clearing account (``clearing:<pk>``): it takes the other side of the
    postings that cross into or out of the community, so each community's books balance."""
    account, _created = Account.objects.get_or_create(
        kind=AccountKind.SYSTEM,
        code=f"{CLEARING_PREFIX}{community_id}",
        defaults={"community_id": community_id, "name": f"{CLEARING_PREFIX}{community_id}"},
    )
    return account


def _with_clearing(
    postings: Sequence[tuple[Account, int]], community: Community | None
) -> list[tuple[Account, int, int | None]]:
    """Each posting with its community, plus the clearing postings that balance every
    community's share of the transaction."""
    fallback = community.pk if community is not None else None
    if fallback is None:
        fallback = next((a.community_id for a, _amount in postings if a.community_id), None)
    out = [(a, amount, a.community_id or fallback) for a, amount in postings]
    sums: dict[int | None, int] = defaultdict(int)
    for _a, amount, c in out:
        sums[c] += amount
    for c, total in sorted(sums.items(), key=lambda kv: kv[0] or 0):
        if total != 0 and c is not None:
            out.append((clearing_account(c), -total, c))
    return out


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
    service_minutes: int = 0,
    reference: str = "",
) -> Transaction:
    """Write one balanced transaction; a repeated key returns the existing one unchanged."""
    return _post(
        actor=actor,
        kind=kind,
        postings=postings,
        idempotency_key=idempotency_key,
        memo=memo,
        community=community,
        on_behalf_of=on_behalf_of,
        reverses=reverses,
        reason=reason,
        evidence=evidence,
        service_minutes=service_minutes,
        reference=reference,
    ).transaction


@dataclass(frozen=True)
class Posted:
    """What ``_post`` did: the transaction, and whether it was written now (False: a replay)."""

    transaction: Transaction
    created: bool


def _post(
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
    service_minutes: int = 0,
    reference: str = "",
) -> Posted:
    key = _check_key(idempotency_key)
    if kind not in _KINDS:
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
    if fastpath.enabled():
        return _post_fast(
            actor=actor,
            kind=kind,
            postings=postings,
            key=key,
            memo=memo,
            community=community,
            on_behalf_of=on_behalf_of,
            reverses=reverses,
            reason=reason,
            evidence=evidence,
            service_minutes=service_minutes,
            reference=reference,
        )

    with transaction.atomic():
        existing = Transaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return Posted(existing, False)
        lines = _with_clearing(postings, community)
        for account, amount, _c in lines[len(postings) :]:
            deltas[account.pk] += amount
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
            return Posted(existing, False)
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
                    service_minutes=service_minutes,
                    reference=reference[:100],
                )
        except IntegrityError:
            winner = Transaction.objects.filter(idempotency_key=key).first()
            if winner is not None:
                return Posted(winner, False)
            if reverses is not None:
                raise _already_reversed(reverses) from None
            raise
        Posting.objects.bulk_create(
            [
                Posting(transaction=tx, account_id=account.pk, amount=amount, community_id=c)
                for account, amount, c in lines
            ]
        )
        for pk, delta in sorted(deltas.items()):
            if delta == 0:
                continue
            account = locked[pk]
            account.balance += delta
            account.save(update_fields=["balance"])
        # The callers' account objects show the balances this transaction left.
        for account, _amount, _c in lines:
            account.balance = locked[account.pk].balance
            account.held = locked[account.pk].held
        record(
            "timebank.transaction.posted",
            actor=actor,
            target=tx,
            community=community,
            on_behalf_of=on_behalf_of,
            new=_audit_new(kind, memo, lines, reverses, reference),
        )
    return Posted(tx, True)


def _audit_new(
    kind: str,
    memo: str,
    lines: Sequence[tuple[Account, int, int | None]],
    reverses: Transaction | None,
    reference: str,
) -> dict[str, Any]:
    """The new values of a posting's audit entry (both paths write the same)."""
    return {
        "kind": kind,
        "memo": memo,
        "postings": [f"{a.pk}:{amount}" for a, amount, _c in lines],
        "reverses": reverses.pk if reverses is not None else None,
        "reference": reference,
    }


def _post_fast(
    *,
    actor: Person | None,
    kind: str,
    postings: Sequence[tuple[Account, int]],
    key: str,
    memo: str,
    community: Community | None,
    on_behalf_of: Person | None,
    reverses: Transaction | None,
    reason: str,
    evidence: str,
    service_minutes: int,
    reference: str,
) -> Posted:
    """``_post`` on PostgreSQL: the same rules and the same rows (transaction, postings,
    balances, audit entry) in one round trip, the PL/pgSQL function of migration 0005 (see
    ``huzhu.timebank.fastpath``); the commit is this atomic block's. A posting that is a unit
    of work of its own (the caller is not inside a database transaction) goes to this process's
    group commit (``huzhu.timebank.groupcommit``) instead, and back here if its batch failed."""
    lines = _with_clearing(postings, community)
    created_at = clock.now()
    audit = fastpath.audit_row(
        "timebank.transaction.posted",
        actor=actor,
        kind=kind,
        community=community,
        on_behalf_of=on_behalf_of,
        new=_audit_new(kind, memo, lines, reverses, reference),
    )
    fast_lines = [fastpath.Line(a.pk, amount, c) for a, amount, c in lines]
    outcome: fastpath.Outcome | None = None
    if reverses is None and not evidence and groupcommit.usable():
        try:
            outcome = groupcommit.post(
                groupcommit.Item(
                    key=key,
                    kind=kind,
                    memo=memo[:200],
                    actor_id=actor.pk if actor is not None else None,
                    on_behalf_of_id=on_behalf_of.pk if on_behalf_of is not None else None,
                    community_id=community.pk if community is not None else None,
                    reason=reason,
                    service_minutes=service_minutes,
                    reference=reference[:100],
                    created_at=created_at,
                    lines=fast_lines,
                    audit=audit,
                )
            )
        except groupcommit.BatchFailed:
            outcome = None  # posted again below, on its own: the key makes that safe
    if outcome is None:
        with transaction.atomic():
            outcome = fastpath.post(
                key=key,
                kind=kind,
                memo=memo[:200],
                actor_id=actor.pk if actor is not None else None,
                on_behalf_of_id=on_behalf_of.pk if on_behalf_of is not None else None,
                community_id=community.pk if community is not None else None,
                reverses_id=reverses.pk if reverses is not None else None,
                reason=reason,
                evidence=evidence,
                service_minutes=service_minutes,
                reference=reference[:100],
                created_at=created_at,
                lines=fast_lines,
                audit=audit,
            )
    if not outcome.created:
        return Posted(Transaction.objects.get(pk=outcome.transaction_id), False)
    # The callers' account objects show the balances this transaction left.
    for account, _amount, _c in lines:
        account.balance, account.held = outcome.balances[account.pk]
    # The row the function wrote, as Transaction.objects.create would have returned it, built
    # the way the ORM builds a row it read (positional values; the related objects the caller
    # passed are cached on it, so reading them costs no query).
    values = {
        "id": outcome.transaction_id,
        "kind": kind,
        "memo": memo[:200],
        "actor_id": actor.pk if actor is not None else None,
        "on_behalf_of_id": on_behalf_of.pk if on_behalf_of is not None else None,
        "community_id": community.pk if community is not None else None,
        "created_at": created_at,
        "idempotency_key": key,
        "reverses_id": reverses.pk if reverses is not None else None,
        "reason": reason,
        "evidence": evidence,
        "service_minutes": service_minutes,
        "reference": reference[:100],
    }
    tx = Transaction.from_db(
        transaction.get_connection().alias,
        _TRANSACTION_ATTNAMES,
        [values[name] for name in _TRANSACTION_ATTNAMES],
    )
    cache = tx._state.fields_cache
    cache["actor"], cache["on_behalf_of"], cache["community"] = actor, on_behalf_of, community
    cache["reverses"] = reverses
    return Posted(tx, True)


# --- built on it -----------------------------------------------------------------------------


def service_multiplier(community: Community, service_date: dt.date) -> int:
    """``timebank.first_service_day_multiplier`` when ``service_date`` is one of the
    community's first-service days (首存日), else 1 (DOMAIN.md "The time bank")."""
    if ServiceDay.objects.filter(community=community, date=service_date).exists():
        return int(get_setting("timebank.first_service_day_multiplier", community))
    return 1


def credit_service(
    *,
    actor: Person | None,
    volunteer: Person,
    hours: Decimal,
    community: Community,
    key: str,
    memo: str = "",
    service_date: dt.date | None = None,
    reference: str = "",
) -> Transaction:
    """Credit a volunteer for hours served; the community's issuing account pays.

    1 hour = ``timebank.points_per_hour`` of the community, multiplied by
    ``timebank.first_service_day_multiplier`` when ``service_date`` (default: today) is a
    first-service day (首存日) of the community. ``service_minutes`` records the hours actually
    served (never doubled). A human actor other than a system job needs
    "accounts.manage_person" on the volunteer (the building manager entering points).
    """
    if not isinstance(hours, Decimal | int) or isinstance(hours, bool):
        raise DomainError("timebank.hours.invalid", _("服务时长必须是精确的小数。"))
    hours = Decimal(hours)
    if not hours.is_finite() or hours <= 0:
        raise DomainError("timebank.hours.invalid", _("服务时长必须大于零。"))
    if actor is not None:
        policy.require(actor, "accounts.manage_person", volunteer)
    day = service_date or clock.today()
    if day > clock.today():
        raise DomainError(
            "timebank.service_date.future",
            _("服务日期不能晚于今天。"),
            details={"field": "service_date"},
        )
    per_hour = int(get_setting("timebank.points_per_hour", community))
    multiplier = service_multiplier(community, day)
    scaled = hours * per_hour * HUNDREDTHS
    if scaled != scaled.to_integral_value():
        raise DomainError("timebank.hours.precision", _("服务时长折算积分不能超过两位小数。"))
    amount = int(scaled) * multiplier
    minutes = int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if not memo and multiplier > 1:
        memo = _("服务 %(hours)s 小时（首存日 ×%(n)s）") % {"hours": hours, "n": multiplier}
    elif not memo:
        memo = _("服务 %(hours)s 小时") % {"hours": hours}
    return post_transaction(
        actor=actor,
        kind=TransactionKind.SERVICE_CREDIT,
        postings=[(issuing_account(community), -amount), (person_account(volunteer), amount)],
        idempotency_key=key,
        memo=memo,
        community=community,
        on_behalf_of=volunteer if actor is not None and actor.pk != volunteer.pk else None,
        service_minutes=minutes,
        reference=reference,
    )


def _transfer(
    *,
    actor: Person | None,
    payer: Account,
    payee: Account,
    amount: int,
    key: str,
    memo: str = "",
    kind: str = TransactionKind.TRANSFER,
    reference: str = "",
) -> Posted:
    if _check_amount(amount) <= 0:
        raise DomainError(
            "timebank.amount.not_positive",
            _("转账金额必须大于零。"),
            details={"field": "amount"},
        )
    if payer.pk == payee.pk:
        raise DomainError("timebank.transfer.same_account", _("不能转给同一个账户。"))
    _may_act_for_account(actor, payer)
    on_behalf_of = None
    if actor is not None and payer.kind == AccountKind.PERSON and payer.person_id != actor.pk:
        on_behalf_of = payer.person
    return _post(
        actor=actor,
        kind=kind,
        postings=[(payer, -amount), (payee, amount)],
        idempotency_key=key,
        memo=memo,
        community=_transfer_community(payer, payee),
        on_behalf_of=on_behalf_of,
        reference=reference,
    )


def _transfer_community(payer: Account, payee: Account) -> Community | None:
    """The transfer's community: the payer's, else the payee's. The account's community object
    when the caller loaded it (``select_related("community")``), else one query."""
    for account in (payer, payee):
        if account.community_id is not None:
            if Account.community.is_cached(account):
                return account.community
            return Community.objects.get(pk=account.community_id)
    return None


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
    return _transfer(
        actor=actor, payer=payer, payee=payee, amount=amount, key=key, memo=memo
    ).transaction


@dataclass(frozen=True)
class Payment:
    """The outcome of ``send_points``: the transaction, whether it was written now, and the
    payer's balance right after it."""

    transaction: Transaction
    created: bool
    payer_balance: int


def send_points(
    *,
    actor: Person,
    payee: Account,
    amount: int,
    key: str,
    memo: str = "",
    payer: Account | None = None,
) -> Payment:
    """The caller pays ``amount`` hundredths from their own account to ``payee`` (any account
    of the alliance: points are valid in every community). A replay of ``key`` writes nothing
    and answers the first payment, with the balance that payment left. ``payer``: the actor's
    own person account when the caller already fetched it (anything else is ignored)."""
    if payer is None or payer.kind != AccountKind.PERSON or payer.person_id != actor.pk:
        payer = person_account(actor)
    theirs = _alliance_of(payee)
    if not actor.is_superuser and theirs is not None and theirs != _alliance_of(payer):
        # Points are valid across the alliance, not beyond it; outside it the account is not
        # disclosed. (An account outside every community, like the fund, takes from anyone.)
        raise DomainError("timebank.account.unknown", _("积分账户不存在。"), status=404)
    posted = _transfer(
        actor=actor,
        payer=payer,
        payee=payee,
        amount=amount,
        key=key,
        memo=memo,
    )
    if not posted.created:
        return _replayed_payment(posted.transaction, actor)
    return Payment(posted.transaction, True, payer.balance)


def _alliance_of(account: Account) -> int | None:
    """The alliance of an account's community (None for an account outside every community);
    no query when the caller loaded the community (``select_related("community")``)."""
    if account.community_id is None:
        return None
    if Account.community.is_cached(account):
        return account.community.alliance_id if account.community is not None else None
    return Community.objects.values_list("alliance_id", flat=True).get(pk=account.community_id)


def _replayed_payment(tx: Transaction, actor: Person) -> Payment:
    from django.db.models import Sum

    own = Posting.objects.filter(
        transaction=tx, account__kind=AccountKind.PERSON, account__person=actor
    ).first()
    if own is None:
        raise ConflictError(
            "timebank.key.reused",
            _("该幂等键已用于另一笔交易。"),
            details={"tx": tx.pk},
        )
    current = Account.objects.values_list("balance", flat=True).get(pk=own.account_id)
    later = Posting.objects.filter(account_id=own.account_id, transaction_id__gt=tx.pk).aggregate(
        total=Sum("amount")
    )["total"]
    return Payment(tx, False, int(current) - int(later or 0))


# --- reversal --------------------------------------------------------------------------------


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days (Monday–Friday) after ``start``."""
    day = start
    left = days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def reversal_deadline(original: Transaction) -> dt.date:
    """The last day a transaction may be corrected: ``timebank.dispute_working_days`` working
    days after the day it was posted (DOMAIN.md: "within 3 working days")."""
    days = int(get_setting("timebank.dispute_working_days", original.community))
    return add_working_days(timezone.localtime(original.created_at).date(), days)


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
    """Correct a transaction by mirroring its postings (DOMAIN.md: "a disputed record is fixed
    by a reversing entry within 3 working days, with the evidence attached").

    At most once; a reason always; evidence from people (a system job is exempt); only within
    ``timebank.dispute_working_days`` working days of the original, for everyone; people need
    "timebank.reverse" on the transaction's community.
    """
    reason = (reason or "").strip()
    evidence = (evidence or "").strip()
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
            policy.require(actor, "timebank.reverse", original.community)
        elif not actor.is_superuser:
            raise DomainError("timebank.forbidden", _("无权冲正该交易。"), status=403)
        if not evidence:
            raise DomainError(
                "timebank.reversal.evidence_required",
                _("请附上冲正证据（如登记本照片说明、双方确认）。"),
                details={"field": "evidence"},
            )
    if original.kind == TransactionKind.REVERSAL:
        raise DomainError("timebank.reversal.of_reversal", _("冲正记录不能再次冲正。"))
    if Transaction.objects.filter(reverses=original).exists():
        raise _already_reversed(original)
    deadline = reversal_deadline(original)
    if clock.today() > deadline:
        days = int(get_setting("timebank.dispute_working_days", original.community))
        raise DomainError(
            "timebank.reversal.too_late",
            _("已超过 %(days)s 个工作日的更正时限（截止 %(deadline)s），不能再冲正。")
            % {"days": days, "deadline": deadline.isoformat()},
            details={"deadline": deadline.isoformat()},
        )
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
        reference=f"reversal:{original.pk}",
    )


# --- first-service days ----------------------------------------------------------------------


def add_service_day(
    *, actor: Person | None, community: Community, date: dt.date, name: str = ""
) -> ServiceDay:
    """Make ``date`` a first-service day (首存日) of the community; the branch head's call
    ("timebank.manage_service_days"). One per date."""
    if actor is not None:
        policy.require(actor, "timebank.manage_service_days", community)
    with transaction.atomic():
        if ServiceDay.objects.filter(community=community, date=date).exists():
            raise DomainError(
                "timebank.service_day.duplicate",
                _("%(date)s 已经是首存日。") % {"date": date.isoformat()},
                details={"field": "date"},
            )
        try:
            with transaction.atomic():
                day = ServiceDay.objects.create(
                    community=community,
                    date=date,
                    name=(name or "").strip()[:100],
                    created_by=actor,
                )
        except IntegrityError:
            raise DomainError(
                "timebank.service_day.duplicate",
                _("%(date)s 已经是首存日。") % {"date": date.isoformat()},
                details={"field": "date"},
            ) from None
        record(
            "timebank.service_day.added",
            actor=actor,
            target=day,
            community=community,
            new={"date": date.isoformat(), "name": day.name},
        )
    return day


def remove_service_day(*, actor: Person | None, day: ServiceDay) -> None:
    """Remove a first-service day; credits already posted keep their points."""
    if actor is not None:
        policy.require(actor, "timebank.manage_service_days", day.community)
    with transaction.atomic():
        locked = ServiceDay.objects.select_for_update().filter(pk=day.pk).first()
        if locked is None:
            raise ConflictError("timebank.service_day.gone", _("该首存日已被删除。"))
        record(
            "timebank.service_day.removed",
            actor=actor,
            target=locked,
            community=day.community,
            old={"date": locked.date.isoformat(), "name": locked.name},
        )
        locked.delete()


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
