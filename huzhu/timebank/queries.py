"""Reading the time bank's ledger."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from huzhu.timebank.models import Account, Hold, Posting


def balance_of(account: Account) -> int:
    """The cached balance in hundredths, read fresh from the database."""
    return int(Account.objects.values_list("balance", flat=True).get(pk=account.pk))


@dataclass(frozen=True)
class StatementLine:
    posting: Posting
    amount: int
    running_balance: int


def statement(account: Account) -> list[StatementLine]:
    """Every posting of the account, oldest first, with the running balance."""
    running = 0
    lines: list[StatementLine] = []
    postings = (
        Posting.objects.filter(account=account)
        .select_related("transaction")
        .order_by("transaction__created_at", "pk")
    )
    for p in postings:
        running += p.amount
        lines.append(StatementLine(p, p.amount, running))
    return lines


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
