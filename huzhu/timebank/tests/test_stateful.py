"""Random postings, holds, releases, reversals, merchant redemptions and replays; the ledger's
invariants hold after every step (issue 4, acceptance 1)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from huzhu.core.errors import DomainError
from huzhu.timebank import actions, qr
from huzhu.timebank.actions import merchants
from huzhu.timebank.models import Account, AccountKind, Hold, Transaction
from huzhu.timebank.queries import journal_sum, recompute_balances
from huzhu.timebank.tests.test_merchants import make_merchant


@pytest.mark.django_db
def test_ledger_state_machine(cast: Any, world: Any) -> None:
    people = [cast.volunteer, cast.resident, cast.group_member]
    communities = [world.community, world.other_community]
    shop = make_merchant(cast)  # the cast's merchant is its staff

    class Ledger(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # Each example starts from the same database: its writes are rolled back on teardown
            # (hypothesis needs the draws, which depend on what succeeded, to be reproducible).
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()
            self.run = uuid.uuid4().hex[:8]
            self.n = 0
            self.persons = [actions.person_account(p) for p in people]
            self.fund = Account.objects.get_or_create(kind=AccountKind.FUND, name="互助基金")[0]
            self.txs: list[Transaction] = []
            self.keys: dict[str, int] = {}
            self.holds: list[Hold] = []

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)

        def key(self) -> str:
            self.n += 1
            return f"{self.run}-{self.n}"

        def remember(self, key: str, tx: Transaction) -> None:
            self.keys[key] = tx.pk
            self.txs.append(tx)

        @rule(
            who=st.integers(0, 2),
            where=st.integers(0, 1),
            hours=st.decimals(min_value=Decimal("0.25"), max_value=Decimal(8), places=2),
        )
        def credit(self, who: int, where: int, hours: Decimal) -> None:
            key = self.key()
            try:
                tx = actions.credit_service(
                    actor=None,
                    volunteer=people[who],
                    hours=hours,
                    community=communities[where],
                    key=key,
                )
            except DomainError:
                return
            self.remember(key, tx)

        @rule(src=st.integers(0, 3), dst=st.integers(0, 3), amount=st.integers(1, 1500))
        def transfer(self, src: int, dst: int, amount: int) -> None:
            accounts = [*self.persons, self.fund]
            if src == dst:
                return
            key = self.key()
            try:
                tx = actions.transfer(
                    actor=None, payer=accounts[src], payee=accounts[dst], amount=amount, key=key
                )
            except DomainError:
                return
            self.remember(key, tx)

        @rule(who=st.integers(0, 2), amount=st.integers(1, 800))
        def hold(self, who: int, amount: int) -> None:
            try:
                h = actions.hold(
                    actor=None, account=self.persons[who], amount=amount, key=self.key()
                )
            except DomainError:
                return
            self.holds.append(h)

        @rule(data=st.data())
        def release(self, data: st.DataObject) -> None:
            if not self.holds:
                return
            h = self.holds.pop(data.draw(st.integers(0, len(self.holds) - 1)))
            actions.release_hold(actor=None, hold=h)

        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            if not self.txs:
                return
            tx = self.txs[data.draw(st.integers(0, len(self.txs) - 1))]
            key = self.key()
            try:
                rev = actions.reverse_transaction(
                    actor=None, transaction=tx, reason="测试", key=key
                )
            except DomainError:
                return
            self.keys[key] = rev.pk

        @rule(who=st.integers(0, 2), purchase_fen=st.integers(1, 10_000))
        def redeem(self, who: int, purchase_fen: int) -> None:
            key = self.key()
            try:
                r = merchants.redeem(
                    actor=cast.merchant,
                    merchant=shop,
                    token=qr.make_token(people[who]),
                    purchase_fen=purchase_fen,
                    key=key,
                )
            except DomainError:
                return  # no points to spend: nothing written
            assert r.discount_fen <= min(purchase_fen, 3_000)
            assert r.discount_fen == r.points * 3
            self.remember(f"redemption:{key}", r.transaction)

        @rule(data=st.data())
        def replay(self, data: st.DataObject) -> None:
            if not self.keys:
                return
            key = data.draw(st.sampled_from(sorted(self.keys)))
            before = Transaction.objects.count()
            tx = actions.post_transaction(
                actor=None,
                kind="other",
                postings=[(self.persons[0], -1), (self.fund, 1)],
                idempotency_key=key,
            )
            assert tx.pk == self.keys[key]
            assert Transaction.objects.count() == before

        @invariant()
        def journal_balances(self) -> None:
            assert journal_sum() == 0

        @invariant()
        def cached_balances_match_postings(self) -> None:
            assert recompute_balances() == []

        @invariant()
        def no_person_negative(self) -> None:
            for a in Account.objects.filter(kind=AccountKind.PERSON):
                assert a.balance >= 0
                assert 0 <= a.held <= a.balance

        @invariant()
        def one_transaction_per_key(self) -> None:
            for key, pk in self.keys.items():
                assert list(
                    Transaction.objects.filter(idempotency_key=key).values_list("pk", flat=True)
                ) == [pk]

    run_state_machine_as_test(
        Ledger, settings=settings(max_examples=25, stateful_step_count=20, deadline=None)
    )
