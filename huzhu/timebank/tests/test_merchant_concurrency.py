"""On PostgreSQL: one payment code redeemed from several tills at once makes one redemption and
never overdraws; concurrent replays of one key make one redemption; a statement is made once."""

from __future__ import annotations

from typing import Any

import pytest

from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.timebank import qr
from huzhu.timebank.actions import merchants as m
from huzhu.timebank.models import MerchantStatement, Redemption, Transaction, TransactionKind
from huzhu.timebank.queries import journal_sum, recompute_balances
from huzhu.timebank.tests.test_concurrency import _need_postgres
from huzhu.timebank.tests.test_merchants import available, give_points, make_merchant
from huzhu.timebank.tests.threads import in_threads

pytestmark = pytest.mark.postgres

THREADS = 8


def test_one_code_redeemed_at_once_from_many_tills_is_used_once(
    transactional_db: Any, cast: Any
) -> None:
    _need_postgres()
    merchant = make_merchant(cast)
    give_points(cast.resident, 12_00)
    token = qr.make_token(cast.resident)

    def work(i: int) -> int:
        r = m.redeem(
            actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000, key=f"till-{i}"
        )
        return r.pk

    results, errors = in_threads(THREADS, work)
    assert len(results) == 1, errors
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, DomainError) and e.code == "timebank.qr.used" for e in errors), errors
    assert Redemption.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.REDEMPTION).count() == 1
    assert available(cast.resident) == 2_00
    assert journal_sum() == 0 and recompute_balances() == []


def test_many_codes_of_one_member_at_once_never_overdraw(transactional_db: Any, cast: Any) -> None:
    """Eight fresh codes, 60 yuan each, 25 points in the account: 10 + 10 + 5 points, then none."""
    _need_postgres()
    merchant = make_merchant(cast)
    give_points(cast.resident, 25_00)
    tokens = [qr.make_token(cast.resident) for _ in range(THREADS)]

    def work(i: int) -> int:
        r = m.redeem(
            actor=cast.merchant,
            merchant=merchant,
            token=tokens[i],
            purchase_fen=6000,
            key=f"code-{i}",
        )
        return r.points

    results, errors = in_threads(THREADS, work)
    assert sorted(results) == [500, 1000, 1000], errors
    assert all(
        isinstance(e, DomainError) and e.code == "timebank.redemption.no_points" for e in errors
    )
    assert available(cast.resident) == 0
    assert journal_sum() == 0 and recompute_balances() == []


def test_one_key_replayed_at_once_makes_one_redemption(transactional_db: Any, cast: Any) -> None:
    _need_postgres()
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    token = qr.make_token(cast.resident)

    def work(i: int) -> int:
        return m.redeem(
            actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000, key="same"
        ).pk

    results, errors = in_threads(THREADS, work)
    assert not errors, errors
    assert len(set(results)) == 1 and Redemption.objects.count() == 1
    assert available(cast.resident) == 90_00


def test_a_statement_made_at_once_is_made_once(transactional_db: Any, cast: Any) -> None:
    _need_postgres()
    merchant = make_merchant(cast)
    month = m.previous_month(clock.today())

    def work(i: int) -> int:
        return m.reconcile_merchant_month(actor=None, merchant=merchant, month=month).pk

    results, errors = in_threads(THREADS, work)
    assert not errors, errors
    assert len(set(results)) == 1 and MerchantStatement.objects.count() == 1
