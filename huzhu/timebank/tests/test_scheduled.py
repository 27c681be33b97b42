"""The daily run of the members area: birthday gifts (Feb 29 on Feb 28 in common years),
the monthly benefit reminder before the 5th, expiry reminders once per period, level refresh;
idempotent the same day, catching up a missed day (issue 4, members)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command

from huzhu.audit.models import AuditEntry
from huzhu.notify.models import Notification
from huzhu.timebank.actions import members as m
from huzhu.timebank.actions.ledger import credit_service, person_account
from huzhu.timebank.models import Membership, Transaction, TransactionKind
from huzhu.timebank.tests.test_members import join, make_person, override, renew

pytestmark = pytest.mark.django_db


@contextmanager
def on(day: dt.date) -> Iterator[None]:
    with time_machine.travel(dt.datetime.combine(day, dt.time(10, 0), tzinfo=dt.UTC), tick=False):
        yield


def _member(cast: Any, world: Any, name: str, birth: dt.date, paid_on: dt.date) -> Membership:
    person = make_person(world, name, birth_date=birth)
    with on(paid_on):
        return join(cast.finance_officer, person, paid_on=paid_on)


def _gifts() -> int:
    return Transaction.objects.filter(kind=TransactionKind.BIRTHDAY).count()


def test_birthday_gift_once_a_year(cast: Any, world: Any) -> None:
    member = _member(cast, world, "寿星", dt.date(1950, 3, 10), dt.date(2026, 1, 5))
    make_person(world, "非会员寿星", birth_date=dt.date(1950, 3, 10))
    day = dt.date(2026, 3, 10)
    with on(day):
        assert m.run_daily(day).birthdays == 1
        assert m.run_daily(day).birthdays == 0
    tx = Transaction.objects.get(kind=TransactionKind.BIRTHDAY)
    assert tx.idempotency_key == f"birthday:{member.person_id}:2026"
    assert person_account(member.person).balance == 100 + 200  # voucher + 2 points
    assert Notification.objects.filter(code="timebank.birthday.gift").count() == 1


def test_birthday_gift_is_a_community_setting(cast: Any, world: Any) -> None:
    member = _member(cast, world, "寿星", dt.date(1960, 3, 10), dt.date(2026, 1, 5))
    override(world.community, "timebank.birthday_gift", 5)
    with on(dt.date(2026, 3, 10)):
        m.run_daily()
    assert person_account(member.person).balance == 100 + 500


def test_a_missed_day_catches_up_the_birthday(cast: Any, world: Any) -> None:
    member = _member(cast, world, "寿星", dt.date(1950, 3, 8), dt.date(2026, 1, 5))
    with on(dt.date(2026, 3, 10)):
        assert m.run_daily().birthdays == 1
    assert Transaction.objects.filter(idempotency_key=f"birthday:{member.person_id}:2026").exists()


def test_expired_members_get_no_gift(cast: Any, world: Any) -> None:
    _member(cast, world, "过期", dt.date(1950, 3, 10), dt.date(2024, 1, 5))
    with on(dt.date(2026, 3, 10)):
        assert m.run_daily().birthdays == 0
    assert _gifts() == 0


def test_feb_29_birthdays_on_feb_28_in_common_years(cast: Any, world: Any) -> None:
    member = _member(cast, world, "闰年生", dt.date(1952, 2, 29), dt.date(2026, 3, 1))
    with on(dt.date(2027, 2, 27)):
        assert m.run_daily().birthdays == 0
    with on(dt.date(2027, 2, 28)):
        assert m.run_daily().birthdays == 1
    with on(dt.date(2027, 3, 1)):
        assert m.run_daily().birthdays == 0
    assert Transaction.objects.filter(idempotency_key=f"birthday:{member.person_id}:2027").exists()


def test_feb_29_birthdays_on_feb_29_in_leap_years(cast: Any, world: Any) -> None:
    _member(cast, world, "闰年生", dt.date(1952, 2, 29), dt.date(2028, 1, 10))
    with on(dt.date(2028, 2, 28)):
        assert m.run_daily().birthdays == 0
    with on(dt.date(2028, 2, 29)):
        assert m.run_daily().birthdays == 1


def test_benefit_reminder_from_the_1st_to_the_5th_once_a_month(cast: Any, world: Any) -> None:
    member = _member(cast, world, "会员", dt.date(1980, 7, 1), dt.date(2026, 1, 5))
    with on(dt.date(2026, 3, 6)):
        assert m.run_daily().benefit_reminders == 0  # after the 5th: wait for next month
    with on(dt.date(2026, 4, 2)):
        assert m.run_daily().benefit_reminders == 1
    with on(dt.date(2026, 4, 3)):
        assert m.run_daily().benefit_reminders == 0
    with on(dt.date(2026, 5, 5)):
        assert m.run_daily().benefit_reminders == 1
    notes = Notification.objects.filter(code="timebank.membership.benefits", person=member.person)
    assert [n.idempotency_key for n in notes.order_by("pk")] == [
        f"benefits:{member.pk}:2026-04",
        f"benefits:{member.pk}:2026-05",
    ]
    assert "服务券" in notes.first().body  # type: ignore[union-attr]


def test_benefit_reminder_day_follows_the_setting(cast: Any, world: Any) -> None:
    _member(cast, world, "会员", dt.date(1980, 7, 1), dt.date(2026, 1, 5))
    override(world.community, "members.benefit_reminder_day", 3)
    with on(dt.date(2026, 4, 4)):
        assert m.run_daily().benefit_reminders == 0
    with on(dt.date(2026, 5, 3)):
        assert m.run_daily().benefit_reminders == 1


def test_expiry_reminder_days_follow_the_setting(cast: Any, world: Any) -> None:
    soon = _member(cast, world, "将到期", dt.date(1980, 7, 1), dt.date(2025, 4, 10))
    assert soon.ends_on == dt.date(2026, 4, 9)
    override(world.community, "members.expiry_reminder_days", 45)
    with on(dt.date(2026, 2, 22)):  # 46 days before
        assert m.run_daily().expiry_reminders == 0
    with on(dt.date(2026, 2, 23)):  # 45 days before
        assert m.run_daily().expiry_reminders == 1


def test_expiry_reminder_30_days_before_once_per_period(cast: Any, world: Any) -> None:
    soon = _member(cast, world, "将到期", dt.date(1980, 7, 1), dt.date(2025, 4, 10))
    later = _member(cast, world, "未到期", dt.date(1980, 7, 1), dt.date(2025, 4, 11))
    assert soon.ends_on == dt.date(2026, 4, 9)
    with on(dt.date(2026, 3, 9)):  # 31 days before
        assert m.run_daily().expiry_reminders == 0
    with on(dt.date(2026, 3, 10)):  # 30 days before
        assert m.run_daily().expiry_reminders == 1
        assert m.run_daily().expiry_reminders == 0
    soon.refresh_from_db()
    assert soon.reminded_for == dt.date(2026, 4, 9)
    assert AuditEntry.objects.filter(code="timebank.membership.expiry_reminded").count() == 1
    with on(dt.date(2026, 3, 12)):  # a day missed: the other member is caught up
        assert m.run_daily().expiry_reminders == 1
    later.refresh_from_db()
    assert later.reminded_for == later.ends_on
    # After a renewal the new period is reminded again, once.
    with on(dt.date(2026, 3, 20)):
        renewed = renew(cast.finance_officer, soon)
    assert renewed.ends_on == dt.date(2027, 4, 9)
    with on(dt.date(2027, 3, 15)):  # the other one has long expired: no reminder
        assert m.run_daily().expiry_reminders == 1
        assert m.run_daily().expiry_reminders == 0
    assert Notification.objects.filter(code="timebank.membership.expiring").count() == 3


def test_daily_run_raises_levels(cast: Any, world: Any) -> None:
    member = _member(cast, world, "志愿者", dt.date(1980, 7, 1), dt.date(2026, 1, 5))
    with on(dt.date(2026, 3, 10)):
        credit_service(
            actor=None,
            volunteer=member.person,
            hours=Decimal("10"),
            community=world.community,
            key="s1",
        )
        assert m.run_daily().levels_raised == 1
        assert m.run_daily().levels_raised == 0
    member.refresh_from_db()
    assert member.level == 2


def test_the_command_and_the_task_run_the_same_day(cast: Any, world: Any) -> None:
    _member(cast, world, "寿星", dt.date(1950, 3, 10), dt.date(2026, 1, 5))
    out = io.StringIO()
    with on(dt.date(2026, 3, 12)):
        call_command("timebank_daily", "--date", "2026-03-10", stdout=out)
        assert "birthday gifts: 1" in out.getvalue()
        from huzhu.timebank.tasks.members import run_members_daily

        assert "birthday gifts: 0" in run_members_daily.call("2026-03-10")
        with pytest.raises(CommandError):
            call_command("timebank_daily", "--date", "10/03/2026")
    assert _gifts() == 1
