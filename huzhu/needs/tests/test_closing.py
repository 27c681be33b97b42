"""How a need ends otherwise (DOMAIN.md "The core loop" 8.): cancellation with 2 hours' notice,
a no-show costing 5 points, the next occurrence of a recurring need, and the 1-month freeze after
a malicious cancellation — each number changed by a community setting."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from huzhu.accounts.models import Status
from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.needs import actions
from huzhu.needs.models import (
    AssignmentState,
    Need,
    NeedState,
    Recurrence,
)
from huzhu.needs.tests.support import (
    T0,
    accepted,
    approved,
    assignment_of,
    at,
    balance,
    give_points,
    override,
    publish,
)
from huzhu.notify.models import Notification
from huzhu.timebank.actions.ledger import person_account
from huzhu.timebank.models import Transaction, TransactionKind

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_needs_two_hours_notice_once_offered(cast: Any, world: Any) -> None:
    give_points(cast.resident, world, 10, "seed")
    with at(T0):
        need = accepted(cast, starts_in=3 * H, pay_with_points=True, points=300)
    with at(T0 + H + dt.timedelta(minutes=1)), pytest.raises(DomainError) as err:
        actions.cancel_need(actor=cast.resident, need=need, reason="临时有事")
    assert err.value.code == "needs.need.cancel_too_late"
    assert "2 小时" in str(err.value)
    with at(T0 + H):
        actions.cancel_need(actor=cast.resident, need=need, reason="临时有事")
    need.refresh_from_db()
    assert need.state == NeedState.CANCELLED and need.cancel_reason == "临时有事"
    assert assignment_of(need, cast.volunteer).state == AssignmentState.CANCELLED
    account = person_account(cast.resident)
    assert (account.balance, account.held) == (1000, 0)  # the hold was released
    assert Notification.objects.filter(person=cast.volunteer, code="needs.need.cancelled").exists()


def test_cancel_notice_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "needs.cancel_notice_hours", 4)
    with at(T0):
        need = accepted(cast, starts_in=5 * H)
    with at(T0 + H + dt.timedelta(minutes=1)), pytest.raises(DomainError) as err:
        actions.cancel_need(actor=cast.resident, need=need, reason="临时有事")
    assert err.value.details == {"notice_hours": 4}
    with at(T0 + H):
        assert actions.cancel_need(actor=cast.resident, need=need, reason="临时有事").state == (
            NeedState.CANCELLED
        )


def test_an_unreviewed_need_can_be_cancelled_any_time(cast: Any) -> None:
    with at(T0):
        need = publish(cast, starts_in=H)
        with pytest.raises(PermissionDenied):
            actions.cancel_need(actor=cast.volunteer, need=need, reason="x")
        assert actions.cancel_need(actor=cast.resident, need=need, reason="不需要了").state == (
            NeedState.CANCELLED
        )


# --- no-show --------------------------------------------------------------------------------


def test_no_show_costs_five_points_through_the_time_bank(cast: Any, world: Any) -> None:
    give_points(cast.volunteer, world, 8, "seed-v")
    give_points(cast.resident, world, 10, "seed-r")
    with at(T0):
        need = accepted(cast, starts_in=2 * H, pay_with_points=True, points=300)
        with pytest.raises(DomainError) as err:
            actions.mark_no_show(actor=cast.building_manager, need=need)
        assert err.value.code == "needs.no_show.too_early"
    with at(T0 + 3 * H):
        with pytest.raises(PermissionDenied):
            actions.mark_no_show(actor=cast.resident, need=need)
        actions.mark_no_show(actor=cast.building_manager, need=need, note="电话未接")
    need.refresh_from_db()
    assert need.state == NeedState.NO_SHOW
    assert assignment_of(need, cast.volunteer).state == AssignmentState.NO_SHOW
    penalty = Transaction.objects.get(idempotency_key=f"need:{need.pk}:no_show")
    assert penalty.kind == TransactionKind.PENALTY
    assert balance(cast.volunteer) == 800 - 500  # DOMAIN.md: no-show −5 points
    account = person_account(cast.resident)
    assert account.held == 0
    assert AuditEntry.objects.get(code="needs.need.no_show").actor_id == cast.building_manager.pk


def test_no_show_penalty_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "timebank.no_show_penalty", 3)
    give_points(cast.volunteer, world, 8, "seed-v")
    with at(T0):
        need = accepted(cast, starts_in=2 * H)
    with at(T0 + 3 * H):
        actions.mark_no_show(actor=None, need=need)
    assert balance(cast.volunteer) == 800 - 300


# --- recurring needs, malicious cancellations -----------------------------------------------


def test_a_recurring_need_repeats_with_the_same_volunteer_preferred(cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast, starts_in=3 * H, recurrence=Recurrence.BIWEEKLY)
    with at(T0 + 5 * H):
        actions.confirm_need(actor=cast.resident, need=need)
        # Confirming twice is refused; the next occurrence is published once.
        with pytest.raises(DomainError):
            actions.confirm_need(actor=cast.resident, need=need)
    nxt = Need.objects.get(series=need)
    assert nxt.starts_at == need.starts_at + dt.timedelta(days=14)
    assert nxt.ends_at - nxt.starts_at == need.ends_at - need.starts_at
    assert nxt.state == NeedState.SUBMITTED
    assert nxt.preferred_volunteer == cast.volunteer  # continuity
    assert nxt.requester == cast.resident and nxt.recurrence == Recurrence.BIWEEKLY
    assert nxt.review_due_at == T0 + 5 * H + dt.timedelta(minutes=30)
    assert AuditEntry.objects.filter(code="needs.need.repeated").count() == 1
    assert actions.repeat_need(actor=None, need=need) is None  # exists already


def test_monthly_keeps_the_local_time_and_clamps_the_day(cast: Any) -> None:
    from huzhu.needs.actions.publish import _shift
    from huzhu.needs.tests.support import SHANGHAI

    start = dt.datetime(2026, 1, 31, 14, 0, tzinfo=SHANGHAI)
    assert _shift(start, Recurrence.MONTHLY) == dt.datetime(2026, 2, 28, 14, 0, tzinfo=SHANGHAI)
    assert _shift(start, Recurrence.WEEKLY) == start + dt.timedelta(days=7)
    december = dt.datetime(2026, 12, 15, 9, 0, tzinfo=SHANGHAI)
    assert _shift(december, Recurrence.MONTHLY) == dt.datetime(2027, 1, 15, 9, 0, tzinfo=SHANGHAI)


def test_malicious_cancellation_freezes_requests_for_a_month(cast: Any, world: Any) -> None:
    with at(T0):
        need = approved(cast)
        with pytest.raises(DomainError) as err:
            actions.freeze_requester(actor=cast.building_manager, need=need, reason="恶意")
        assert err.value.code == "needs.freeze.not_cancelled"
        actions.cancel_need(actor=cast.resident, need=need, reason="不需要了")
        with pytest.raises(PermissionDenied):
            actions.freeze_requester(actor=cast.broker, need=need, reason="恶意")
        actions.freeze_requester(
            actor=cast.building_manager, need=need, reason="一周内第三次临时取消"
        )
    cast.resident.refresh_from_db()
    assert cast.resident.status == Status.FROZEN
    assert cast.resident.status_until == T0 + dt.timedelta(days=30)
    assert AuditEntry.objects.filter(code="needs.need.malicious_cancel").count() == 1
    with at(T0 + dt.timedelta(days=29)), pytest.raises(DomainError) as err:
        publish(cast)
    assert err.value.code == "needs.requester.frozen"


def test_freeze_days_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "needs.malicious_cancel_freeze_days", 7)
    with at(T0):
        need = publish(cast)
        actions.cancel_need(actor=cast.resident, need=need, reason="不需要了")
        actions.freeze_requester(actor=cast.branch_head, need=need, reason="恶意取消")
    cast.resident.refresh_from_db()
    assert cast.resident.status_until == T0 + dt.timedelta(days=7)
    with at(T0 + dt.timedelta(days=8)):
        assert publish(cast).state == NeedState.SUBMITTED
