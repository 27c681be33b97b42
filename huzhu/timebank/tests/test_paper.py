"""The paper ledger end to end: a building manager copies a slip, a different manager checks
it, the points follow (a first-service day doubles them); the same person cannot check their
own entry, a slip number is entered once, each check happens once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from huzhu.audit.models import AuditEntry
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.notify.models import Notification
from huzhu.timebank import actions
from huzhu.timebank.actions.ledger import add_service_day
from huzhu.timebank.actions.paper import check_paper_entry, enter_paper_entry
from huzhu.timebank.models import PaperEntry, PaperStatus, Transaction, TransactionKind
from huzhu.timebank.queries import balance_of, paper_entries


def _earn(cast: Any, slip: str = "A-001", key: str = "k1", **kw: Any) -> PaperEntry:
    values: dict[str, Any] = {
        "actor": cast.building_manager,
        "person": cast.resident,
        "kind": "earn",
        "hours": Decimal("1.5"),
        "service_date": clock.today() - dt.timedelta(days=2),
        "slip_number": slip,
        "key": key,
        **kw,
    }
    return enter_paper_entry(**values)


def test_earn_slip_entered_then_checked_by_another(cast: Any, world: Any) -> None:
    entry = _earn(cast)
    assert entry.status == PaperStatus.PENDING
    assert entry.building_id == world.building.pk
    assert entry.transaction is None
    assert not Transaction.objects.exists()  # nothing posted before the check
    assert AuditEntry.objects.filter(code="timebank.paper.entered").count() == 1
    # Replaying the key returns the same entry.
    assert _earn(cast).pk == entry.pk

    with pytest.raises(DomainError) as err:
        check_paper_entry(actor=cast.building_manager, entry=entry, approve=True)
    assert err.value.code == "timebank.paper.same_person"
    assert "另一位" in str(err.value.message)

    done = check_paper_entry(actor=cast.branch_head, entry=entry, approve=True)
    assert done.status == PaperStatus.SETTLED and done.checked_by_id == cast.branch_head.pk
    assert done.transaction is not None
    assert done.transaction.kind == TransactionKind.SERVICE_CREDIT
    assert done.transaction.reference == "paper:A-001"
    assert done.transaction.service_minutes == 90
    assert balance_of(actions.person_account(cast.resident)) == 150
    note = Notification.objects.get(person=cast.resident, code="timebank.paper.settled")
    assert "A-001" in note.body and note.link == "/timebank/points/"
    # The same decision again is a replay; a different one is refused.
    assert check_paper_entry(actor=cast.branch_head, entry=entry, approve=True).pk == entry.pk
    with pytest.raises(DomainError) as err:
        check_paper_entry(actor=cast.branch_head, entry=entry, approve=False, reason="x")
    assert err.value.code == "timebank.paper.checked"
    assert Transaction.objects.count() == 1
    assert AuditEntry.objects.filter(code="timebank.paper.approved").count() == 1


def test_earn_on_a_first_service_day_is_doubled(cast: Any, world: Any) -> None:
    day = clock.today() - dt.timedelta(days=2)
    add_service_day(actor=cast.branch_head, community=world.community, date=day)
    entry = _earn(cast, service_date=day)
    check_paper_entry(actor=cast.branch_head, entry=entry, approve=True)
    assert balance_of(actions.person_account(cast.resident)) == 300


def test_spend_slip_pays_the_volunteer(cast: Any, world: Any) -> None:
    actions.credit_service(
        actor=None, volunteer=cast.resident, hours=Decimal(3), community=world.community, key="s"
    )
    entry = enter_paper_entry(
        actor=cast.branch_head,
        person=cast.resident,
        kind="spend",
        points=250,
        counterparty=cast.volunteer,
        service_date=clock.today(),
        slip_number="A-002",
        key="k2",
    )
    done = check_paper_entry(actor=cast.building_manager, entry=entry, approve=True)
    assert done.transaction is not None
    assert done.transaction.kind == TransactionKind.SERVICE_PAYMENT
    assert balance_of(actions.person_account(cast.resident)) == 50
    assert balance_of(actions.person_account(cast.volunteer)) == 250


def test_spend_without_points_stays_pending(cast: Any, world: Any) -> None:
    entry = enter_paper_entry(
        actor=cast.building_manager,
        person=cast.resident,
        kind="spend",
        points=100,
        counterparty=cast.volunteer,
        service_date=clock.today(),
        slip_number="A-003",
        key="k3",
    )
    with pytest.raises(DomainError) as err:
        check_paper_entry(actor=cast.branch_head, entry=entry, approve=True)
    assert err.value.code == "timebank.insufficient"
    entry.refresh_from_db()
    assert entry.status == PaperStatus.PENDING and entry.checked_by is None


def test_duplicate_slip_refused(cast: Any, world: Any) -> None:
    _earn(cast)
    with pytest.raises(DomainError) as err:
        _earn(cast, key="other")
    assert err.value.code == "timebank.paper.duplicate_slip"
    assert "A-001" in str(err.value.message)
    # The same number in another community is another book.
    outsider_entry = enter_paper_entry(
        actor=cast.outsider,
        person=cast.outsider,
        kind="earn",
        hours=Decimal(1),
        service_date=clock.today(),
        slip_number="A-001",
        key="k-other",
    )
    assert outsider_entry.community_id == world.other_community.pk


def test_reject_needs_reason(cast: Any, world: Any) -> None:
    entry = _earn(cast)
    with pytest.raises(DomainError) as err:
        check_paper_entry(actor=cast.branch_head, entry=entry, approve=False, reason=" ")
    assert err.value.code == "timebank.paper.reason_required"
    done = check_paper_entry(actor=cast.branch_head, entry=entry, approve=False, reason="时长不符")
    assert done.status == PaperStatus.REJECTED and done.reject_reason == "时长不符"
    assert not Transaction.objects.exists()
    with pytest.raises(DomainError):
        check_paper_entry(actor=cast.branch_head, entry=entry, approve=True)


def test_who_may_enter_and_check(cast: Any, world: Any) -> None:
    with pytest.raises(PermissionDenied):
        _earn(cast, actor=cast.volunteer)
    with pytest.raises(Http404):
        _earn(cast, actor=cast.outsider)
    with pytest.raises(PermissionDenied):
        _earn(cast, actor=cast.finance_officer)
    entry = _earn(cast)
    with pytest.raises(PermissionDenied):
        check_paper_entry(actor=cast.finance_officer, entry=entry, approve=True)
    with pytest.raises(Http404):
        check_paper_entry(actor=cast.outsider, entry=entry, approve=True)


def test_validation(cast: Any, world: Any) -> None:
    with pytest.raises(DomainError) as err:
        _earn(cast, hours=Decimal(0))
    assert err.value.details["field"] == "hours"
    with pytest.raises(DomainError) as err:
        _earn(cast, service_date=clock.today() + dt.timedelta(days=1))
    assert err.value.details["field"] == "service_date"
    with pytest.raises(DomainError) as err:
        _earn(cast, slip_number=" ")
    assert err.value.details["field"] == "slip_number"
    with pytest.raises(DomainError) as err:
        _earn(cast, kind="spend", points=100, counterparty=None)
    assert err.value.details["field"] == "counterparty"
    with pytest.raises(DomainError) as err:
        _earn(cast, kind="spend", points=100, counterparty=cast.resident)
    assert err.value.code == "timebank.payment.self"


def test_list_scope_and_order(cast: Any, world: Any) -> None:
    first = _earn(cast, slip="A-010", key="a")
    second = _earn(cast, slip="A-011", key="b")
    check_paper_entry(actor=cast.branch_head, entry=second, approve=False, reason="错")
    third = _earn(cast, slip="A-012", key="c")
    enter_paper_entry(
        actor=cast.outsider,
        person=cast.outsider,
        kind="earn",
        hours=Decimal(1),
        service_date=clock.today(),
        slip_number="Z-1",
        key="z",
    )
    rows = list(paper_entries(cast.building_manager))
    assert [e.pk for e in rows] == [third.pk, first.pk, second.pk]  # pending first
    assert [e.pk for e in paper_entries(cast.building_manager, search="A-011")] == [second.pk]
    assert [e.pk for e in paper_entries(cast.branch_head, search="Resident")] == [
        third.pk,
        first.pk,
        second.pk,
    ]
    assert list(paper_entries(cast.volunteer)) == []
    assert [e.slip_number for e in paper_entries(cast.outsider)] == ["Z-1"]


@pytest.mark.postgres
def test_concurrent_checks_settle_once(transactional_db: Any, cast: Any, world: Any) -> None:
    """Two managers approve the same slip at the same moment: one posting, one decision."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    entry = enter_paper_entry(
        actor=cast.building_manager,
        person=cast.resident,
        kind="earn",
        hours=Decimal(2),
        service_date=clock.today(),
        slip_number="C-1",
        key="c1",
    )
    from huzhu.accounts.models import RoleGrant

    # A second branch head, so that two different people may check.
    RoleGrant.objects.create(
        person=cast.finance_officer,
        role="branch_head",
        scope_kind="community",
        community=world.community,
    )
    checkers = [cast.branch_head, cast.finance_officer]
    barrier = threading.Barrier(len(checkers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(checker: Any) -> None:
        try:
            barrier.wait()
            check_paper_entry(actor=checker, entry=entry, approve=True)
            result = "ok"
        except DomainError as exc:
            result = exc.code
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(c,)) for c in checkers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["ok", "timebank.paper.checked"]
    assert Transaction.objects.filter(kind=TransactionKind.SERVICE_CREDIT).count() == 1
    assert balance_of(actions.person_account(cast.resident)) == 200
