"""Complaints against a service with frozen time (DOMAIN.md "Activities, complaints, safety":
contact both sides within 1 hour, a result within 24 hours, else up to the branch head once;
outcomes: deduct points, suspend the volunteer 1 week and retrain, freeze a malicious
complainant 1 month) — each number changed by a community setting."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from huzhu.accounts.models import Status
from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.core.models import AppendOnlyError
from huzhu.needs import actions
from huzhu.needs.actions import complaints as complaint_actions
from huzhu.needs.complaint_queries import (
    escalated_complaints,
    filter_complaints,
    visible_complaints,
)
from huzhu.needs.models import (
    Complaint,
    ComplaintEvent,
    ComplaintLevel,
    ComplaintState,
    Need,
    NeedState,
)
from huzhu.needs.sweeper import sweep
from huzhu.needs.tests.support import (
    T0,
    accepted,
    approved,
    assignment_of,
    at,
    balance,
    give_points,
    offered,
    override,
    publish,
)
from huzhu.notify.models import Notification
from huzhu.timebank.models import Transaction, TransactionKind

pytestmark = pytest.mark.django_db

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
# The service is over at T0 + 3 h; complaints are filed at T1.
T1 = T0 + 4 * H


def served(cast: Any) -> Need:
    """A haircut the volunteer served from T0 + 2 h to T0 + 3 h, confirmed by the resident."""
    with at(T0):
        need = accepted(cast, starts_in=2 * H)
    a = assignment_of(need, cast.volunteer)
    with at(T0 + 2 * H):
        actions.check_in(actor=cast.volunteer, assignment=a)
    with at(T0 + 3 * H):
        actions.check_out(actor=cast.volunteer, assignment=a)
        actions.confirm_need(actor=cast.resident, need=need)
    need.refresh_from_db()
    return need


def filed(cast: Any, need: Need | None = None, **kw: Any) -> Complaint:
    need = need or served(cast)
    fields: dict[str, Any] = {
        "actor": cast.resident,
        "need": need,
        "category": "attitude",
        "description": "志愿者态度很差，理发没理完就走了",
    }
    fields.update(kw)
    with at(T1):
        return complaint_actions.file_complaint(**fields)


def contacted(cast: Any, complaint: Complaint, when: dt.datetime = T1 + 30 * M) -> Complaint:
    with at(when):
        return complaint_actions.record_contact(
            actor=cast.building_manager, complaint=complaint, note="已电话联系居民和志愿者"
        )


def resolve(
    cast: Any,
    complaint: Complaint,
    *,
    actor: Any = None,
    when: dt.datetime = T1 + 2 * H,
    **kw: Any,
) -> Complaint:
    fields: dict[str, Any] = {
        "actor": actor or cast.branch_head,
        "complaint": complaint,
        "decision": "upheld",
        "reason": "经核实，志愿者服务态度不当",
    }
    fields.update(kw)
    with at(when):
        return complaint_actions.resolve_complaint(**fields)


def audits(code: str) -> int:
    return AuditEntry.objects.filter(code=code).count()


# --- filing ----------------------------------------------------------------------------------


def test_a_resident_complains_about_the_volunteer_with_both_deadlines(cast: Any) -> None:
    c = filed(cast)
    assert c.state == ComplaintState.OPEN
    assert (c.complainant, c.respondent, c.filed_by) == (
        cast.resident,
        cast.volunteer,
        cast.resident,
    )
    assert c.filed_at == T1
    assert c.contact_due_at == T1 + H
    assert c.result_due_at == T1 + 24 * H
    assert c.escalation_level == ComplaintLevel.NONE
    assert c.building_id == c.need.building_id and c.assignment is not None
    assert audits("needs.complaint.filed") == 1
    assert list(c.events.values_list("action", "to_state")) == [("file", "open")]
    # The resident gets a receipt; the building manager and the branch head hear of it.
    receipt = Notification.objects.get(code="needs.complaint.filed")
    assert receipt.person == cast.resident
    told = set(
        Notification.objects.filter(code="needs.complaint.new").values_list("person", flat=True)
    )
    assert told == {cast.building_manager.pk, cast.branch_head.pk}


def test_a_complaint_is_about_a_started_or_finished_service(cast: Any) -> None:
    with at(T0):
        need = approved(cast)
    with at(T0 + M), pytest.raises(DomainError) as err:
        complaint_actions.file_complaint(
            actor=cast.resident, need=need, category="quality", description="还没人来"
        )
    assert err.value.code == "needs.complaint.bad_state" and err.value.status == 409


def test_bad_input_is_refused_with_the_field(cast: Any) -> None:
    need = served(cast)
    with at(T1), pytest.raises(DomainError) as err:
        complaint_actions.file_complaint(
            actor=cast.resident, need=need, category="nonsense", description="x"
        )
    assert err.value.details == {"field": "category"}
    with at(T1), pytest.raises(DomainError) as err:
        complaint_actions.file_complaint(
            actor=cast.resident, need=need, category="quality", description="   "
        )
    assert err.value.details == {"field": "description"}


def test_only_a_side_or_a_manager_files(cast: Any) -> None:
    need = served(cast)
    with at(T1), pytest.raises(PermissionDenied):
        complaint_actions.file_complaint(
            actor=cast.group_member, need=need, category="quality", description="路过看到"
        )
    with at(T1), pytest.raises(Http404):
        complaint_actions.file_complaint(
            actor=cast.outsider, need=need, category="quality", description="外区"
        )
    assert not Complaint.objects.exists()


def test_filing_again_with_the_same_key_answers_the_first(cast: Any) -> None:
    need = served(cast)
    first = filed(cast, need, key="k-1")
    again = filed(cast, need, key="k-1")
    assert again.pk == first.pk
    assert Complaint.objects.count() == 1 and audits("needs.complaint.filed") == 1
    # Without the key, a second complaint of the same side waits for the first.
    with pytest.raises(DomainError) as err:
        filed(cast, need)
    assert err.value.code == "needs.complaint.already_open" and err.value.status == 409


def test_a_manager_files_for_either_side(cast: Any) -> None:
    need = served(cast)
    for_resident = filed(cast, need, actor=cast.building_manager)
    assert (for_resident.complainant, for_resident.respondent) == (cast.resident, cast.volunteer)
    assert for_resident.filed_by == cast.building_manager
    entry = AuditEntry.objects.get(code="needs.complaint.filed")
    assert entry.on_behalf_of_id == cast.resident.pk
    for_volunteer = filed(cast, need, actor=cast.branch_head, complainant=cast.volunteer)
    assert (for_volunteer.complainant, for_volunteer.respondent) == (cast.volunteer, cast.resident)
    with pytest.raises(DomainError) as err:
        filed(cast, need, actor=cast.branch_head, complainant=cast.broker)
    assert err.value.code == "needs.complaint.not_a_side"


def test_the_volunteer_complains_about_the_person_served(cast: Any) -> None:
    c = filed(cast, actor=cast.volunteer, category="conduct", description="居民辱骂志愿者")
    assert (c.complainant, c.respondent) == (cast.volunteer, cast.resident)


# --- the deadlines ---------------------------------------------------------------------------


def test_an_uncontacted_complaint_escalates_after_one_hour_once_each(cast: Any) -> None:
    c = filed(cast)
    with at(T1 + 59 * M):
        assert sweep().complaint_contacts_escalated == 0
    with at(T1 + H):
        report = sweep()
    assert report.complaint_contacts_escalated == 1
    assert report.complaint_results_escalated == 0
    assert "complaint_contacts_escalated=1" in str(report)
    c.refresh_from_db()
    assert c.escalation_level == ComplaintLevel.CONTACT_OVERDUE and c.escalated_at == T1 + H
    assert c.state == ComplaintState.OPEN  # still the handlers' to do
    note = Notification.objects.get(code="needs.complaint.escalated")
    assert note.person == cast.branch_head
    # On the branch head's list, not on anyone's outside the community or without the right.
    assert list(escalated_complaints(cast.branch_head)) == [c]
    assert list(escalated_complaints(cast.outsider)) == []
    assert list(escalated_complaints(cast.resident)) == []
    assert list(filter_complaints(visible_complaints(cast.branch_head), state="escalated")) == [c]
    # Nothing twice: later sweeps before the result deadline do nothing more.
    for later in (T1 + H + M, T1 + 5 * H, T1 + 24 * H - M):
        with at(later):
            assert sweep().complaint_contacts_escalated == 0
    assert audits("needs.complaint.contact_escalated") == 1
    # The result deadline is a second, separate escalation — also once.
    with at(T1 + 24 * H):
        assert sweep().complaint_results_escalated == 1
    with at(T1 + 30 * H):
        report = sweep()
        assert (report.complaint_contacts_escalated, report.complaint_results_escalated) == (0, 0)
    c.refresh_from_db()
    assert c.escalation_level == ComplaintLevel.RESULT_OVERDUE
    assert audits("needs.complaint.result_escalated") == 1
    assert Notification.objects.filter(code="needs.complaint.escalated").count() == 2
    assert list(c.events.values_list("action", flat=True)) == ["file", "escalate", "escalate"]


def test_contacted_in_time_escalates_only_a_late_result(cast: Any) -> None:
    c = contacted(cast, filed(cast), when=T1 + 59 * M)
    assert c.state == ComplaintState.CONTACTED and c.contacted_at == T1 + 59 * M
    with at(T1 + 23 * H):
        report = sweep()
        assert (report.complaint_contacts_escalated, report.complaint_results_escalated) == (0, 0)
    with at(T1 + 24 * H):
        assert sweep().complaint_results_escalated == 1
    c.refresh_from_db()
    assert c.escalation_level == ComplaintLevel.RESULT_OVERDUE
    assert audits("needs.complaint.contact_escalated") == 0
    assert list(escalated_complaints(cast.branch_head)) == [c]


def test_a_resolved_complaint_escalates_nothing(cast: Any) -> None:
    c = resolve(cast, contacted(cast, filed(cast)), decision="not_upheld")
    assert c.state == ComplaintState.DISMISSED
    with at(T1 + 48 * H):
        report = sweep()
    assert (report.complaint_contacts_escalated, report.complaint_results_escalated) == (0, 0)
    assert list(escalated_complaints(cast.branch_head)) == []


def test_the_contact_deadline_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "complaints.contact_hours", 2)
    c = filed(cast)
    assert c.contact_due_at == T1 + 2 * H
    with at(T1 + H):
        assert sweep().complaint_contacts_escalated == 0
    with at(T1 + 2 * H):
        assert sweep().complaint_contacts_escalated == 1


def test_the_result_deadline_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "complaints.result_hours", 48)
    c = contacted(cast, filed(cast))
    assert c.result_due_at == T1 + 48 * H
    with at(T1 + 24 * H):
        assert sweep().complaint_results_escalated == 0
    with at(T1 + 48 * H):
        assert sweep().complaint_results_escalated == 1


# --- handling --------------------------------------------------------------------------------


def test_contact_is_recorded_once_by_a_handler(cast: Any) -> None:
    c = filed(cast)
    with at(T1 + 10 * M), pytest.raises(PermissionDenied):
        complaint_actions.record_contact(actor=cast.resident, complaint=c, note="我自己联系")
    with at(T1 + 10 * M), pytest.raises(Http404):
        complaint_actions.record_contact(actor=cast.outsider, complaint=c, note="外区")
    with at(T1 + 10 * M), pytest.raises(DomainError) as err:
        complaint_actions.record_contact(actor=cast.building_manager, complaint=c, note=" ")
    assert err.value.details == {"field": "note"}
    c = contacted(cast, c)
    assert (c.contacted_by, c.handler) == (cast.building_manager, cast.building_manager)
    with pytest.raises(DomainError) as err:
        contacted(cast, c)
    assert err.value.status == 409
    assert audits("needs.complaint.contacted") == 1


def test_a_result_needs_the_contact_first_and_is_given_once(cast: Any) -> None:
    c = filed(cast)
    with pytest.raises(DomainError) as err:
        resolve(cast, c, decision="not_upheld")
    assert err.value.code == "needs.complaint.not_contacted"
    c = resolve(cast, contacted(cast, c), decision="not_upheld")
    with pytest.raises(DomainError) as err:
        resolve(cast, c, decision="not_upheld")
    assert err.value.code == "needs.complaint.bad_state"
    assert audits("needs.complaint.resolved") == 1
    # Both sides hear the result.
    told = set(
        Notification.objects.filter(code="needs.complaint.resolved").values_list(
            "person", flat=True
        )
    )
    assert told == {cast.resident.pk, cast.volunteer.pk}


def test_sanctions_only_when_upheld(cast: Any) -> None:
    c = contacted(cast, filed(cast))
    for kw in ({"deduct_points": 100}, {"suspend": True}, {"retrain": True}):
        with pytest.raises(DomainError) as err:
            resolve(cast, c, decision="not_upheld", **kw)
        assert err.value.code == "needs.complaint.sanction_not_upheld"
    with pytest.raises(DomainError) as err:
        resolve(cast, c, decision="maybe")
    assert err.value.details == {"field": "decision"}


# --- outcomes: points ------------------------------------------------------------------------


def test_a_deduction_posts_exactly_once_through_the_time_bank(cast: Any, world: Any) -> None:
    c = contacted(cast, filed(cast))
    give_points(cast.volunteer, world, 10, "seed-volunteer")
    before = balance(cast.volunteer)
    c = resolve(cast, c, deduct_points=500)
    assert c.state == ComplaintState.RESOLVED
    assert (c.points_decided, c.points_deducted) == (500, 500)
    assert balance(cast.volunteer) == before - 500
    tx = Transaction.objects.get(idempotency_key=f"complaint:{c.pk}:deduction")
    assert c.deduction == tx and tx.kind == TransactionKind.PENALTY
    assert tx.actor == cast.branch_head and tx.reference == f"complaint:{c.pk}"
    # Resolving again changes nothing: no second posting.
    with pytest.raises(DomainError):
        resolve(cast, c, deduct_points=500)
    assert Transaction.objects.filter(reference=f"complaint:{c.pk}").count() == 1
    assert balance(cast.volunteer) == before - 500
    entry = AuditEntry.objects.get(code="needs.complaint.resolved")
    assert entry.new_values["points_deducted"] == 500
    assert entry.new_values["deduction"] == tx.pk


def test_a_deduction_never_takes_a_balance_below_zero(cast: Any) -> None:
    c = contacted(cast, filed(cast))
    available = balance(cast.volunteer)  # what the haircut earned
    assert 0 < available < 2000
    c = resolve(cast, c, deduct_points=2000)
    assert (c.points_decided, c.points_deducted) == (2000, available)
    assert balance(cast.volunteer) == 0
    entry = AuditEntry.objects.get(code="needs.complaint.resolved")
    assert entry.new_values["points_shortfall"] == 2000 - available


def test_nothing_is_posted_from_an_empty_account(cast: Any) -> None:
    c = contacted(cast, filed(cast, actor=cast.volunteer, description="居民无理取闹"))
    assert balance(cast.resident) == 0
    c = resolve(cast, c, deduct_points=300)
    assert (c.points_decided, c.points_deducted, c.deduction) == (300, 0, None)
    assert not Transaction.objects.filter(reference=f"complaint:{c.pk}").exists()


def test_the_most_a_handler_may_deduct_is_a_community_setting(cast: Any, world: Any) -> None:
    c = contacted(cast, filed(cast))
    with pytest.raises(DomainError) as err:
        resolve(cast, c, deduct_points=2100)  # the default maximum is 20 points
    assert err.value.code == "needs.complaint.points_too_many"
    assert err.value.details["field"] == "deduct_points"
    override(cast.branch_head, world, "complaints.max_points_deduction", 30)
    give_points(cast.volunteer, world, 30, "seed-volunteer")
    c = resolve(cast, c, deduct_points=2100)
    assert c.points_deducted == 2100


# --- outcomes: suspension --------------------------------------------------------------------


def _offer_to_volunteer(cast: Any) -> None:
    need = approved(cast)
    actions.offer_need(actor=cast.building_manager, need=need, volunteers=[cast.volunteer])


def test_suspension_for_seven_days_with_retraining_then_active_again(cast: Any) -> None:
    c = contacted(cast, filed(cast))
    done_at = T1 + 2 * H
    c = resolve(cast, c, suspend=True)
    assert c.suspended_until == done_at + 7 * D and c.retraining_required
    volunteer = type(cast.volunteer).objects.get(pk=cast.volunteer.pk)
    assert volunteer.status == Status.SUSPENDED and volunteer.status_until == done_at + 7 * D
    assert (
        "重新培训"
        in AuditEntry.objects.get(code="accounts.person.status_changed").new_values["reason"]
    )
    # Not matched while suspended …
    with at(done_at + 7 * D - M), pytest.raises(DomainError) as err:
        _offer_to_volunteer(cast)
    # (the pick is refused for the volunteer's status: needs.volunteer.<rule>)
    assert err.value.code.startswith("needs.volunteer.")
    assert err.value.details["volunteer"] == cast.volunteer.pk
    # … and eligible again once the week is over.
    with at(done_at + 7 * D):
        assert volunteer.effective_status() == Status.ACTIVE
        _offer_to_volunteer(cast)


def test_suspension_days_are_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "complaints.suspension_days", 3)
    c = resolve(cast, contacted(cast, filed(cast)), suspend=True)
    assert c.suspended_until == T1 + 2 * H + 3 * D
    with at(T1 + 2 * H + 3 * D):
        _offer_to_volunteer(cast)


def test_retraining_alone_leaves_the_volunteer_active(cast: Any) -> None:
    c = resolve(cast, contacted(cast, filed(cast)), retrain=True)
    assert c.retraining_required and c.suspended_until is None
    cast.volunteer.refresh_from_db()
    assert cast.volunteer.status == Status.ACTIVE


def test_suspension_needs_the_right_over_the_volunteer(cast: Any) -> None:
    # The building manager handles the complaint but does not manage a volunteer who lives
    # outside their building: the branch head decides that.
    c = contacted(cast, filed(cast))
    with pytest.raises(DomainError) as err:
        resolve(cast, c, actor=cast.building_manager, suspend=True)
    assert err.value.code == "needs.complaint.status_forbidden" and err.value.status == 403
    c.refresh_from_db()
    assert c.state == ComplaintState.CONTACTED
    c = resolve(cast, c, actor=cast.building_manager, deduct_points=100)
    assert c.state == ComplaintState.RESOLVED


def test_only_a_volunteer_is_suspended(cast: Any) -> None:
    c = contacted(cast, filed(cast, actor=cast.volunteer, description="居民无理取闹"))
    with pytest.raises(DomainError) as err:
        resolve(cast, c, suspend=True)
    assert err.value.code == "needs.complaint.suspend_volunteer_only"


def test_a_suspension_never_shortens_or_softens_a_restriction(cast: Any) -> None:
    from huzhu.accounts.actions.people import set_status

    c = contacted(cast, filed(cast))
    with at(T1 + H):
        set_status(
            actor=cast.branch_head,
            person=cast.volunteer,
            status=Status.SUSPENDED,
            until=T1 + 30 * D,
            reason="另案暂停",
        )
    c = resolve(cast, c, suspend=True)
    assert c.suspended_until == T1 + 2 * H + 7 * D  # what the complaint decided
    cast.volunteer.refresh_from_db()
    assert (cast.volunteer.status, cast.volunteer.status_until) == (
        Status.SUSPENDED,
        T1 + 30 * D,
    )
    # A freeze in force stays a freeze, until the later of both ends.
    c2 = contacted(cast, filed(cast, c.need, category="quality", description="第二次"))
    with at(T1 + H):
        set_status(
            actor=cast.branch_head,
            person=cast.volunteer,
            status=Status.FROZEN,
            until=T1 + 3 * D,
            reason="另案冻结",
        )
    resolve(cast, c2, suspend=True)
    cast.volunteer.refresh_from_db()
    assert (cast.volunteer.status, cast.volunteer.status_until) == (
        Status.FROZEN,
        T1 + 2 * H + 7 * D,
    )


# --- outcomes: malicious complaints ----------------------------------------------------------


def test_a_malicious_complainant_is_frozen_for_thirty_days(cast: Any) -> None:
    need = served(cast)
    c = resolve(cast, contacted(cast, filed(cast, need)), decision="malicious")
    done_at = T1 + 2 * H
    assert c.state == ComplaintState.DISMISSED
    assert c.complainant_frozen_until == done_at + 30 * D
    cast.resident.refresh_from_db()
    assert cast.resident.status == Status.FROZEN
    # No new requests and no new complaints during the freeze …
    with at(done_at + 30 * D - M), pytest.raises(DomainError) as err:
        publish(cast)
    assert err.value.code == "needs.requester.frozen"
    with at(done_at + 30 * D - M), pytest.raises(DomainError) as err:
        complaint_actions.file_complaint(
            actor=cast.resident, need=need, category="other", description="再投诉一次"
        )
    assert err.value.code == "needs.complaint.frozen"
    # … and both again once it is over.
    with at(done_at + 30 * D):
        publish(cast)
        complaint_actions.file_complaint(
            actor=cast.resident, need=need, category="other", description="再投诉一次"
        )
    # The volunteer was not sanctioned.
    cast.volunteer.refresh_from_db()
    assert cast.volunteer.status == Status.ACTIVE


def test_the_freeze_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "complaints.malicious_freeze_days", 10)
    c = resolve(cast, contacted(cast, filed(cast)), decision="malicious")
    assert c.complainant_frozen_until == T1 + 2 * H + 10 * D
    cast.resident.refresh_from_db()
    with at(T1 + 2 * H + 10 * D - M), pytest.raises(DomainError):
        publish(cast)
    with at(T1 + 2 * H + 10 * D):
        publish(cast)


# --- the record ------------------------------------------------------------------------------


def test_the_history_is_append_only(cast: Any) -> None:
    c = resolve(cast, contacted(cast, filed(cast)), decision="not_upheld")
    assert list(c.events.values_list("action", "from_state", "to_state")) == [
        ("file", "", "open"),
        ("contact", "open", "contacted"),
        ("resolve", "contacted", "dismissed"),
    ]
    event = ComplaintEvent.objects.first()
    assert event is not None
    event.note = "改写"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        ComplaintEvent.objects.all().delete()


def test_a_side_sees_their_complaints_a_handler_those_of_the_scope(cast: Any) -> None:
    c = filed(cast)
    assert list(visible_complaints(cast.resident)) == [c]
    assert list(visible_complaints(cast.volunteer)) == [c]
    assert list(visible_complaints(cast.building_manager)) == [c]
    assert list(visible_complaints(cast.branch_head)) == [c]
    assert list(visible_complaints(cast.broker)) == []
    assert list(visible_complaints(cast.outsider)) == []


def test_filters_overdue_and_search(cast: Any) -> None:
    c = filed(cast)
    qs = visible_complaints(cast.branch_head)
    assert list(filter_complaints(qs, state="overdue", now=T1 + 59 * M)) == []
    assert list(filter_complaints(qs, state="overdue", now=T1 + H)) == [c]
    assert list(filter_complaints(qs, state="pending")) == [c]
    assert list(filter_complaints(qs, state="resolved")) == []
    assert list(filter_complaints(qs, category="attitude")) == [c]
    assert list(filter_complaints(qs, category="safety")) == []
    assert list(filter_complaints(qs, search=f"#{c.need_id}")) == [c]
    assert list(filter_complaints(qs, search="Volunteer")) == [c]
    assert list(filter_complaints(qs, search="nobody")) == []


def test_offered_needs_are_not_complained_about(cast: Any) -> None:
    with at(T0):
        need = offered(cast)
    assert need.state == NeedState.OFFERED
    with at(T0 + M), pytest.raises(DomainError):
        complaint_actions.file_complaint(
            actor=cast.resident, need=need, category="other", description="没人接"
        )


# --- PostgreSQL ------------------------------------------------------------------------------


def _need_postgres() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "triggers, row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )


@pytest.mark.postgres
def test_the_database_refuses_to_change_the_history(cast: Any) -> None:
    from django.db import DatabaseError, connection, transaction

    _need_postgres()
    filed(cast)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE needs_complaintevent SET note = 'x'")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM needs_complaintevent")


@pytest.mark.postgres
def test_two_sweepers_at_once_escalate_each_complaint_once(
    transactional_db: Any, cast: Any
) -> None:
    from huzhu.timebank.tests.threads import in_threads

    _need_postgres()
    complaints = []
    for _ in range(3):
        need = served(cast)
        complaints.append(filed(cast, need))
        complaints.append(filed(cast, need, actor=cast.volunteer, description="居民辱骂"))
    results, errors = in_threads(4, lambda i: sweep(T1 + 24 * H).complaint_results_escalated)
    assert errors == []
    assert sum(results) == len(complaints)
    assert audits("needs.complaint.result_escalated") == len(complaints)
    assert Notification.objects.filter(code="needs.complaint.escalated").count() == 2 * len(
        complaints
    )  # the contact and the result: each once
