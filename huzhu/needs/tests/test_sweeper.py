"""The needs sweeper with frozen time (DOMAIN.md "The core loop": review within 30 minutes,
accept within 2 hours, else escalate to the branch head / re-match; nothing escalates twice)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command

from huzhu.accounts.models import RoleGrant
from huzhu.audit.models import AuditEntry
from huzhu.needs import actions
from huzhu.needs.models import AssignmentState, EscalationLevel, Need, NeedState
from huzhu.needs.queries import escalated_needs, history
from huzhu.needs.sweeper import sweep
from huzhu.needs.tests.support import (
    T0,
    assignment_of,
    at,
    offered,
    override,
    publish,
    volunteer,
)
from huzhu.notify.models import Notification

pytestmark = pytest.mark.django_db

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)


def _escalations(code: str) -> int:
    return AuditEntry.objects.filter(code=code).count()


def test_overdue_review_escalates_to_the_branch_head_once(cast: Any, world: Any) -> None:
    with at(T0):
        need = publish(cast)
    with at(T0 + 29 * M):
        assert sweep().reviews_escalated == 0  # not yet due
    with at(T0 + 30 * M):
        report = sweep()
    assert report.reviews_escalated == 1
    need.refresh_from_db()
    assert need.escalation_level == EscalationLevel.BRANCH_HEAD
    assert need.escalated_at == T0 + 30 * M
    assert need.state == NeedState.SUBMITTED  # still the reviewers' to decide
    note = Notification.objects.get(code="needs.need.escalated")
    assert note.person == cast.branch_head
    # It is on the branch head's list, not on anyone's outside the community.
    assert list(escalated_needs(cast.branch_head)) == [need]
    assert list(escalated_needs(cast.outsider)) == []
    assert list(escalated_needs(cast.resident)) == []
    # Nothing escalates twice: later sweeps, also much later, do nothing more.
    with at(T0 + 31 * M):
        assert sweep().reviews_escalated == 0
    with at(T0 + 5 * H):
        assert sweep().reviews_escalated == 0
    assert _escalations("needs.need.review_escalated") == 1
    assert Notification.objects.filter(code="needs.need.escalated").count() == 1


def test_review_deadline_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "needs.review_minutes", 60)
    with at(T0):
        publish(cast)
    with at(T0 + 30 * M):
        assert sweep().reviews_escalated == 0
    with at(T0 + 60 * M):
        assert sweep().reviews_escalated == 1


def test_a_reviewed_need_does_not_escalate(cast: Any) -> None:
    with at(T0):
        need = publish(cast)
    with at(T0 + 10 * M):
        actions.review_need(actor=cast.building_manager, need=need, approve=True)
    with at(T0 + 31 * M):
        assert sweep().reviews_escalated == 0
    assert Need.objects.get(pk=need.pk).escalation_level == EscalationLevel.NONE


def test_overdue_accept_expires_offers_and_rematches_once(cast: Any, world: Any) -> None:
    other = volunteer(world, "王师傅", phone="13700000001")
    with at(T0):
        need = offered(cast, volunteers=[cast.volunteer, other])
    with at(T0 + 2 * H - M):
        assert sweep().accepts_lapsed == 0
    with at(T0 + 2 * H):
        report = sweep()
    assert (report.accepts_lapsed, report.accepts_escalated) == (1, 1)
    need.refresh_from_db()
    assert need.state == NeedState.APPROVED  # back to be matched again
    assert need.escalation_level == EscalationLevel.REMATCHED
    assert need.accept_due_at is None
    assert assignment_of(need, cast.volunteer).state == AssignmentState.EXPIRED
    assert assignment_of(need, other).state == AssignmentState.EXPIRED
    assert list(escalated_needs(cast.branch_head)) == [need]
    assert [e.transition for e in history(need)][-1] == "rematch"

    # A second round: the expired volunteer may be asked again; it lapses again, and is
    # re-matched again, but not escalated a second time.
    with at(T0 + 3 * H):
        actions.offer_need(actor=cast.building_manager, need=need, volunteers=[cast.volunteer])
    with at(T0 + 5 * H):
        report = sweep()
    assert (report.accepts_lapsed, report.accepts_escalated) == (1, 0)
    assert Need.objects.get(pk=need.pk).state == NeedState.APPROVED
    assert _escalations("needs.need.accept_escalated") == 1
    assert Notification.objects.filter(code="needs.need.escalated").count() == 1
    with at(T0 + 6 * H):
        assert str(sweep()) == (
            "expired=0 reviews_escalated=0 accepts_lapsed=0 accepts_escalated=0"
        )


def test_accept_deadline_is_a_community_setting(cast: Any, world: Any) -> None:
    override(cast.branch_head, world, "needs.accept_hours", 3)
    with at(T0):
        offered(cast)
    with at(T0 + 2 * H):
        assert sweep().accepts_lapsed == 0
    with at(T0 + 3 * H):
        assert sweep().accepts_escalated == 1


def test_an_accepted_need_does_not_lapse(cast: Any) -> None:
    with at(T0):
        need = offered(cast)
    with at(T0 + H):
        actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer)
        )
    with at(T0 + 3 * H):
        report = sweep()
    assert report.accepts_lapsed == 0
    assert Need.objects.get(pk=need.pk).state == NeedState.ACCEPTED


def test_a_need_whose_start_passed_unstaffed_expires(cast: Any) -> None:
    with at(T0):
        waiting = publish(cast, starts_in=20 * M)
        asked = offered(cast, starts_in=H)
    with at(T0 + H):
        report = sweep()
    assert report.expired == 2
    # Expired needs are closed: they neither escalate nor stay on the list.
    assert report.reviews_escalated == 0 and report.accepts_lapsed == 0
    assert Need.objects.get(pk=waiting.pk).state == NeedState.EXPIRED
    assert Need.objects.get(pk=asked.pk).state == NeedState.EXPIRED
    assert assignment_of(asked, cast.volunteer).state == AssignmentState.EXPIRED
    assert list(escalated_needs(cast.branch_head)) == []


def test_every_branch_head_of_the_community_is_told(cast: Any, world: Any) -> None:
    second = volunteer(world, "第二负责人", phone="13700000009")
    RoleGrant.objects.create(
        person=second, role="branch_head", scope_kind="community", community=world.community
    )
    with at(T0):
        publish(cast)
    with at(T0 + H):
        sweep()
    told = set(
        Notification.objects.filter(code="needs.need.escalated").values_list("person", flat=True)
    )
    assert told == {cast.branch_head.pk, second.pk}


def test_the_command_runs_a_sweep(cast: Any) -> None:
    with at(T0):
        publish(cast)
    out = io.StringIO()
    with at(T0 + H):
        call_command("sweep_needs", stdout=out)
        call_command("sweep_needs", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "expired=0 reviews_escalated=1 accepts_lapsed=0 accepts_escalated=0"
    assert lines[1] == "expired=0 reviews_escalated=0 accepts_lapsed=0 accepts_escalated=0"


def test_the_task_runs_a_sweep(cast: Any) -> None:
    from huzhu.needs.tasks import sweep_needs

    with at(T0):
        publish(cast)
    with at(T0 + H):
        result = sweep_needs.call()
    assert "reviews_escalated=1" in result


@pytest.mark.postgres
def test_two_sweepers_at_once_escalate_each_need_once(
    transactional_db: Any, cast: Any, world: Any
) -> None:
    from django.db import connection

    from huzhu.timebank.tests.threads import in_threads

    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    with at(T0):
        needs = [publish(cast) for _ in range(30)]
    results, errors = in_threads(4, lambda i: sweep(T0 + H).reviews_escalated)
    assert errors == []
    assert sum(results) == len(needs)
    assert _escalations("needs.need.review_escalated") == len(needs)
    assert Notification.objects.filter(code="needs.need.escalated").count() == len(needs)
