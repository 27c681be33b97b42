"""The service loop through its actions (DOMAIN.md "The core loop"): publish → review → offer
→ accept → check in/out → confirm → rate, with points credited and held points paid; item and
skill lines; the supply library — each number changed by a community setting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404

from huzhu.accounts.models import Status
from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.core.models import AppendOnlyError
from huzhu.needs import actions
from huzhu.needs.models import (
    Assignment,
    AssignmentState,
    LineKind,
    Need,
    NeedEvent,
    NeedLine,
    NeedState,
    Offer,
    Rating,
)
from huzhu.needs.tests.support import (
    T0,
    accepted,
    approved,
    assignment_of,
    at,
    balance,
    give_points,
    need_type,
    offered,
    override,
    publish,
    volunteer,
)
from huzhu.notify.models import Notification
from huzhu.timebank.actions.ledger import person_account
from huzhu.timebank.models import Hold, Transaction, TransactionKind
from huzhu.timebank.queries import journal_sum

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


# --- publish --------------------------------------------------------------------------------


def test_resident_publishes_for_self_with_review_deadline(cast: Any, world: Any) -> None:
    with at(T0):
        need = publish(cast)
    assert need.state == NeedState.SUBMITTED
    assert need.requester == cast.resident and need.published_by == cast.resident
    assert not need.on_behalf
    assert need.community == world.community
    assert need.household == world.household and need.building == world.building
    assert (need.latitude_e6, need.longitude_e6) == (31231000, 121471000)  # the building's
    assert need.review_due_at == T0 + dt.timedelta(minutes=30)  # DOMAIN.md: 30 minutes
    assert need.duration_minutes == 60
    entry = AuditEntry.objects.get(code="needs.need.published")
    assert entry.actor_id == cast.resident.pk and entry.on_behalf_of_id is None
    event = NeedEvent.objects.get(need=need)
    assert (event.transition, event.from_state, event.to_state) == ("publish", "", "submitted")


def test_review_minutes_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "needs.review_minutes", 10)
    with at(T0):
        need = publish(cast)
    assert need.review_due_at == T0 + dt.timedelta(minutes=10)


def test_broker_publishes_on_behalf_recorded_as_such(cast: Any, world: Any) -> None:
    with at(T0):
        need = publish(cast, actor=cast.broker, requester=cast.resident)
    assert need.published_by == cast.broker and need.requester == cast.resident
    assert need.on_behalf
    entry = AuditEntry.objects.get(code="needs.need.published")
    assert entry.actor_id == cast.broker.pk
    assert entry.on_behalf_of_id == cast.resident.pk
    assert entry.new_values["on_behalf"] is True


def test_publishing_for_someone_needs_the_permission(cast: Any) -> None:
    with at(T0), pytest.raises(PermissionDenied):
        publish(cast, actor=cast.volunteer, requester=cast.resident)
    with at(T0), pytest.raises(Http404):
        publish(cast, actor=cast.outsider, requester=cast.resident)
    assert not Need.objects.exists()


def test_only_a_publisher_for_others_may_name_another_household(cast: Any, world: Any) -> None:
    from huzhu.accounts.models import Household

    neighbour = Household.objects.exclude(pk=world.household.pk).get(community=world.community)
    with at(T0), pytest.raises(PermissionDenied):
        publish(cast, household=neighbour)
    assert not Need.objects.exists()
    # Nor may the building manager of another building; a broker of the community may (the
    # service happens at that home).
    with at(T0), pytest.raises(PermissionDenied):
        publish(cast, actor=cast.building_manager, requester=cast.resident, household=neighbour)
    with at(T0):
        need = publish(cast, actor=cast.broker, requester=cast.resident, household=neighbour)
    assert need.household == neighbour


def test_a_free_address_is_encrypted_at_rest(cast: Any) -> None:
    from django.db import connection

    with at(T0):
        need = publish(
            cast,
            address_detail="幸福路8号3楼",
            latitude=Decimal("31.240000"),
            longitude=Decimal("121.480000"),
        )
    assert need.household is None and need.building is None
    assert need.point() == (31240000, 121480000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT address_detail FROM needs_need WHERE id = %s", [need.pk])
        stored = cursor.fetchone()[0]
    assert "幸福路" not in stored
    assert Need.objects.get(pk=need.pk).address_detail == "幸福路8号3楼"
    # The audit entry masks it too.
    assert AuditEntry.objects.get(code="needs.need.published").new_values["address_detail"] == (
        "***"
    )


def test_publish_rules(cast: Any, world: Any) -> None:
    with at(T0):
        with pytest.raises(DomainError) as err:
            publish(cast, starts_in=-H)
        assert err.value.code == "needs.window.past"
        with pytest.raises(DomainError) as err:
            publish(cast, ends_at=T0)
        assert err.value.code == "needs.window.invalid"
        with pytest.raises(DomainError) as err:
            publish(cast, description="  ")
        assert err.value.code == "needs.description.required"
        with pytest.raises(DomainError) as err:
            publish(cast, pay_with_points=True, points=500)
        assert err.value.code == "needs.points.insufficient"
        kind = need_type("repair", "维修")
        kind.active = False
        kind.save()
        with pytest.raises(DomainError) as err:
            publish(cast, need_type=kind)
        assert err.value.code == "needs.type.inactive"
        # A resident frozen for a malicious cancellation cannot request (DOMAIN.md 8.).
        cast.resident.status = Status.FROZEN
        cast.resident.status_until = T0 + dt.timedelta(days=30)
        cast.resident.save()
        with pytest.raises(DomainError) as err:
            publish(cast)
        assert err.value.code == "needs.requester.frozen"
    with at(T0 + dt.timedelta(days=31)):
        assert publish(cast).state == NeedState.SUBMITTED  # the freeze ended by itself


def test_item_and_skill_lines_with_progress(cast: Any, world: Any) -> None:
    from huzhu.accounts.models import Skill

    drive = Skill.objects.create(code="drive", name="驾驶", name_en="Driving")
    with at(T0):
        need = publish(
            cast,
            lines=[
                actions.LineSpec(LineKind.ITEM, "口罩", 20, unit="箱"),
                actions.LineSpec(LineKind.SKILL, "会开车的人", 3, skill=drive),
            ],
        )
        masks, drivers = NeedLine.objects.filter(need=need).order_by("id")
        assert (masks.quantity, drivers.skill) == (20, drive)
        line = actions.update_line_progress(
            actor=cast.building_manager, line=masks, committed=15, in_transit=5, fulfilled=8
        )
        assert (line.committed, line.in_transit, line.fulfilled, line.outstanding) == (15, 5, 8, 5)
        with pytest.raises(DomainError) as err:
            actions.update_line_progress(
                actor=cast.building_manager, line=masks, committed=10, in_transit=5, fulfilled=8
            )
        assert err.value.code == "needs.line.progress_exceeds"
        with pytest.raises(DomainError) as err:
            actions.add_need_line(
                actor=cast.resident, need=need, spec=actions.LineSpec(LineKind.SKILL, "x", 1)
            )
        assert err.value.code == "needs.line.skill_required"
        with pytest.raises(PermissionDenied):
            actions.update_line_progress(
                actor=cast.volunteer, line=masks, committed=1, in_transit=0, fulfilled=0
            )
    # The database holds the rule too.
    with pytest.raises(IntegrityError), transaction.atomic():
        NeedLine.objects.filter(pk=masks.pk).update(in_transit=20)


# --- review ---------------------------------------------------------------------------------


def test_building_manager_approves_or_rejects_with_reason(cast: Any) -> None:
    with at(T0):
        need = publish(cast)
        with pytest.raises(DomainError) as err:
            actions.review_need(actor=cast.building_manager, need=need, approve=False)
        assert err.value.code == "needs.reason.required"
        actions.review_need(
            actor=cast.building_manager, need=need, approve=False, reason="重复发布"
        )
    need.refresh_from_db()
    assert need.state == NeedState.REJECTED and need.reject_reason == "重复发布"
    assert need.reviewed_by == cast.building_manager
    assert AuditEntry.objects.get(code="needs.need.rejected").new_values["reason"] == "重复发布"
    note = Notification.objects.get(person=cast.resident, code="needs.need.rejected")
    assert "重复发布" in note.body
    with at(T0), pytest.raises(DomainError) as err:
        actions.review_need(actor=cast.building_manager, need=need, approve=True)
    assert err.value.code == "needs.need.bad_state"


def test_only_reviewers_review(cast: Any) -> None:
    with at(T0):
        need = publish(cast)
        for who in (cast.resident, cast.volunteer, cast.broker):
            with pytest.raises(PermissionDenied):
                actions.review_need(actor=who, need=need, approve=True)
        with pytest.raises(Http404):
            actions.review_need(actor=cast.outsider, need=need, approve=True)
        actions.review_need(actor=cast.branch_head, need=need, approve=True)
    assert Need.objects.get(pk=need.pk).state == NeedState.APPROVED
    assert AuditEntry.objects.filter(code="needs.need.approved").count() == 1


# --- offer, accept, decline -----------------------------------------------------------------


def test_offer_sets_the_accept_deadline_and_tells_the_volunteers(cast: Any, world: Any) -> None:
    other = volunteer(world, "王师傅", phone="13700000001")
    with at(T0):
        need = approved(cast)
        opened = actions.offer_need(
            actor=cast.building_manager,
            need=need,
            volunteers=[cast.volunteer, other],
            reasons={other.pk: ["1.2 km", "理发 certified"]},
        )
    need.refresh_from_db()
    assert need.state == NeedState.OFFERED
    assert need.accept_due_at == T0 + 2 * H  # DOMAIN.md: accept within 2 hours
    assert [a.state for a in opened] == [AssignmentState.OFFERED] * 2
    assert assignment_of(need, other).reasons == ["1.2 km", "理发 certified"]
    assert Notification.objects.filter(code="needs.assignment.offered").count() == 2
    with at(T0), pytest.raises(DomainError) as err:
        actions.offer_need(actor=cast.building_manager, need=need, volunteers=[cast.resident])
    assert err.value.code == "needs.volunteer.is_requester"


def test_accept_hours_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "needs.accept_hours", 4)
    with at(T0):
        need = offered(cast)
    assert need.accept_due_at == T0 + 4 * H


def test_offer_refuses_suspended_and_wrong_gender(cast: Any, world: Any) -> None:
    man = volunteer(world, "男志愿者", phone="13700000002", gender="M")
    with at(T0):
        need = approved(cast, gender="F")
        with pytest.raises(DomainError) as err:
            actions.offer_need(actor=cast.building_manager, need=need, volunteers=[man])
        assert err.value.code == "needs.volunteer.gender"
        cast.volunteer.status = Status.SUSPENDED
        cast.volunteer.save()
        with pytest.raises(DomainError) as err:
            actions.offer_need(actor=None, need=need, volunteers=[cast.volunteer])
        assert err.value.code == "needs.volunteer.inactive"
        with pytest.raises(PermissionDenied):
            actions.offer_need(actor=cast.resident, need=need, volunteers=[man])


def test_first_accept_wins_and_the_others_are_told_it_is_taken(cast: Any, world: Any) -> None:
    other = volunteer(world, "王师傅", phone="13700000001")
    third = volunteer(world, "李阿姨", phone="13700000003")
    with at(T0):
        need = offered(cast, volunteers=[cast.volunteer, other, third])
        won = actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer)
        )
        assert won.state == AssignmentState.ACCEPTED
        # The winner's second click changes nothing.
        again = actions.accept_assignment(actor=cast.volunteer, assignment=won)
        assert again.pk == won.pk
        with pytest.raises(DomainError) as err:
            actions.accept_assignment(actor=other, assignment=assignment_of(need, other))
    assert err.value.code == "needs.need.taken"
    assert err.value.status == 409
    assert str(err.value) == "已被他人接单。"
    need.refresh_from_db()
    assert need.state == NeedState.ACCEPTED
    assert assignment_of(need, other).state == AssignmentState.WITHDRAWN
    assert assignment_of(need, third).state == AssignmentState.WITHDRAWN
    assert AuditEntry.objects.filter(code="needs.need.accepted").count() == 1
    assert Notification.objects.filter(person=cast.resident, code="needs.need.accepted").exists()


def test_the_database_allows_one_holding_assignment(cast: Any, world: Any) -> None:
    other = volunteer(world, "王师傅", phone="13700000001")
    with at(T0):
        need = offered(cast, volunteers=[cast.volunteer, other])
    Assignment.objects.filter(need=need, volunteer=cast.volunteer).update(
        state=AssignmentState.ACCEPTED
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(need=need, volunteer=other).update(
            state=AssignmentState.COMPLETED
        )


def test_only_the_offered_volunteer_accepts_and_not_after_the_deadline(
    cast: Any, world: Any
) -> None:
    with at(T0):
        need = offered(cast)
        a = assignment_of(need, cast.volunteer)
        with pytest.raises(DomainError) as err:
            actions.accept_assignment(actor=cast.group_member, assignment=a)
        assert err.value.code == "needs.assignment.not_yours"
    with at(T0 + 2 * H + dt.timedelta(minutes=1)), pytest.raises(DomainError) as err:
        actions.accept_assignment(actor=cast.volunteer, assignment=a)
    assert err.value.code == "needs.assignment.expired"


def test_decline_with_reason_and_rematch_when_nobody_is_left(cast: Any, world: Any) -> None:
    other = volunteer(world, "王师傅", phone="13700000001")
    with at(T0):
        need = offered(cast, volunteers=[cast.volunteer, other])
        with pytest.raises(DomainError) as err:
            actions.decline_assignment(
                actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer), reason=""
            )
        assert err.value.code == "needs.reason.required"
        actions.decline_assignment(
            actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer), reason="那天出差"
        )
        assert Need.objects.get(pk=need.pk).state == NeedState.OFFERED
        actions.decline_assignment(
            actor=other, assignment=assignment_of(need, other), reason="不会理发"
        )
    need.refresh_from_db()
    assert need.state == NeedState.APPROVED and need.accept_due_at is None
    assert assignment_of(need, cast.volunteer).decline_reason == "那天出差"
    # A volunteer who declined is not asked again.
    with at(T0), pytest.raises(DomainError) as err:
        actions.offer_need(actor=cast.building_manager, need=need, volunteers=[cast.volunteer])
    assert err.value.code == "needs.offer.nobody_new"


# --- serve, confirm, rate -------------------------------------------------------------------


def test_whole_loop_credits_the_hours_served(cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast, starts_in=dt.timedelta(hours=3))
        a = assignment_of(need, cast.volunteer)
    with at(T0 + 3 * H):
        actions.check_in(actor=cast.volunteer, assignment=a)
    assert Need.objects.get(pk=need.pk).state == NeedState.IN_SERVICE
    with at(T0 + 3 * H + dt.timedelta(minutes=90)):
        actions.check_out(actor=cast.volunteer, assignment=a)
    with at(T0 + 5 * H):
        with pytest.raises(PermissionDenied):
            actions.confirm_need(actor=cast.broker, need=need)
        actions.confirm_need(actor=cast.resident, need=need)
        need.refresh_from_db()
        assert need.state == NeedState.COMPLETED and need.confirmed_by == cast.resident
        # 1.5 hours at 1 point an hour = 1.50 points (DOMAIN.md 7. Credit).
        credit = Transaction.objects.get(idempotency_key=f"need:{need.pk}:credit")
        assert credit.kind == TransactionKind.SERVICE_CREDIT
        assert credit.service_minutes == 90 and credit.reference == f"need:{need.pk}"
        assert balance(cast.volunteer) == 150
        with pytest.raises(DomainError) as err:
            actions.rate_need(actor=cast.resident, need=need, stars=6)
        assert err.value.code == "needs.rating.invalid"
        rating = actions.rate_need(actor=cast.resident, need=need, stars=5, comment="很耐心")
    assert rating.volunteer == cast.volunteer and rating.stars == 5
    assert Need.objects.get(pk=need.pk).state == NeedState.RATED
    assert assignment_of(need, cast.volunteer).state == AssignmentState.COMPLETED
    transitions = list(NeedEvent.objects.filter(need=need).values_list("transition", flat=True))
    assert transitions == [
        "publish",
        "approve",
        "offer",
        "accept",
        "check_in",
        "check_out",
        "confirm",
        "rate",
    ]
    assert journal_sum() == 0
    # History rows are append-only.
    with pytest.raises(AppendOnlyError):
        NeedEvent.objects.filter(need=need).update(note="x")


def test_rating_is_one_to_five_in_the_database(cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(
            need=need,
            community=world.community,
            volunteer=cast.volunteer,
            rated_by=cast.resident,
            stars=0,
            created_at=T0,
        )


def test_manager_confirms_from_a_paper_slip_with_its_number(cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast, starts_in=dt.timedelta(hours=3))
    with at(T0 + 5 * H):
        with pytest.raises(DomainError) as err:
            actions.confirm_need(actor=cast.building_manager, need=need)
        assert err.value.code == "needs.slip.required"
        actions.confirm_need(actor=cast.building_manager, need=need, slip_number="No.0042")
    need.refresh_from_db()
    assert need.slip_number == "No.0042" and need.confirmed_by == cast.building_manager
    # No check-in/out from the app: the planned hour is credited.
    assert balance(cast.volunteer) == 100
    entry = AuditEntry.objects.get(code="needs.need.confirmed")
    assert entry.new_values["slip_number"] == "No.0042"


def test_points_per_hour_setting_changes_the_credit(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "timebank.points_per_hour", 2)
    with at(T0):
        need = accepted(cast, starts_in=dt.timedelta(hours=3))
    with at(T0 + 5 * H):
        actions.confirm_need(actor=cast.resident, need=need)
    assert balance(cast.volunteer) == 200


def test_paid_with_points_holds_on_accept_and_pays_on_confirm(cast: Any, world: Any) -> None:
    give_points(cast.resident, world, 10, "seed")
    with at(T0):
        need = accepted(cast, starts_in=dt.timedelta(hours=3), pay_with_points=True, points=300)
    assert need.hold is not None
    hold = Hold.objects.get(idempotency_key=f"need:{need.pk}:hold")
    assert hold.amount == 300
    account = person_account(cast.resident)
    assert (account.balance, account.held, account.available) == (1000, 300, 700)
    with at(T0 + 5 * H):
        actions.confirm_need(actor=cast.resident, need=need)
    hold.refresh_from_db()
    assert hold.released_at is not None
    account.refresh_from_db()
    assert (account.balance, account.held) == (700, 0)
    payment = Transaction.objects.get(idempotency_key=f"need:{need.pk}:pay")
    assert payment.kind == TransactionKind.SERVICE_PAYMENT
    # 300 paid by the resident + 100 credited for the hour served.
    assert balance(cast.volunteer) == 400
    assert journal_sum() == 0


def test_hold_refused_when_the_requester_spent_the_points(cast: Any, world: Any) -> None:
    give_points(cast.resident, world, 3, "seed")
    with at(T0):
        need = offered(cast, pay_with_points=True, points=300)
    from huzhu.timebank.actions.ledger import hold

    hold(actor=None, account=person_account(cast.resident), amount=200, key="elsewhere")
    with at(T0), pytest.raises(DomainError) as err:
        actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer)
        )
    assert err.value.code == "needs.points.insufficient"
    assert Need.objects.get(pk=need.pk).state == NeedState.OFFERED


# --- the supply library ---------------------------------------------------------------------


def test_offers_exist_without_a_need(cast: Any, world: Any) -> None:
    with at(T0):
        own = actions.create_offer(
            actor=cast.volunteer,
            community=world.community,
            description="周末可以上门理发",
            need_type=need_type(),
            available_from=T0,
            available_until=T0 + dt.timedelta(days=30),
        )
        assert own.person == cast.volunteer and own.active
        org = actions.create_offer(
            actor=cast.broker,
            community=world.community,
            organisation="阳光义剪队",
            description="每月义剪",
            capacity=20,
        )
        assert org.person is None and org.capacity == 20
        with pytest.raises(PermissionDenied):
            actions.create_offer(
                actor=cast.volunteer,
                community=world.community,
                organisation="假机构",
                description="x",
            )
        actions.close_offer(actor=cast.volunteer, offer=own)
    assert not Offer.objects.get(pk=own.pk).active
    assert AuditEntry.objects.filter(code__startswith="needs.offer.").count() == 3


def test_outside_the_community_every_action_answers_404(cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast, starts_in=3 * H)
        a = assignment_of(need, cast.volunteer)
        calls = [
            lambda: actions.review_need(actor=cast.outsider, need=need, approve=True),
            lambda: actions.offer_need(actor=cast.outsider, need=need, volunteers=[cast.volunteer]),
            lambda: actions.accept_assignment(actor=cast.outsider, assignment=a),
            lambda: actions.check_in(actor=cast.outsider, assignment=a),
            lambda: actions.confirm_need(actor=cast.outsider, need=need, slip_number="1"),
            lambda: actions.cancel_need(actor=cast.outsider, need=need, reason="x"),
            lambda: actions.mark_no_show(actor=cast.outsider, need=need),
        ]
        for call in calls:
            with pytest.raises(Http404):
                call()
    assert Need.objects.get(pk=need.pk).state == NeedState.ACCEPTED


def test_a_publish_sent_again_with_its_key_answers_the_first_need(cast: Any) -> None:
    with at(T0):
        first = publish(cast, key="k-1")
        again = publish(cast, key="k-1", description="另一次说明")  # the key decides, not the text
        other = publish(cast, key="k-2")
    assert again.pk == first.pk and other.pk != first.pk
    assert Need.objects.count() == 2
    assert AuditEntry.objects.filter(code="needs.need.published").count() == 2
    # Keys are per publisher: the broker's "k-1" is another need.
    with at(T0):
        brokers = publish(cast, actor=cast.broker, requester=cast.resident, key="k-1")
    assert brokers.pk != first.pk
