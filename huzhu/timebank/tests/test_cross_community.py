"""Points are valid across the alliance, and every community's books still balance: each
posting carries its account's community and clearing postings settle what crosses over."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum

from huzhu.timebank import actions
from huzhu.timebank.actions import ledger, rules
from huzhu.timebank.models import Account, AccountKind, Posting, Transaction
from huzhu.timebank.queries import (
    balance_of,
    community_imbalances,
    journal_sum,
    recompute_balances,
)
from huzhu.timebank.tasks.ledger import reconcile_ledger


def _per_community_sums(tx: Transaction) -> dict[Any, int]:
    return {
        row["community_id"]: int(row["total"])
        for row in tx.postings.values("community_id").annotate(total=Sum("amount"))
    }


def test_transfer_between_communities_keeps_both_books(cast: Any, world: Any) -> None:
    actions.credit_service(
        actor=None,
        volunteer=cast.resident,
        hours=Decimal(4),
        community=world.community,
        key="seed",
    )
    payer = actions.person_account(cast.resident)
    payee = actions.person_account(cast.outsider)  # lives in the other community
    tx = actions.transfer(actor=cast.resident, payer=payer, payee=payee, amount=150, key="x")
    assert balance_of(payee) == 150
    sums = _per_community_sums(tx)
    assert set(sums) == {world.community.pk, world.other_community.pk}
    assert all(total == 0 for total in sums.values())
    for posting in tx.postings.select_related("account"):
        assert posting.community_id == posting.account.community_id
    clearing = Account.objects.get(code=f"clearing:{world.community.pk}")
    other_clearing = Account.objects.get(code=f"clearing:{world.other_community.pk}")
    assert clearing.kind == AccountKind.SYSTEM and clearing.community_id == world.community.pk
    assert (clearing.balance, other_clearing.balance) == (150, -150)
    assert community_imbalances() == []
    assert journal_sum() == 0 and recompute_balances() == []


def test_service_in_another_community_and_payment_back(cast: Any, world: Any) -> None:
    # The outsider serves in our community: our issuing account pays, both books balance.
    credit = actions.credit_service(
        actor=None,
        volunteer=cast.outsider,
        hours=Decimal(2),
        community=world.community,
        key="served",
    )
    assert all(total == 0 for total in _per_community_sums(credit).values())
    paid = rules.pay_for_service(
        actor=cast.outsider, payer=cast.outsider, payee=cast.volunteer, points=50, key="pay"
    )
    assert all(total == 0 for total in _per_community_sums(paid).values())
    rev = actions.reverse_transaction(actor=None, transaction=paid, reason="更正", key="rev")
    assert all(total == 0 for total in _per_community_sums(rev).values())
    assert balance_of(actions.person_account(cast.outsider)) == 200
    assert community_imbalances() == []
    result = reconcile_ledger.call()
    assert result["ok"] is True


def test_same_community_has_no_clearing(cast: Any, world: Any) -> None:
    tx = actions.credit_service(
        actor=None,
        volunteer=cast.volunteer,
        hours=Decimal(1),
        community=world.community,
        key="c",
    )
    assert tx.postings.count() == 2
    assert not Account.objects.filter(code__startswith="clearing:").exists()
    assert set(tx.postings.values_list("community_id", flat=True)) == {world.community.pk}


def test_reconcile_reports_a_community_out_of_balance(cast: Any, world: Any, capsys: Any) -> None:
    actions.credit_service(
        actor=None, volunteer=cast.volunteer, hours=Decimal(1), community=world.community, key="c"
    )
    call_command("reconcile_ledger")
    assert "ledger ok" in capsys.readouterr().out
    # Book a balanced pair across two communities without clearing, behind the actions' back.
    tx = Transaction.objects.get(idempotency_key="c")
    issuing = actions.issuing_account(world.other_community)
    a = actions.person_account(cast.outsider)
    Posting.objects.bulk_create(
        [
            Posting(transaction=tx, account=issuing, amount=-10, community=world.other_community),
            Posting(transaction=tx, account=a, amount=10, community=world.community),
        ]
    )
    Account.objects.filter(pk=issuing.pk).update(balance=-10)
    Account.objects.filter(pk=a.pk).update(balance=10)
    assert journal_sum() == 0 and recompute_balances() == []
    imbalances = community_imbalances()
    assert {i.community_id for i in imbalances} == {world.community.pk, world.other_community.pk}
    with pytest.raises(SystemExit):
        call_command("reconcile_ledger")
    assert f"community {world.community.pk} unbalanced" in capsys.readouterr().out
    assert reconcile_ledger.call()["ok"] is False


def test_points_do_not_leave_the_alliance(cast: Any, world: Any) -> None:
    from huzhu.core.errors import DomainError
    from huzhu.orgs.models import Alliance, Community

    elsewhere = Community.objects.create(
        alliance=Alliance.objects.create(name="别的联盟", name_en="Another alliance"),
        name="远方小区",
        name_en="Far away",
    )
    stranger = actions.issuing_account(elsewhere)
    with pytest.raises(DomainError) as refused:
        ledger.send_points(actor=cast.resident, payee=stranger, amount=1, key="out-of-alliance")
    assert refused.value.status == 404
