"""The helpdesk sweeper with frozen time: an open question past its answer deadline goes up to
the group leaders and the branch head once; answered questions never do. Also on PostgreSQL
(``select_for_update(skip_locked=True)``)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command

from huzhu.helpdesk import actions
from huzhu.helpdesk.sweeper import sweep
from huzhu.helpdesk.tests.support import T0, at, audits, nat_group, question
from huzhu.notify.models import Notification

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def test_overdue_question_escalates_once(world: Any, cast: Any) -> None:
    _group, _rule, member, leader = nat_group(world, cast)
    with at(T0):
        q = question(cast)
        answered = question(cast, "抗原什么时候发？", key="q2")
        actions.answer_question(actor=member, question=answered, answer="今晚", key="a")
    with at(T0 + 4 * H - M):
        assert sweep().escalated == 0  # not yet due
    with at(T0 + 4 * H):
        report = sweep()
    assert (report.seen, report.escalated) == (1, 1)
    q.refresh_from_db()
    assert q.escalation_level == actions.LEVEL_ESCALATED
    assert q.escalated_at == T0 + 4 * H
    assert q.state == "new"  # still the group's to answer
    told = set(
        Notification.objects.filter(code="helpdesk.question.escalated").values_list(
            "person", flat=True
        )
    )
    assert told == {leader.pk, cast.branch_head.pk}
    assert member.pk not in told
    # Nothing escalates twice: later sweeps and the command do nothing more.
    with at(T0 + 30 * H):
        assert sweep().escalated == 0
        out = io.StringIO()
        call_command("sweep_helpdesk", stdout=out)
    assert "questions_escalated=0" in out.getvalue()
    assert audits("helpdesk.question.escalated") == 1
    assert Notification.objects.filter(code="helpdesk.question.escalated").count() == 2


def test_a_reassigned_question_gets_a_new_deadline(world: Any, cast: Any) -> None:
    group, _rule, _member, _leader = nat_group(world, cast)
    with at(T0):
        q = question(cast, "大米到了吗")
    with at(T0 + 3 * H):
        actions.reassign_question(actor=cast.group_leader, question=q, group=group, reason="转")
    with at(T0 + 5 * H):
        assert sweep().escalated == 0
    with at(T0 + 7 * H):
        assert sweep().escalated == 1


def test_escalation_reaches_leaders_of_the_groups_above(world: Any, cast: Any) -> None:
    with at(T0):
        q = question(cast, "你好")
        actions.reassign_question(
            actor=cast.group_leader, question=q, group=world.subgroup, reason="回访"
        )
    with at(T0 + 5 * H):
        assert sweep().escalated == 1
    told = set(
        Notification.objects.filter(code="helpdesk.question.escalated").values_list(
            "person", flat=True
        )
    )
    assert told == {cast.group_leader.pk, cast.branch_head.pk}
