"""Memberships through the actions: fees per tier from the community's settings, one
membership per person, payments with unique receipts, co-create numbers and the founding
benefit, the trial voucher, renewal, replays, permissions, notifications (issue 4, members)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from huzhu.accounts.models import Person
from huzhu.audit.models import AuditEntry
from huzhu.core.errors import ConflictError, DomainError
from huzhu.notify.models import Notification
from huzhu.orgs.models import SettingOverride
from huzhu.timebank.actions import members as m
from huzhu.timebank.actions.ledger import person_account
from huzhu.timebank.events import EVENTS as TIMEBANK_EVENTS
from huzhu.timebank.models import Membership, MembershipPayment, Transaction, TransactionKind
from huzhu.timebank.tests.threads import in_threads

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 10)
_seq = itertools.count(1)


# --- helpers shared by the members tests ----------------------------------------------------


def make_person(
    world: Any,
    name: str,
    *,
    household: Any = None,
    community: Any = None,
    birth_date: dt.date | None = None,
    language: str = "zh-hans",
) -> Person:
    p = Person(
        name=name,
        community=community or world.community,
        household=household,
        birth_date=birth_date,
        preferred_language=language,
    )
    p.set_phone(f"136{next(_seq):08d}")
    p.set_unusable_password()
    p.save()
    return p


def override(node: Any, key: str, value: Any) -> None:
    SettingOverride.objects.create(key=key, community=node, value=str(value))


def join(
    actor: Any,
    person: Person,
    tier: str = "trial",
    *,
    amount: int | None = None,
    receipt: str | None = None,
    key: str | None = None,
    paid_on: dt.date | None = None,
    referral_code: str | None = None,
) -> Membership:
    n = next(_seq)
    return m.join_membership(
        actor=actor,
        person=person,
        tier=tier,
        amount_fen=amount if amount is not None else m.fee_fen(tier, person.community),
        method="cash",
        receipt_number=receipt or f"R-{n}",
        paid_on=paid_on or TODAY,
        referral_code=referral_code,
        key=key or f"join-{n}",
    )


def renew(
    actor: Any,
    membership: Membership,
    tier: str = "trial",
    *,
    receipt: str | None = None,
    key: str | None = None,
    paid_on: dt.date | None = None,
) -> Membership:
    n = next(_seq)
    return m.renew_membership(
        actor=actor,
        membership=membership,
        tier=tier,
        amount_fen=m.fee_fen(tier, membership.community),
        method="wechat",
        receipt_number=receipt or f"RN-{n}",
        paid_on=paid_on or TODAY,
        key=key or f"renew-{n}",
    )


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


# --- joining ---------------------------------------------------------------------------------


def test_trial_join_records_payment_voucher_audit_and_notification(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.resident, receipt="A-001", key="k1")
    assert membership.tier == "trial"
    assert membership.joined_on == TODAY
    assert membership.ends_on == dt.date(2027, 3, 9)
    assert membership.level == 1 and membership.cocreate_number is None
    payment = MembershipPayment.objects.get(membership=membership)
    assert (payment.amount_fen, payment.method, payment.receipt_number) == (10000, "cash", "A-001")
    assert payment.recorded_by == cast.finance_officer
    assert (payment.period_start, payment.period_end) == (TODAY, dt.date(2027, 3, 9))
    voucher = Transaction.objects.get(kind=TransactionKind.VOUCHER)
    assert voucher.idempotency_key == f"voucher:{cast.resident.pk}:2026-03-10"
    assert person_account(cast.resident).balance == 100  # 1 hour × 1 point, in hundredths
    entry = AuditEntry.objects.get(code="timebank.membership.joined")
    assert entry.actor == cast.finance_officer
    assert entry.new_values["receipt_number"] == "A-001"
    note = Notification.objects.get(person=cast.resident, code="timebank.membership.joined")
    assert "体验会员" in note.title and "2027" in note.body


def test_voucher_follows_points_per_hour(cast: Any, world: Any) -> None:
    override(world.community, "timebank.points_per_hour", 2)
    join(cast.branch_head, cast.resident)
    assert person_account(cast.resident).balance == 200


def test_amount_must_equal_the_communitys_fee(cast: Any, world: Any) -> None:
    with pytest.raises(DomainError) as err:
        join(cast.finance_officer, cast.resident, amount=9000)
    assert err.value.code == "timebank.membership.amount_mismatch"
    assert err.value.details["field"] == "amount"
    assert "100.00" in str(err.value.message)
    override(world.community, "members.trial_fee", "120")
    with pytest.raises(DomainError):
        join(cast.finance_officer, cast.resident, amount=10000)
    membership = join(cast.finance_officer, cast.resident, amount=12000)
    assert membership.payments.get().amount_fen == 12000
    assert not Membership.objects.filter(person=cast.volunteer).exists()


def test_cocreate_fee(cast: Any, world: Any) -> None:
    with pytest.raises(DomainError):
        join(cast.finance_officer, cast.resident, "cocreate", amount=10000)
    membership = join(cast.finance_officer, cast.resident, "cocreate", amount=100000)
    assert membership.cocreate_number == 1 and membership.founding_benefit
    assert not Transaction.objects.filter(kind=TransactionKind.VOUCHER).exists()


def test_one_membership_per_person(cast: Any) -> None:
    join(cast.finance_officer, cast.resident)
    with pytest.raises(ConflictError) as err:
        join(cast.finance_officer, cast.resident, "cocreate")
    assert err.value.code == "timebank.membership.exists"
    assert "续费" in str(err.value.message)
    assert MembershipPayment.objects.count() == 1


def test_receipt_number_unique_per_community(cast: Any, world: Any) -> None:
    join(cast.finance_officer, cast.resident, receipt="SAME")
    with pytest.raises(ConflictError) as err:
        join(cast.finance_officer, cast.volunteer, receipt="SAME")
    assert err.value.code == "timebank.membership.receipt_duplicate"
    assert err.value.details == {"field": "receipt_number"}
    assert not Membership.objects.filter(person=cast.volunteer).exists()
    other = make_person(world, "外区", community=world.other_community)
    assert join(cast.outsider, other, receipt="SAME").community == world.other_community


def test_a_replayed_key_changes_nothing(cast: Any) -> None:
    first = join(cast.finance_officer, cast.resident, key="same-key", receipt="K-1")
    again = join(cast.finance_officer, cast.resident, key="same-key", receipt="K-2")
    assert again.pk == first.pk
    assert MembershipPayment.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.VOUCHER).count() == 1
    assert AuditEntry.objects.filter(code="timebank.membership.joined").count() == 1
    with pytest.raises(ConflictError):
        join(cast.finance_officer, cast.volunteer, key="same-key")


def test_validation_errors_name_their_field(cast: Any) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tier": "gold"}, "tier"),
        ({"method": "bitcoin"}, "method"),
        ({"receipt_number": "  "}, "receipt_number"),
        ({"paid_on": TODAY + dt.timedelta(days=1)}, "paid_on"),
        ({"key": ""}, "idempotency_key"),
    ]
    for change, fieldname in cases:
        kwargs: dict[str, Any] = {
            "actor": cast.finance_officer,
            "person": cast.resident,
            "tier": "trial",
            "amount_fen": 10000,
            "method": "cash",
            "receipt_number": "V-1",
            "paid_on": TODAY,
            "key": "v",
            **change,
        }
        with pytest.raises(DomainError) as err:
            m.join_membership(**kwargs)
        assert err.value.details.get("field") == fieldname, change
    assert not Membership.objects.exists()


def test_cocreate_numbers_and_the_first_n(cast: Any, world: Any) -> None:
    override(world.community, "members.cocreate_first_n", 2)
    people = [make_person(world, f"共创{i}") for i in range(3)]
    joined = [join(cast.finance_officer, p, "cocreate") for p in people]
    assert [j.cocreate_number for j in joined] == [1, 2, 3]
    assert [j.founding_benefit for j in joined] == [True, True, False]
    assert m.HEALTH_CHECK_BENEFIT in m.benefits_for(joined[0])
    assert m.HEALTH_CHECK_BENEFIT not in m.benefits_for(joined[2])
    # Numbers count per community.
    other = make_person(world, "外区共创", community=world.other_community)
    assert join(cast.outsider, other, "cocreate").cocreate_number == 1


def test_only_the_finance_officer_or_branch_head_of_the_community(cast: Any, world: Any) -> None:
    for role in ("resident", "volunteer", "building_manager", "broker", "district_admin"):
        with pytest.raises(PermissionDenied):
            join(cast[role], cast.resident)
    with pytest.raises(Http404):
        join(cast.outsider, cast.resident)
    with pytest.raises(DomainError):
        join(None, cast.resident)
    assert not Membership.objects.exists()
    assert join(cast.branch_head, cast.resident).pk


def test_notification_in_the_members_language(cast: Any, world: Any) -> None:
    person = make_person(world, "Ann", language="en")
    join(cast.finance_officer, person)
    note = Notification.objects.get(person=person, code="timebank.membership.joined")
    from django.utils import translation

    with translation.override("en"):
        expected = str(TIMEBANK_EVENTS["timebank.membership.joined"][0]) % {
            "tier": str(m.Tier.TRIAL.label)
        }
    assert note.title == expected


# --- renewing --------------------------------------------------------------------------------


def test_renew_extends_from_the_end_while_active(cast: Any) -> None:
    membership = join(cast.finance_officer, cast.resident, paid_on=dt.date(2025, 6, 1))
    assert membership.ends_on == dt.date(2026, 5, 31)
    renewed = renew(cast.finance_officer, membership, key="r1")
    assert renewed.ends_on == dt.date(2027, 5, 31)
    payments = list(membership.payments.order_by("pk"))
    assert len(payments) == 2
    assert (payments[1].period_start, payments[1].period_end) == (
        dt.date(2026, 6, 1),
        dt.date(2027, 5, 31),
    )
    # A trial year brings its voucher; one per period.
    assert Transaction.objects.filter(kind=TransactionKind.VOUCHER).count() == 2
    assert AuditEntry.objects.filter(code="timebank.membership.renewed").count() == 1
    again = renew(cast.finance_officer, membership, key="r1")
    assert again.ends_on == dt.date(2027, 5, 31)
    assert membership.payments.count() == 2


def test_renew_after_expiry_starts_today_and_may_change_tier(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.resident, paid_on=dt.date(2024, 1, 1))
    assert membership.ends_on == dt.date(2024, 12, 31)
    assert not m.is_active(membership)
    renewed = renew(cast.branch_head, membership, "cocreate")
    assert renewed.tier == "cocreate"
    assert renewed.ends_on == dt.date(2027, 3, 9)
    assert renewed.cocreate_number == 1 and renewed.founding_benefit
    with pytest.raises(DomainError) as err:
        m.renew_membership(
            actor=cast.finance_officer,
            membership=renewed,
            tier="cocreate",
            amount_fen=10000,
            method="cash",
            receipt_number="X",
            paid_on=TODAY,
            key="bad",
        )
    assert err.value.code == "timebank.membership.amount_mismatch"
    with pytest.raises(PermissionDenied):
        renew(cast.building_manager, renewed)


# --- PostgreSQL: concurrent co-create joins --------------------------------------------------


@pytest.mark.postgres
def test_concurrent_cocreate_joins_never_duplicate_a_number(
    transactional_db: Any, cast: Any, world: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    override(world.community, "members.cocreate_first_n", 5)
    people = [make_person(world, f"并发{i}") for i in range(12)]
    officer = Person.objects.get(pk=cast.finance_officer.pk)

    def work(i: int) -> int:
        person = Person.objects.select_related("community__alliance").get(pk=people[i].pk)
        # Each thread also replays its own key once: still one membership per person.
        first = m.join_membership(
            actor=officer,
            person=person,
            tier="cocreate",
            amount_fen=100000,
            method="bank",
            receipt_number=f"C-{i}",
            paid_on=TODAY,
            key=f"cc-{i}",
        )
        m.join_membership(
            actor=officer,
            person=person,
            tier="cocreate",
            amount_fen=100000,
            method="bank",
            receipt_number=f"C-{i}",
            paid_on=TODAY,
            key=f"cc-{i}",
        )
        return int(first.cocreate_number or 0)

    results, errors = in_threads(12, work)
    assert not errors, errors
    assert sorted(results) == list(range(1, 13))
    numbers = list(
        Membership.objects.filter(community=world.community).values_list(
            "cocreate_number", flat=True
        )
    )
    assert sorted(numbers) == list(range(1, 13))
    assert Membership.objects.filter(founding_benefit=True).count() == 5
    assert MembershipPayment.objects.count() == 12


@pytest.mark.postgres
def test_concurrent_replays_of_one_join_record_one_membership(
    transactional_db: Any, cast: Any, world: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    person = make_person(world, "重放")
    officer = Person.objects.get(pk=cast.finance_officer.pk)

    def work(i: int) -> int:
        return m.join_membership(
            actor=officer,
            person=Person.objects.select_related("community__alliance").get(pk=person.pk),
            tier="cocreate",
            amount_fen=100000,
            method="cash",
            receipt_number="SAME-1",
            paid_on=TODAY,
            key="one-key",
        ).pk

    results, errors = in_threads(6, work)
    assert not errors, errors
    assert len(set(results)) == 1
    assert Membership.objects.count() == 1 and MembershipPayment.objects.count() == 1
