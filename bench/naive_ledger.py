"""The naive ledger P3 must show failing: the get/save idiom, written as it is commonly seen.

A Django developer's first ledger: an account row with a balance, a transaction row, posting
rows; a transfer reads the payer with ``.get()``, checks the balance in Python, creates the
transaction and its postings, then ``balance -= amount; save()`` on both accounts, and makes a
repeated request harmless by "``exists()`` then create". Django's default autocommit, no
``transaction.atomic``, no row lock, no unique constraint on the key, no check constraint on the
balance — nothing wrong on a single-user test server, which is the point.

It lives in tables of its own (``bench_naive_*``, created by the benchmark; the models are not
part of any installed app, so ``migrate`` never sees them): the real ledger tables have a unique
idempotency key and a non-negative balance constraint that would stop the naive code from doing
what it does in production without them, and P3 must not corrupt the real ledger that P4 uses.
P3 resets these tables and funds the same accounts (same balances, same balanced funding
transactions) before every naive round.
"""

from __future__ import annotations

from django.db import connection, models
from django.utils import timezone

APP_LABEL = "bench_naive"


class NaiveAccount(models.Model):
    kind = models.CharField(max_length=16)
    balance = models.BigIntegerField(default=0)

    class Meta:
        app_label = APP_LABEL
        db_table = "bench_naive_account"

    def __str__(self) -> str:
        return f"NaiveAccount #{self.pk}"


class NaiveTransaction(models.Model):
    kind = models.CharField(max_length=32)
    memo = models.CharField(max_length=200, blank=True, default="")
    idempotency_key = models.CharField(max_length=128, db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        app_label = APP_LABEL
        db_table = "bench_naive_transaction"

    def __str__(self) -> str:
        return f"NaiveTransaction #{self.pk}"


class NaivePosting(models.Model):
    transaction = models.ForeignKey(NaiveTransaction, on_delete=models.CASCADE)
    account = models.ForeignKey(NaiveAccount, on_delete=models.CASCADE)
    amount = models.BigIntegerField()

    class Meta:
        app_label = APP_LABEL
        db_table = "bench_naive_posting"

    def __str__(self) -> str:
        return f"NaivePosting #{self.pk}"


MODELS: tuple[type[models.Model], ...] = (NaiveAccount, NaiveTransaction, NaivePosting)
TABLES = {
    "account": "bench_naive_account",
    "transaction": "bench_naive_transaction",
    "posting": "bench_naive_posting",
}


class Insufficient(Exception):
    """The naive code's "not enough points" answer."""


def transfer(*, payer_id: int, payee_id: int, amount: int, key: str, memo: str = "") -> int:
    """Move ``amount`` from payer to payee; a repeated key does nothing. Returns the
    transaction id."""
    existing = NaiveTransaction.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing.pk
    payer = NaiveAccount.objects.get(pk=payer_id)
    payee = NaiveAccount.objects.get(pk=payee_id)
    if payer.kind == "person" and payer.balance < amount:
        raise Insufficient(payer_id)
    tx = NaiveTransaction.objects.create(
        kind="transfer", memo=memo, idempotency_key=key, created_at=timezone.now()
    )
    NaivePosting.objects.create(transaction=tx, account=payer, amount=-amount)
    NaivePosting.objects.create(transaction=tx, account=payee, amount=amount)
    payer.balance -= amount
    payer.save()
    payee.balance += amount
    payee.save()
    return tx.pk


# --------------------------------------------------------------------------- the bench's part


def ensure_tables() -> None:
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in MODELS:
            if model._meta.db_table not in existing:
                editor.create_model(model)


def reset(balances: list[int]) -> tuple[int, list[int]]:
    """Empty the naive tables and open person accounts with ``balances``, each funded by a
    balanced transaction from an issuing account. Returns (issuing id, person account ids)."""
    ensure_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE bench_naive_posting, bench_naive_transaction, bench_naive_account "
            "RESTART IDENTITY"
        )
        cursor.execute(
            "INSERT INTO bench_naive_account (kind, balance) VALUES ('community', %s) RETURNING id",
            [-sum(balances)],
        )
        issuing = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO bench_naive_account (kind, balance) "
            "SELECT 'person', b FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(b, n) ORDER BY n "
            "RETURNING id",
            [balances],
        )
        ids = sorted(r[0] for r in cursor.fetchall())
        cursor.execute(
            "INSERT INTO bench_naive_transaction (kind, memo, idempotency_key, created_at) "
            "SELECT 'service_credit', '', 'naive-fund-' || id, now() FROM bench_naive_account "
            "WHERE kind = 'person' AND balance <> 0 ORDER BY id"
        )
        cursor.execute(
            "INSERT INTO bench_naive_posting (transaction_id, account_id, amount) "
            "SELECT t.id, x.account_id, x.amount FROM bench_naive_transaction t "
            "JOIN bench_naive_account a ON t.idempotency_key = 'naive-fund-' || a.id "
            "CROSS JOIN LATERAL (VALUES (%s::bigint, -a.balance), (a.id, a.balance)) "
            "AS x(account_id, amount)",
            [issuing],
        )
    return issuing, ids
