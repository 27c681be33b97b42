"""The time bank's domain numbers (issue 4, acceptance 3): the first-service day doubles,
a no-show costs 5 points, a record is corrected within 3 working days — each changed by a
community's setting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from huzhu.audit.models import AuditEntry
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.orgs.actions import set_setting
from huzhu.timebank import actions
from huzhu.timebank.actions import rules
from huzhu.timebank.actions.ledger import add_service_day, remove_service_day
from huzhu.timebank.models import Account, ServiceDay, Transaction, TransactionKind
from huzhu.timebank.queries import balance_of, journal_sum, recompute_balances

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _credit(cast: Any, world: Any, hours: str, key: str, **kw: Any) -> Transaction:
    return actions.credit_service(
        actor=None,
        volunteer=cast.volunteer,
        hours=Decimal(hours),
        community=world.community,
        key=key,
        **kw,
    )


# --- first-service day (首存日) -----------------------------------------------------------------


def test_first_service_day_doubles_and_setting_changes_it(cast: Any, world: Any) -> None:
    today = clock.today()
    plain = _credit(cast, world, "2", "plain")
    assert balance_of(actions.person_account(cast.volunteer)) == 200
    assert plain.service_minutes == 120

    add_service_day(actor=cast.branch_head, community=world.community, date=today, name="首存日")
    doubled = _credit(cast, world, "2", "doubled", reference="need:1")
    assert doubled.postings.get(account__kind="person").amount == 400
    assert doubled.service_minutes == 120  # hours served are never doubled
    assert doubled.reference == "need:1"
    assert "首存日" in doubled.memo

    set_setting(
        actor=cast.branch_head,
        node=world.community,
        key="timebank.first_service_day_multiplier",
        value=3,
    )
    tripled = _credit(cast, world, "2", "tripled")
    assert tripled.postings.get(account__kind="person").amount == 600
    assert balance_of(actions.person_account(cast.volunteer)) == 1200
    assert journal_sum() == 0


def test_service_date_decides_not_the_posting_day(cast: Any, world: Any) -> None:
    yesterday = clock.today() - dt.timedelta(days=1)
    add_service_day(actor=None, community=world.community, date=yesterday)
    late = _credit(cast, world, "1", "late", service_date=yesterday)
    assert late.postings.get(account__kind="person").amount == 200
    today = _credit(cast, world, "1", "today")
    assert today.postings.get(account__kind="person").amount == 100
    # Another community's first-service day does not count here.
    add_service_day(actor=None, community=world.other_community, date=clock.today())
    assert _credit(cast, world, "1", "other").postings.get(account__kind="person").amount == 100
    with pytest.raises(DomainError) as err:
        _credit(cast, world, "1", "future", service_date=clock.today() + dt.timedelta(days=1))
    assert err.value.code == "timebank.service_date.future"


def test_service_days_are_managed_by_branch_head_and_audited(cast: Any, world: Any) -> None:
    day = add_service_day(
        actor=cast.branch_head, community=world.community, date=dt.date(2026, 3, 5), name="学雷锋日"
    )
    assert AuditEntry.objects.filter(code="timebank.service_day.added").count() == 1
    with pytest.raises(DomainError) as err:
        add_service_day(actor=cast.branch_head, community=world.community, date=day.date)
    assert err.value.code == "timebank.service_day.duplicate"
    with pytest.raises(PermissionDenied):
        add_service_day(
            actor=cast.building_manager, community=world.community, date=dt.date(2026, 3, 6)
        )
    remove_service_day(actor=cast.branch_head, day=day)
    assert not ServiceDay.objects.exists()
    assert AuditEntry.objects.filter(code="timebank.service_day.removed").count() == 1


# --- no-show (爽约) ----------------------------------------------------------------------------


def test_no_show_costs_five_points(cast: Any, world: Any) -> None:
    _credit(cast, world, "10", "seed")
    account = actions.person_account(cast.volunteer)
    tx = rules.penalize_no_show(
        actor=cast.branch_head,
        volunteer=cast.volunteer,
        community=world.community,
        key="ns1",
        reference="need:7",
    )
    assert tx is not None and tx.kind == TransactionKind.PENALTY
    assert balance_of(account) == 500
    penalties = Account.objects.get(code=actions.PENALTIES_CODE)
    assert penalties.balance == 500
    entry = AuditEntry.objects.get(code="timebank.penalty.no_show")
    assert entry.new_values["charged"] == 500 and entry.new_values["shortfall"] == 0
    # A replay charges nothing more.
    again = rules.penalize_no_show(
        actor=cast.branch_head, volunteer=cast.volunteer, community=world.community, key="ns1"
    )
    assert again is not None and again.pk == tx.pk
    assert balance_of(account) == 500


def test_no_show_penalty_follows_community_setting(cast: Any, world: Any) -> None:
    _credit(cast, world, "10", "seed")
    set_setting(
        actor=cast.branch_head, node=world.community, key="timebank.no_show_penalty", value=8
    )
    rules.penalize_no_show(
        actor=None, volunteer=cast.volunteer, community=world.community, key="ns"
    )
    assert balance_of(actions.person_account(cast.volunteer)) == 200


def test_no_show_never_makes_a_balance_negative(cast: Any, world: Any) -> None:
    _credit(cast, world, "3", "seed")
    account = actions.person_account(cast.volunteer)
    actions.hold(actor=None, account=account, amount=100, key="h")  # held points are not taken
    tx = rules.penalize_no_show(
        actor=None, volunteer=cast.volunteer, community=world.community, key="ns1"
    )
    assert tx is not None
    account.refresh_from_db()
    assert (account.balance, account.held, account.available) == (100, 100, 0)
    entry = AuditEntry.objects.get(code="timebank.penalty.no_show")
    assert entry.new_values["charged"] == 200
    assert entry.new_values["shortfall"] == 300
    # Nothing available: nothing posted, the shortfall recorded once.
    count = Transaction.objects.count()
    assert (
        rules.penalize_no_show(
            actor=None, volunteer=cast.volunteer, community=world.community, key="ns2"
        )
        is None
    )
    assert (
        rules.penalize_no_show(
            actor=None, volunteer=cast.volunteer, community=world.community, key="ns2"
        )
        is None
    )
    assert Transaction.objects.count() == count
    empty = AuditEntry.objects.filter(code="timebank.penalty.no_show").order_by("pk").last()
    assert empty is not None
    assert empty.new_values["charged"] == 0 and empty.new_values["shortfall"] == 500
    assert AuditEntry.objects.filter(code="timebank.penalty.no_show").count() == 2
    assert recompute_balances() == []


def test_no_show_needs_permission(cast: Any, world: Any) -> None:
    with pytest.raises(PermissionDenied):
        rules.penalize_no_show(
            actor=cast.resident, volunteer=cast.volunteer, community=world.community, key="x"
        )


# --- paying with points, holds ---------------------------------------------------------------


def test_pay_for_service_and_settle_hold(cast: Any, world: Any) -> None:
    actions.credit_service(
        actor=None, volunteer=cast.resident, hours=Decimal(5), community=world.community, key="s"
    )
    tx = rules.pay_for_service(
        actor=cast.resident,
        payer=cast.resident,
        payee=cast.volunteer,
        points=150,
        key="pay",
        reference="need:3",
    )
    assert tx.kind == TransactionKind.SERVICE_PAYMENT and tx.reference == "need:3"
    assert balance_of(actions.person_account(cast.volunteer)) == 150
    with pytest.raises(DomainError) as err:
        rules.pay_for_service(
            actor=cast.resident, payer=cast.resident, payee=cast.volunteer, points=351, key="p2"
        )
    assert err.value.code == "timebank.insufficient"
    with pytest.raises(PermissionDenied):
        rules.pay_for_service(
            actor=cast.volunteer, payer=cast.resident, payee=cast.volunteer, points=1, key="p3"
        )

    payer = actions.person_account(cast.resident)
    h = actions.hold(actor=cast.resident, account=payer, amount=200, key="hold")
    settled = rules.settle_hold(actor=cast.resident, hold=h, payee=cast.volunteer, key="settle")
    assert settled.kind == TransactionKind.SERVICE_PAYMENT
    payer.refresh_from_db()
    assert (payer.balance, payer.held) == (150, 0)
    assert balance_of(actions.person_account(cast.volunteer)) == 350
    assert rules.settle_hold(actor=cast.resident, hold=h, payee=cast.volunteer, key="settle") == (
        settled
    )
    with pytest.raises(DomainError) as err:
        rules.settle_hold(actor=cast.resident, hold=h, payee=cast.volunteer, key="other")
    assert err.value.code == "timebank.hold.released"
    assert AuditEntry.objects.filter(code="timebank.hold.settled").count() == 1
    assert recompute_balances() == []


# --- the reversal window ---------------------------------------------------------------------


def _at(day: int, hour: int = 10) -> Any:
    return time_machine.travel(dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI), tick=False)


def test_reversal_within_three_working_days_across_a_weekend(cast: Any, world: Any) -> None:
    with _at(20):  # a Friday
        tx = _credit(cast, world, "2", "fri")
        early = _credit(cast, world, "1", "fri2")
    with _at(25, 23):  # Wednesday late evening: Mon, Tue, Wed — still in time
        rev = actions.reverse_transaction(
            actor=cast.branch_head, transaction=tx, reason="录错", evidence="登记本照片", key="r1"
        )
        assert rev.reverses_id == tx.pk
    with _at(26, 8):  # Thursday: past the deadline
        with pytest.raises(DomainError) as err:
            actions.reverse_transaction(
                actor=cast.branch_head,
                transaction=early,
                reason="录错",
                evidence="照片",
                key="r2",
            )
        assert err.value.code == "timebank.reversal.too_late"
        assert "2026-11-25" in str(err.value.message)
        # The system is bound by the window too.
        with pytest.raises(DomainError):
            actions.reverse_transaction(actor=None, transaction=early, reason="录错", key="r3")


def test_reversal_window_follows_community_setting(cast: Any, world: Any) -> None:
    set_setting(
        actor=cast.branch_head,
        node=world.community,
        key="timebank.dispute_working_days",
        value=4,
    )
    with _at(20):
        tx = _credit(cast, world, "2", "fri")
    with _at(26):
        rev = actions.reverse_transaction(
            actor=cast.branch_head, transaction=tx, reason="录错", evidence="照片", key="r"
        )
    assert rev.reverses_id == tx.pk


def test_reversal_needs_permission_and_evidence(cast: Any, world: Any) -> None:
    tx = _credit(cast, world, "2", "c")
    with pytest.raises(PermissionDenied):
        actions.reverse_transaction(
            actor=cast.building_manager, transaction=tx, reason="错", evidence="照片", key="r"
        )
    with pytest.raises(DomainError) as err:
        actions.reverse_transaction(
            actor=cast.branch_head, transaction=tx, reason="错", evidence=" ", key="r"
        )
    assert err.value.code == "timebank.reversal.evidence_required"
    rev = actions.reverse_transaction(actor=None, transaction=tx, reason="系统更正", key="r")
    assert rev.evidence == ""
    # The district admin holds timebank.reverse over the alliance.
    tx2 = _credit(cast, world, "1", "c2")
    actions.reverse_transaction(
        actor=cast.district_admin, transaction=tx2, reason="错", evidence="照片", key="r2"
    )
    assert balance_of(actions.person_account(cast.volunteer)) == 0


def test_add_working_days() -> None:
    fri = dt.date(2026, 11, 20)
    assert rules.add_working_days(fri, 1) == dt.date(2026, 11, 23)
    assert rules.add_working_days(fri, 3) == dt.date(2026, 11, 25)
    assert rules.add_working_days(dt.date(2026, 11, 22), 1) == dt.date(2026, 11, 23)  # Sunday


@pytest.mark.postgres
def test_concurrent_settlements_pay_once(transactional_db: Any, cast: Any, world: Any) -> None:
    """Two workers settle the same hold at once (different keys): one payment, one refusal."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    actions.credit_service(
        actor=None, volunteer=cast.resident, hours=Decimal(5), community=world.community, key="s"
    )
    payer = actions.person_account(cast.resident)
    h = actions.hold(actor=None, account=payer, amount=300, key="hold")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            rules.settle_hold(actor=None, hold=h, payee=cast.volunteer, key=f"settle-{i}")
            result = "ok"
        except DomainError as exc:
            result = exc.code
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["ok", "timebank.hold.released"]
    assert balance_of(actions.person_account(cast.volunteer)) == 300
    payer.refresh_from_db()
    assert (payer.balance, payer.held) == (200, 0)
    assert recompute_balances() == []
