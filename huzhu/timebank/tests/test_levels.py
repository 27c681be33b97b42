"""Levels rise automatically with full years of membership, hours served and referrals, each
at its exact threshold and each threshold a community setting; never lowered; benefits per
level (issue 4, members)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from huzhu.audit.models import AuditEntry
from huzhu.notify.models import Notification
from huzhu.timebank.actions import members as m
from huzhu.timebank.actions.ledger import credit_service, reverse_transaction
from huzhu.timebank.models import LevelChange, Membership
from huzhu.timebank.tests.test_members import TODAY, join, make_person, override

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


def _serve(world: Any, person: Any, hours: str, key: str) -> Any:
    return credit_service(
        actor=None, volunteer=person, hours=Decimal(hours), community=world.community, key=key
    )


def _refresh(membership: Membership, day: dt.date | None = None) -> Membership:
    return m.refresh_level(actor=None, membership=membership, day=day)


def test_formula() -> None:
    assert m.compute_level(years=0, minutes=0, referrals=0, level_hours=10, level_referrals=3) == 1
    assert (
        m.compute_level(years=2, minutes=1260, referrals=7, level_hours=10, level_referrals=3)
        == 1 + 2 + 2 + 2
    )


def test_hours_threshold_9_99_vs_10(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer)
    _serve(world, cast.volunteer, "9.99", "s1")
    assert m.served_minutes(cast.volunteer) == 599
    assert _refresh(membership).level == 1
    assert not LevelChange.objects.exists()
    _serve(world, cast.volunteer, "0.01", "s2")
    assert m.served_minutes(cast.volunteer) == 600
    raised = _refresh(membership)
    assert raised.level == 2
    change = LevelChange.objects.get()
    assert (change.old_level, change.new_level, change.hours) == (1, 2, Decimal("10.00"))
    assert AuditEntry.objects.filter(code="timebank.membership.level_raised").count() == 1
    note = Notification.objects.get(code="timebank.membership.level_up")
    assert note.person == cast.volunteer and "2" in note.title
    assert "优先服务" in note.body
    # Running again changes nothing.
    assert _refresh(membership).level == 2
    assert LevelChange.objects.count() == 1


def test_hours_threshold_is_a_community_setting(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer)
    _serve(world, cast.volunteer, "9.99", "s1")
    override(world.community, "members.level_hours", 5)
    assert _refresh(membership).level == 2  # 599 min ÷ 300 = 1 step
    facts = m.level_facts(membership)
    assert facts.level_hours == 5 and facts.hours_to_next == Decimal("0.02")


def test_reversed_service_does_not_count(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer)
    tx = _serve(world, cast.volunteer, "10", "s1")
    reverse_transaction(actor=None, transaction=tx, reason="重复录入", key="rev-1")
    assert m.served_minutes(cast.volunteer) == 0
    assert _refresh(membership).level == 1


def test_a_level_is_never_lowered(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer)
    tx = _serve(world, cast.volunteer, "10", "s1")
    assert _refresh(membership).level == 2
    reverse_transaction(actor=None, transaction=tx, reason="录错", key="rev-1")
    assert _refresh(membership).level == 2
    assert LevelChange.objects.count() == 1


def test_referrals_threshold_2_vs_3_and_its_setting(cast: Any, world: Any) -> None:
    referrer = join(cast.finance_officer, cast.volunteer)
    code = m.referral_code_for(cast.volunteer)
    for i in range(2):
        join(cast.finance_officer, make_person(world, f"朋友{i}"), referral_code=code)
    referrer.refresh_from_db()
    assert referrer.level == 1
    join(cast.finance_officer, make_person(world, "朋友2"), referral_code=code)
    referrer.refresh_from_db()
    assert referrer.level == 2  # raised right when the third friend joined
    assert LevelChange.objects.get(membership=referrer).referrals == 3


def test_referrals_setting_changes_the_step(cast: Any, world: Any) -> None:
    override(world.community, "members.level_referrals", 2)
    referrer = join(cast.finance_officer, cast.volunteer)
    code = m.referral_code_for(cast.volunteer)
    join(cast.finance_officer, make_person(world, "朋友a"), referral_code=code)
    referrer.refresh_from_db()
    assert referrer.level == 1
    join(cast.finance_officer, make_person(world, "朋友b"), referral_code=code)
    referrer.refresh_from_db()
    assert referrer.level == 2


def test_years_threshold_364_vs_365_days(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer, paid_on=dt.date(2025, 3, 11))
    assert TODAY - membership.joined_on == dt.timedelta(days=364)
    assert _refresh(membership).level == 1
    with time_machine.travel(dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC), tick=False):
        assert _refresh(membership).level == 2
    assert LevelChange.objects.get().years == 1


def test_years_and_a_setting_add_up(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer, paid_on=dt.date(2025, 3, 10))
    _serve(world, cast.volunteer, "4", "s1")
    override(world.community, "members.level_hours", 2)
    assert _refresh(membership).level == 1 + 1 + 2


def test_benefits_per_level(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer)
    codes = [b.code for b in m.benefits_for(membership)]
    assert codes == ["voucher"]
    assert [b.code for b in m.benefits_for(membership, 2)] == ["voucher", "priority"]
    assert [b.code for b in m.benefits_for(membership, 3)] == [
        "voucher",
        "priority",
        "free_activities",
    ]


def test_refresh_by_a_person_needs_manage_members(cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.volunteer)
    with pytest.raises(PermissionDenied):
        m.refresh_level(actor=cast.volunteer, membership=membership)
    assert m.refresh_level(actor=cast.branch_head, membership=membership).level == 1
