"""Merchants, agreements, staff and the monthly reconciliation (DOMAIN.md "Members, merchants,
money": a 3–5 % management fee; 10,000 yuan of member spending at 3 % → 300 yuan), through the
actions, the management command and the task."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.http import Http404
from django.utils import timezone

from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.timebank import actions, qr
from huzhu.timebank.actions import merchants as m
from huzhu.timebank.models import (
    AccountKind,
    Merchant,
    MerchantStatement,
    MerchantStatus,
    TransactionKind,
)

pytestmark = pytest.mark.django_db

MARCH = dt.date(2026, 3, 1)

# --- factories shared by the merchant tests and the permission matrix -------------------------

_seq = itertools.count(1)


def make_merchant(
    cast: Any,
    community: Any = None,
    *,
    name: str = "",
    fee: str = "3",
    staff: Any = "default",
    starts_on: dt.date = dt.date(2020, 1, 1),
) -> Merchant:
    """A merchant signed up by the branch head of ``community`` (default: the cast's), with an
    agreement in force since 2020 and the cast's merchant as staff."""
    head = cast.branch_head if community is None else cast.outsider
    community = community or cast.branch_head.community
    merchant = m.create_merchant(
        actor=head,
        community=community,
        name=name or f"便民超市{next(_seq)}",
        category="超市",
        address="阳光路1号",
    )
    if fee:
        m.sign_agreement(
            actor=head, merchant=merchant, fee_percent=Decimal(fee), starts_on=starts_on
        )
    if staff == "default":
        staff = cast.merchant if community.pk == cast.merchant.community_id else None
    if staff is not None:
        merchant.staff.add(staff)
    return merchant


def give_points(person: Any, hundredths: int, community: Any = None) -> None:
    """Credit ``hundredths`` to a person from their community's issuing account."""
    community = community or person.community
    actions.post_transaction(
        actor=None,
        kind=TransactionKind.OTHER,
        postings=[
            (actions.issuing_account(community), -hundredths),
            (actions.person_account(person), hundredths),
        ],
        idempotency_key=f"test-points:{person.pk}:{next(_seq)}",
        community=community,
    )


def override(community: Any, key: str, value: str) -> None:
    from huzhu.orgs.models import SettingOverride

    SettingOverride.objects.update_or_create(
        key=key, community=community, building=None, defaults={"value": value}
    )


def available(person: Any) -> int:
    return int(actions.person_account(person).available)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


# --- merchants -------------------------------------------------------------------------------


def test_the_branch_head_signs_a_merchant_up_with_its_own_account(cast: Any, world: Any) -> None:
    merchant = m.create_merchant(
        actor=cast.branch_head, community=world.community, name=" 老王面馆 ", category="餐饮"
    )
    assert merchant.name == "老王面馆" and merchant.status == MerchantStatus.ACTIVE
    assert merchant.account is not None
    assert merchant.account.kind == AccountKind.MERCHANT
    assert merchant.account.community == world.community
    assert AuditEntry.objects.filter(code="timebank.merchant.created").count() == 1
    with pytest.raises(DomainError) as exc:
        m.create_merchant(actor=cast.branch_head, community=world.community, name="老王面馆")
    assert exc.value.code == "timebank.merchant.name_taken"
    with pytest.raises(DomainError) as exc:
        m.create_merchant(actor=cast.branch_head, community=world.community, name="  ")
    assert exc.value.details == {"field": "name"}
    edited = m.update_merchant(
        actor=cast.branch_head, merchant=merchant, name="王记面馆", phone="021-1234"
    )
    assert (edited.name, edited.phone) == ("王记面馆", "021-1234")
    assert AuditEntry.objects.filter(code="timebank.merchant.updated").count() == 1


def test_only_merchant_managers_sign_merchants_up(cast: Any, world: Any) -> None:
    for role in ("resident", "finance_officer", "merchant", "building_manager"):
        with pytest.raises(PermissionDenied):
            m.create_merchant(actor=cast[role], community=world.community, name="小店")
    with pytest.raises(Http404):
        m.create_merchant(actor=cast.branch_head, community=world.other_community, name="小店")
    assert m.create_merchant(actor=cast.district_admin, community=world.community, name="小店")


def test_suspend_and_reactivate_are_audited(cast: Any) -> None:
    merchant = make_merchant(cast)
    m.suspend_merchant(actor=cast.branch_head, merchant=merchant)
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    with pytest.raises(DomainError) as exc:
        m.suspend_merchant(actor=cast.branch_head, merchant=merchant)
    assert exc.value.code == "timebank.merchant.status_unchanged"
    m.reactivate_merchant(actor=cast.branch_head, merchant=merchant)
    codes = list(
        AuditEntry.objects.filter(code__startswith="timebank.merchant.")
        .order_by("pk")
        .values_list("code", flat=True)
    )
    assert codes[-2:] == ["timebank.merchant.suspended", "timebank.merchant.reactivated"]
    with pytest.raises(PermissionDenied):
        m.suspend_merchant(actor=cast.merchant, merchant=merchant)


# --- agreements ------------------------------------------------------------------------------


@pytest.mark.parametrize("fee", ["3", "4.25", "5"])
def test_a_fee_within_three_to_five_percent_is_accepted(cast: Any, fee: str) -> None:
    merchant = make_merchant(cast, fee="")
    a = m.sign_agreement(actor=cast.branch_head, merchant=merchant, fee_percent=Decimal(fee))
    assert a.fee_percent == Decimal(fee)
    assert AuditEntry.objects.filter(code="timebank.merchant.agreement_signed").count() == 1


@pytest.mark.parametrize("fee", ["2.99", "5.01", "0", "10"])
def test_a_fee_outside_three_to_five_percent_is_refused(cast: Any, fee: str) -> None:
    merchant = make_merchant(cast, fee="")
    with pytest.raises(DomainError) as exc:
        m.sign_agreement(actor=cast.branch_head, merchant=merchant, fee_percent=Decimal(fee))
    assert exc.value.code == "timebank.agreement.fee_out_of_range"
    assert "3" in str(exc.value.message) and "5" in str(exc.value.message)
    assert exc.value.details["field"] == "fee_percent"
    assert not merchant.agreements.exists()


def test_the_community_sets_the_fee_range(cast: Any, world: Any) -> None:
    merchant = make_merchant(cast, fee="")
    override(world.community, "merchants.fee_percent_min", "2")
    override(world.community, "merchants.fee_percent_max", "2.5")
    assert m.sign_agreement(actor=cast.branch_head, merchant=merchant, fee_percent=Decimal("2"))
    with pytest.raises(DomainError):
        m.sign_agreement(actor=cast.branch_head, merchant=merchant, fee_percent=Decimal("3"))


def test_agreement_input_is_checked(cast: Any) -> None:
    merchant = make_merchant(cast, fee="")
    with pytest.raises(DomainError) as exc:
        m.sign_agreement(actor=cast.branch_head, merchant=merchant, fee_percent=Decimal("3.125"))
    assert exc.value.code == "timebank.agreement.fee_invalid"
    with pytest.raises(DomainError) as exc:
        m.sign_agreement(
            actor=cast.branch_head,
            merchant=merchant,
            fee_percent=3.5,  # type: ignore[arg-type]
        )
    assert exc.value.code == "timebank.agreement.fee_invalid"
    with pytest.raises(DomainError) as exc:
        m.sign_agreement(
            actor=cast.branch_head,
            merchant=merchant,
            fee_percent=Decimal("3"),
            starts_on=dt.date(2026, 5, 1),
            ends_on=dt.date(2026, 4, 30),
        )
    assert exc.value.code == "timebank.agreement.dates"


def test_the_latest_agreement_started_is_in_force(cast: Any) -> None:
    merchant = make_merchant(cast, fee="3", starts_on=dt.date(2025, 1, 1))
    m.sign_agreement(
        actor=cast.branch_head,
        merchant=merchant,
        fee_percent=Decimal("4"),
        starts_on=dt.date(2026, 1, 1),
    )
    assert m.agreement_in_force(merchant, dt.date(2025, 6, 1)).fee_percent == Decimal("3")  # type: ignore[union-attr]
    assert m.agreement_in_force(merchant, dt.date(2026, 6, 1)).fee_percent == Decimal("4")  # type: ignore[union-attr]
    assert m.agreement_in_force(merchant, dt.date(2024, 6, 1)) is None


# --- staff -----------------------------------------------------------------------------------


def test_staff_are_found_by_phone_and_must_hold_the_merchant_role(cast: Any) -> None:
    merchant = make_merchant(cast, staff=None)
    person = m.add_staff(actor=cast.branch_head, merchant=merchant, phone="138 0000 0009")
    assert person == cast.merchant and merchant.staff.filter(pk=person.pk).exists()
    with pytest.raises(DomainError) as exc:
        m.add_staff(actor=cast.branch_head, merchant=merchant, phone="13800000009")
    assert exc.value.code == "timebank.staff.already"
    with pytest.raises(DomainError) as exc:
        m.add_staff(actor=cast.branch_head, merchant=merchant, phone="13800000001")
    assert exc.value.code == "timebank.staff.not_merchant"
    with pytest.raises(DomainError) as exc:
        m.add_staff(actor=cast.branch_head, merchant=merchant, phone="13611119999")
    assert exc.value.code == "timebank.staff.not_found" and exc.value.status == 404
    with pytest.raises(DomainError) as exc:
        m.add_staff(actor=cast.branch_head, merchant=merchant, phone="12345")
    assert exc.value.code == "timebank.staff.phone_invalid"
    with pytest.raises(PermissionDenied):
        m.add_staff(actor=cast.merchant, merchant=merchant, phone="13800000009")
    m.remove_staff(actor=cast.branch_head, merchant=merchant, person=cast.merchant)
    assert not merchant.staff.exists()
    with pytest.raises(DomainError) as exc:
        m.remove_staff(actor=cast.branch_head, merchant=merchant, person=cast.merchant)
    assert exc.value.code == "timebank.staff.not_listed"
    codes = set(AuditEntry.objects.values_list("code", flat=True))
    assert {"timebank.merchant.staff_added", "timebank.merchant.staff_removed"} <= codes


# --- monthly reconciliation ------------------------------------------------------------------


def _spend(cast: Any, merchant: Any, member: Any, purchases: list[int], day: dt.date) -> list[Any]:
    out = []
    with time_machine.travel(at(day), tick=False):
        for i, fen in enumerate(purchases):
            out.append(
                m.redeem(
                    actor=cast.merchant,
                    merchant=merchant,
                    token=qr.make_token(member),
                    purchase_fen=fen,
                    key=f"spend:{merchant.pk}:{day}:{i}:{fen}",
                )
            )
    return out


def _march_merchant(cast: Any, fee: str = "3") -> Any:
    with time_machine.travel(at(dt.date(2026, 2, 20)), tick=False):
        merchant = make_merchant(cast, fee=fee)
        give_points(cast.resident, 1000_00)
    return merchant


def test_ten_thousand_yuan_at_three_percent_is_a_three_hundred_yuan_fee(cast: Any) -> None:
    merchant = _march_merchant(cast)
    _spend(cast, merchant, cast.resident, [5000_00, 3000_00, 1500_00], dt.date(2026, 3, 3))
    _spend(cast, merchant, cast.resident, [500_00], dt.date(2026, 3, 31))
    # Reversed in March: excluded. In April: another month.
    (returned,) = _spend(cast, merchant, cast.resident, [2000_00], dt.date(2026, 3, 10))
    with time_machine.travel(at(dt.date(2026, 3, 11)), tick=False):
        actions.reverse_transaction(
            actor=cast.branch_head,
            transaction=returned.transaction,
            reason="退货",
            evidence="小票",
            key="return",
        )
    _spend(cast, merchant, cast.resident, [800_00], dt.date(2026, 4, 1))
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        s = m.reconcile_merchant_month(actor=cast.finance_officer, merchant=merchant, month=MARCH)
    assert s.month == MARCH
    assert (s.redemptions, s.spending_fen, s.discount_fen, s.points) == (4, 1_000_000, 12000, 4000)
    assert s.fee_percent == Decimal("3.00")
    assert s.fee_fen == 300_00
    assert s.created_by == cast.finance_officer
    assert AuditEntry.objects.filter(code="timebank.merchant.statement_created").count() == 1


def test_a_five_percent_fee_is_five_hundred_yuan(cast: Any) -> None:
    merchant = _march_merchant(cast, fee="5")
    _spend(cast, merchant, cast.resident, [10_000_00], dt.date(2026, 3, 3))
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        s = m.reconcile_merchant_month(actor=None, merchant=merchant, month=MARCH)
    assert s.fee_fen == 500_00


def test_the_fee_rounds_half_up_to_the_fen(cast: Any) -> None:
    assert m.fee_of(1050, Decimal("3")) == 32  # 31.5 → 32
    assert m.fee_of(1049, Decimal("3")) == 31  # 31.47 → 31
    assert m.fee_of(1_000_000, Decimal("3")) == 30000
    assert m.fee_of(12345, Decimal("4.25")) == 525  # 524.6625 → 525
    merchant = _march_merchant(cast)
    _spend(cast, merchant, cast.resident, [1050], dt.date(2026, 3, 3))
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        s = m.reconcile_merchant_month(actor=None, merchant=merchant, month=MARCH)
    assert s.fee_fen == 32


def test_each_redemption_keeps_the_fee_of_its_day(cast: Any) -> None:
    merchant = _march_merchant(cast)
    _spend(cast, merchant, cast.resident, [1000_00], dt.date(2026, 3, 3))
    m.sign_agreement(
        actor=cast.branch_head,
        merchant=merchant,
        fee_percent=Decimal("5"),
        starts_on=dt.date(2026, 3, 15),
    )
    _spend(cast, merchant, cast.resident, [1000_00], dt.date(2026, 3, 20))
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        s = m.reconcile_merchant_month(actor=None, merchant=merchant, month=MARCH)
    assert s.fee_fen == 30_00 + 50_00
    assert s.fee_percent == Decimal("5.00")


def test_a_statement_is_made_once_and_only_for_a_finished_month(cast: Any) -> None:
    merchant = _march_merchant(cast)
    with (
        time_machine.travel(at(dt.date(2026, 3, 20)), tick=False),
        pytest.raises(DomainError) as exc,
    ):
        m.reconcile_merchant_month(actor=cast.finance_officer, merchant=merchant, month=MARCH)
    assert exc.value.code == "timebank.statement.month_open"
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        a = m.reconcile_merchant_month(
            actor=cast.finance_officer, merchant=merchant, month=dt.date(2026, 3, 17)
        )
        b = m.reconcile_merchant_month(actor=cast.branch_head, merchant=merchant, month=MARCH)
    assert a.pk == b.pk and (a.redemptions, a.fee_fen) == (0, 0)
    assert MerchantStatement.objects.count() == 1
    assert AuditEntry.objects.filter(code="timebank.merchant.statement_created").count() == 1


def test_only_reconcilers_reconcile(cast: Any, world: Any) -> None:
    merchant = _march_merchant(cast)
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        for role in ("resident", "merchant", "building_manager"):
            with pytest.raises(PermissionDenied):
                m.reconcile_merchant_month(actor=cast[role], merchant=merchant, month=MARCH)
        with pytest.raises(Http404):
            m.reconcile_merchant_month(actor=cast.outsider, merchant=merchant, month=MARCH)
    assert not MerchantStatement.objects.exists()


def test_the_command_and_the_task_reconcile_every_merchant_once(cast: Any, world: Any) -> None:
    from huzhu.timebank.tasks.merchants import reconcile_merchants

    a = _march_merchant(cast)
    with time_machine.travel(at(dt.date(2026, 2, 20)), tick=False):
        b = make_merchant(cast, world.other_community)
    _spend(cast, a, cast.resident, [10_000_00], dt.date(2026, 3, 3))
    with time_machine.travel(at(dt.date(2026, 4, 10)), tick=False):
        late = make_merchant(cast)  # signed up in April: nothing to reconcile for March
    with time_machine.travel(at(dt.date(2026, 4, 1), 8), tick=False):
        out = StringIO()
        call_command("reconcile_merchants", stdout=out)
        assert "2 statement(s)" in out.getvalue()
        call_command("reconcile_merchants", stdout=StringIO())
        assert reconcile_merchants.call() == 2
    statements = {s.merchant_id: s for s in MerchantStatement.objects.all()}
    assert set(statements) == {a.pk, b.pk} and late.pk not in statements
    assert statements[a.pk].fee_fen == 300_00 and statements[a.pk].month == MARCH
    with time_machine.travel(at(dt.date(2026, 5, 2)), tick=False):
        call_command("reconcile_merchants", "--month", "2026-03", stdout=StringIO())
        assert reconcile_merchants.call("2026-04") == 3
    assert MerchantStatement.objects.filter(month=MARCH).count() == 2
    assert MerchantStatement.objects.filter(month=dt.date(2026, 4, 1)).count() == 3
