from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.core.models import AppendOnlyError
from huzhu.timebank import actions
from huzhu.timebank.models import Account, AccountKind, Posting, Transaction, TransactionKind
from huzhu.timebank.money import format_points, parse_points
from huzhu.timebank.queries import balance_of, journal_sum, recompute_balances, statement


@pytest.fixture
def accounts(cast: Any, world: Any) -> tuple[Account, Account, Account]:
    issuing = actions.issuing_account(world.community)
    alice = actions.person_account(cast.volunteer)
    bob = actions.person_account(cast.resident)
    actions.credit_service(
        actor=None,
        volunteer=cast.volunteer,
        hours=Decimal("3"),
        community=world.community,
        key="seed",
    )
    alice.refresh_from_db()
    return issuing, alice, bob


def test_money_parse_and_format() -> None:
    assert parse_points("1.5") == 150
    assert parse_points(Decimal("2")) == 200
    assert parse_points(3) == 300
    assert format_points(150) == "1.50"
    assert format_points(-5) == "-0.05"
    with pytest.raises(DomainError):
        parse_points(1.5)  # type: ignore[arg-type]
    with pytest.raises(DomainError):
        parse_points("1.234")
    with pytest.raises(DomainError):
        parse_points("abc")


def test_credit_service_uses_points_per_hour(accounts: Any, world: Any) -> None:
    issuing, alice, _bob = accounts
    assert balance_of(alice) == 300
    assert balance_of(issuing) == -300
    tx = Transaction.objects.get(idempotency_key="seed")
    assert tx.kind == TransactionKind.SERVICE_CREDIT
    assert tx.actor is None
    entry = AuditEntry.objects.get(code="timebank.transaction.posted")
    assert entry.actor_label == "system"
    assert journal_sum() == 0


def test_postings_must_sum_to_zero(accounts: Any) -> None:
    issuing, alice, _bob = accounts
    with pytest.raises(DomainError) as err:
        actions.post_transaction(
            actor=None, kind="other", postings=[(issuing, -100), (alice, 99)], idempotency_key="k"
        )
    assert err.value.code == "timebank.postings.unbalanced"


def test_at_least_two_postings_and_non_zero_ints(accounts: Any) -> None:
    issuing, alice, _bob = accounts
    with pytest.raises(DomainError) as err:
        actions.post_transaction(actor=None, kind="other", postings=[], idempotency_key="k")
    assert err.value.code == "timebank.postings.too_few"
    with pytest.raises(DomainError):
        actions.post_transaction(
            actor=None, kind="other", postings=[(issuing, 0), (alice, 0)], idempotency_key="k"
        )
    with pytest.raises(DomainError):
        actions.post_transaction(
            actor=None,
            kind="other",
            postings=[(issuing, -1.5), (alice, 1.5)],  # type: ignore[list-item]
            idempotency_key="k",
        )
    assert not Transaction.objects.filter(idempotency_key="k").exists()


def test_person_balance_never_negative(accounts: Any, cast: Any) -> None:
    _issuing, alice, bob = accounts
    with pytest.raises(DomainError) as err:
        actions.transfer(actor=cast.volunteer, payer=alice, payee=bob, amount=301, key="t1")
    assert err.value.code == "timebank.insufficient"
    assert balance_of(alice) == 300
    actions.transfer(actor=cast.volunteer, payer=alice, payee=bob, amount=300, key="t2")
    assert balance_of(alice) == 0
    assert balance_of(bob) == 300


def test_idempotency_returns_same_transaction(accounts: Any, cast: Any) -> None:
    _issuing, alice, bob = accounts
    first = actions.transfer(actor=cast.volunteer, payer=alice, payee=bob, amount=100, key="same")
    count = Posting.objects.count()
    audits = AuditEntry.objects.count()
    again = actions.transfer(actor=cast.volunteer, payer=alice, payee=bob, amount=100, key="same")
    assert again.pk == first.pk
    assert Posting.objects.count() == count
    assert AuditEntry.objects.count() == audits
    assert balance_of(alice) == 200


def test_someone_else_needs_permission(accounts: Any, cast: Any) -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    _issuing, alice, bob = accounts
    with pytest.raises((PermissionDenied, Http404)):
        actions.transfer(actor=cast.resident, payer=alice, payee=bob, amount=10, key="x")
    with pytest.raises((PermissionDenied, Http404)):
        actions.credit_service(
            actor=cast.resident,
            volunteer=cast.volunteer,
            hours=Decimal(1),
            community=cast.volunteer.community,
            key="y",
        )
    tx = actions.credit_service(
        actor=cast.building_manager,
        volunteer=cast.resident,
        hours=Decimal("0.5"),
        community=cast.resident.community,
        key="z",
    )
    assert tx.on_behalf_of_id == cast.resident.pk
    assert balance_of(bob) == 50


