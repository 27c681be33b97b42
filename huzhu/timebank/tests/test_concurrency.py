"""On PostgreSQL: concurrent spends never overdraw nor lose an update; concurrent replays of
one idempotency key create one transaction (issue 4, acceptance 2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from huzhu.core.errors import DomainError
from huzhu.timebank import actions
from huzhu.timebank.models import Account, AccountKind, Transaction
from huzhu.timebank.queries import journal_sum, recompute_balances
from huzhu.timebank.tests.threads import in_threads

pytestmark = pytest.mark.postgres


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )


def test_sixteen_concurrent_spenders_never_overdraw(transactional_db: Any, cast: Any) -> None:
    _need_postgres()
    spender = actions.person_account(cast.volunteer)
    actions.credit_service(
        actor=None,
        volunteer=cast.volunteer,
        hours=Decimal(50),
        community=cast.volunteer.community,
        key="seed",
    )
    initial = Account.objects.get(pk=spender.pk).balance
    assert initial == 5000
    payee = Account.objects.get_or_create(kind=AccountKind.FUND, name="互助基金")[0]
    amount = 97

    def work(i: int) -> int:
        done = 0
        for j in range(5):
            try:
                actions.transfer(
                    actor=None,
                    payer=Account.objects.get(pk=spender.pk),
                    payee=payee,
                    amount=amount,
                    key=f"spend-{i}-{j}",
                )
                done += 1
            except DomainError as exc:
                assert exc.code == "timebank.insufficient"
        return done

    results, errors = in_threads(16, work)
    assert errors == []
    successes = sum(results)
    assert successes == initial // amount  # 80 attempts for 51 affordable spends
    final = Account.objects.get(pk=spender.pk).balance
    assert final == initial - successes * amount
    assert final >= 0
    assert Account.objects.get(pk=payee.pk).balance == successes * amount
    assert journal_sum() == 0
    assert recompute_balances() == []


def test_ten_concurrent_replays_create_one_transaction(transactional_db: Any, cast: Any) -> None:
    _need_postgres()
    issuing = actions.issuing_account(cast.volunteer.community)
    account = actions.person_account(cast.volunteer)

    def work(i: int) -> int:
        tx = actions.post_transaction(
            actor=None,
            kind="other",
            postings=[(issuing, -100), (account, 100)],
            idempotency_key="one-key",
        )
        return tx.pk

    results, errors = in_threads(10, work)
    assert errors == []
    assert len(results) == 10
    assert len(set(results)) == 1
    assert Transaction.objects.filter(idempotency_key="one-key").count() == 1
    assert Account.objects.get(pk=account.pk).balance == 100
    assert recompute_balances() == []
