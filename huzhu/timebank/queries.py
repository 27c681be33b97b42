"""Reading the time bank's ledger: balances, statements, the paper ledger, reconciliation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When, Window
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Hold,
    PaperEntry,
    PaperStatus,
    Posting,
    TransactionKind,
)

CLEARING_PREFIX = "clearing:"


def balance_of(account: Account) -> int:
    """The cached balance in hundredths, read fresh from the database."""
    return int(Account.objects.values_list("balance", flat=True).get(pk=account.pk))


def own_account(person: Person) -> Account | None:
    """The person's point account, or None before their first posting (nothing is created)."""
    return Account.objects.filter(kind=AccountKind.PERSON, person=person).first()


# --- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    """One entry of a statement: what it was for, the amount, and the balance it left."""

    posting: Posting
    amount: int
    running_balance: int
    kind: str
    kind_label: str
    memo: str
    reference: str
    counterparty: str

    @property
    def transaction_id(self) -> int:
        return self.posting.transaction_id

    @property
    def created_at(self) -> Any:
        return self.posting.transaction.created_at


def statement_postings(account: Account) -> QuerySet[Posting]:
    """The account's postings, newest first, each annotated with ``running``: the balance
    right after it (a window over the whole account, so any page carries the right figure)."""
    return (
        Posting.objects.filter(account=account)
        .select_related("transaction")
        .annotate(
            running=Window(
                Sum("amount"),
                order_by=[F("transaction__created_at").asc(), F("pk").asc()],
            )
        )
        .order_by("-transaction__created_at", "-pk")
    )


def account_label(account: Account) -> str:
    if account.kind == AccountKind.PERSON and account.person is not None:
        return account.person.name
    if account.kind == AccountKind.COMMUNITY:
        name = account.community.name if account.community is not None else account.name
        return _("%(community)s（社区发行）") % {"community": name}
    merchant = getattr(account, "merchant", None)
    if merchant is not None:
        return str(merchant.name)
    if account.kind == AccountKind.SYSTEM:
        labels = {"penalties": _("爽约扣分"), "holds": _("冻结")}
        return str(labels.get(account.code, account.name or account.code))
    return account.name or account.get_kind_display()


def statement_lines(account: Account, postings: list[Posting]) -> list[StatementLine]:
    """Lines for one page of ``statement_postings``: kind label, memo, reference and the
    counterparty (two queries for the page, whatever its length)."""
    tx_ids = [p.transaction_id for p in postings]
    others: dict[int, list[Posting]] = {}
    for other in (
        Posting.objects.filter(transaction_id__in=tx_ids)
        .exclude(account_id=account.pk)
        .exclude(account__kind=AccountKind.SYSTEM, account__code__startswith=CLEARING_PREFIX)
        .select_related("account__person", "account__community", "account__merchant")
    ):
        others.setdefault(other.transaction_id, []).append(other)
    lines = []
    for p in postings:
        candidates = [
            o for o in others.get(p.transaction_id, []) if (o.amount > 0) != (p.amount > 0)
        ]
        candidates = candidates or others.get(p.transaction_id, [])
        counterpart = max(candidates, key=lambda o: abs(o.amount), default=None)
        tx = p.transaction
        lines.append(
            StatementLine(
                posting=p,
                amount=p.amount,
                running_balance=int(getattr(p, "running", 0) or 0),
                kind=tx.kind,
                kind_label=str(TransactionKind(tx.kind).label)
                if tx.kind in TransactionKind.values
                else tx.kind,
                memo=tx.memo,
                reference=tx.reference,
                counterparty=account_label(counterpart.account) if counterpart else "",
            )
        )
    return lines


@dataclass(frozen=True)
class StatementPage:
    lines: list[StatementLine]
    total: int
    page: int
    page_size: int


def statement(account: Account, page: int = 1, page_size: int = 25) -> StatementPage:
    """One page of the account's statement, newest first, with the running balance."""
    page = max(1, page)
    start = (page - 1) * page_size
    qs = statement_postings(account)
    total = Posting.objects.filter(account=account).count()
    rows = list(qs[start : start + page_size]) if start < total else []
    return StatementPage(statement_lines(account, rows), total, page, page_size)


def held_of(account: Account | None) -> tuple[int, int, int]:
    """(balance, held, available) in hundredths; zeros before the first posting."""
    if account is None:
        return 0, 0, 0
    return account.balance, account.held, account.available


# --- the paper ledger ------------------------------------------------------------------------


def paper_entries(
    actor: Person,
    *,
    status: str = "",
    building: int | None = None,
    search: str = "",
) -> QuerySet[PaperEntry]:
    """Paper entries the actor may enter and check ("timebank.enter_paper"), pending first,
    then newest; filtered by status, building, and slip number or name."""
    qs = policy.visible_to(actor, "timebank.enter_paper", PaperEntry.objects.all())
    if status:
        qs = qs.filter(status=status)
    if building:
        qs = qs.filter(building_id=building)
    search = (search or "").strip()
    if search:
        qs = qs.filter(
            Q(slip_number__icontains=search)
            | Q(person__name__icontains=search)
            | Q(counterparty__name__icontains=search)
        )
    return (
        qs.select_related(
            "person", "counterparty", "building", "entered_by", "checked_by", "community"
        )
        .annotate(
            pending_first=Case(
                When(status=PaperStatus.PENDING, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("pending_first", "-entered_at", "-pk")
    )


# --- reconciliation --------------------------------------------------------------------------


def journal_sum() -> int:
    """The sum of every posting: zero in a healthy ledger."""
    return int(Posting.objects.aggregate(total=Sum("amount"))["total"] or 0)


@dataclass(frozen=True)
class Difference:
    account_id: int
    field: str
    cached: int
    computed: int


def recompute_balances() -> list[Difference]:
    """Recompute every balance from the journal and every hold total from open holds."""
    sums = dict(
        Posting.objects.values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    held = dict(
        Hold.objects.filter(released_at__isnull=True)
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    out: list[Difference] = []
    for pk, balance, cached_held in Account.objects.order_by("pk").values_list(
        "pk", "balance", "held"
    ):
        computed = int(sums.get(pk) or 0)
        if computed != balance:
            out.append(Difference(pk, "balance", balance, computed))
        computed_held = int(held.get(pk) or 0)
        if computed_held != cached_held:
            out.append(Difference(pk, "held", cached_held, computed_held))
    return out


@dataclass(frozen=True)
class CommunityImbalance:
    """A community whose share of some transactions does not sum to zero."""

    community_id: int | None
    transactions: int
    total: int


def community_imbalances() -> list[CommunityImbalance]:
    """Per community: the transactions whose postings in that community do not sum to zero
    (each community's books must balance on their own; clearing postings see to it)."""
    rows = (
        Posting.objects.values("community_id", "transaction_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by()
    )
    found: dict[int | None, list[int]] = {}
    for row in rows:
        found.setdefault(row["community_id"], []).append(int(row["total"]))
    return [
        CommunityImbalance(community_id, len(totals), sum(totals))
        for community_id, totals in sorted(found.items(), key=lambda kv: kv[0] or 0)
    ]


@dataclass(frozen=True)
class Reconciliation:
    journal_total: int
    differences: list[Difference]
    imbalances: list[CommunityImbalance]

    @property
    def ok(self) -> bool:
        return self.journal_total == 0 and not self.differences and not self.imbalances


def reconcile() -> Reconciliation:
    """Everything the daily reconciliation checks, read-only."""
    return Reconciliation(journal_sum(), recompute_balances(), community_imbalances())