def test_reversal_once_only_with_reason(accounts: Any, cast: Any) -> None:
    _issuing, alice, bob = accounts
    tx = actions.transfer(actor=cast.volunteer, payer=alice, payee=bob, amount=100, key="t")
    with pytest.raises(DomainError) as err:
        actions.reverse_transaction(actor=None, transaction=tx, reason=" ", key="r0")
    assert err.value.code == "timebank.reversal.reason_required"
    rev = actions.reverse_transaction(
        actor=cast.branch_head, transaction=tx, reason="录错", evidence="照片", key="r1"
    )
    assert rev.reverses_id == tx.pk
    assert balance_of(alice) == 300 and balance_of(bob) == 0
    assert actions.reverse_transaction(actor=None, transaction=tx, reason="again", key="r1") == rev
    with pytest.raises(DomainError) as err:
        actions.reverse_transaction(actor=None, transaction=tx, reason="again", key="r2")
    assert err.value.code == "timebank.reversal.already"
    with pytest.raises(DomainError):
        actions.reverse_transaction(actor=None, transaction=rev, reason="x", key="r3")


def test_holds_reduce_available(accounts: Any, cast: Any) -> None:
    _issuing, alice, bob = accounts
    h = actions.hold(actor=cast.volunteer, account=alice, amount=250, key="h1")
    alice.refresh_from_db()
    assert (alice.balance, alice.held, alice.available) == (300, 250, 50)
    assert actions.hold(actor=cast.volunteer, account=alice, amount=250, key="h1").pk == h.pk
    with pytest.raises(DomainError):
        actions.hold(actor=cast.volunteer, account=alice, amount=51, key="h2")
    with pytest.raises(DomainError):
        actions.transfer(actor=cast.volunteer, payer=alice, payee=bob, amount=51, key="t")
    actions.release_hold(actor=cast.volunteer, hold=h)
    with pytest.raises(DomainError):
        actions.release_hold(actor=cast.volunteer, hold=h)
    alice.refresh_from_db()
    assert alice.held == 0
    assert recompute_balances() == []


def test_append_only_in_orm(accounts: Any) -> None:
    tx = Transaction.objects.get(idempotency_key="seed")
    posting = tx.postings.first()
    assert posting is not None
    with pytest.raises(AppendOnlyError):
        tx.memo = "changed"
        tx.save()
    with pytest.raises(AppendOnlyError):
        posting.delete()
    with pytest.raises(AppendOnlyError):
        Posting.objects.filter(pk=posting.pk).update(amount=1)
    with pytest.raises(AppendOnlyError):
        Transaction.objects.all().delete()


@pytest.mark.postgres
def test_database_refuses_update_and_delete(accounts: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the append-only triggers exist only on PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    tx = Transaction.objects.get(idempotency_key="seed")
    posting = tx.postings.first()
    assert posting is not None
    for sql, params in (
        (f"UPDATE {Posting._meta.db_table} SET amount = 1 WHERE id = %s", [posting.pk]),  # noqa: S608
        (f"DELETE FROM {Posting._meta.db_table} WHERE id = %s", [posting.pk]),  # noqa: S608
        (f"UPDATE {Transaction._meta.db_table} SET memo = 'x' WHERE id = %s", [tx.pk]),  # noqa: S608
        (f"DELETE FROM {Transaction._meta.db_table} WHERE id = %s", [tx.pk]),  # noqa: S608
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)


def test_statement_and_reconcile(accounts: Any, cast: Any, capsys: Any) -> None:
    _issuing, alice, bob = accounts
    actions.transfer(actor=cast.volunteer, payer=alice, payee=bob, amount=120, key="t")
    lines = statement(alice).lines  # newest first
    assert [(line.amount, line.running_balance) for line in lines] == [(-120, 180), (300, 300)]
    call_command("reconcile_ledger")
    assert "ledger ok" in capsys.readouterr().out
    # Corrupt a cached balance behind the actions' back: the command reports it.
    Account.objects.filter(pk=bob.pk).update(balance=1)
    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile_ledger")
    assert exit_.value.code == 1
    assert f"account {bob.pk} balance" in capsys.readouterr().out


def test_person_account_check_constraint(accounts: Any) -> None:
    from django.db import IntegrityError

    _issuing, alice, _bob = accounts
    assert alice.kind == AccountKind.PERSON
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=alice.pk).update(balance=-1)


def test_points_per_hour_follows_community_setting(cast: Any, world: Any) -> None:
    from huzhu.orgs.actions import set_setting

    set_setting(
        actor=cast.branch_head, node=world.community, key="timebank.points_per_hour", value=3
    )
    actions.credit_service(
        actor=None,
        volunteer=cast.volunteer,
        hours=Decimal("1.5"),
        community=world.community,
        key="c",
    )
    assert balance_of(actions.person_account(cast.volunteer)) == 450
    with pytest.raises(DomainError):
        actions.credit_service(
            actor=None,
            volunteer=cast.volunteer,
            hours=1.5,  # type: ignore[arg-type]
            community=world.community,
            key="f",
        )
