"""The helpdesk sweeper: a question's answer deadline is an indexed column, swept by
``sweep(now)`` from the ``sweep_helpdesk`` command. An open question past ``answer_due_at``
goes up to the group leaders and the branch heads once (``escalation_level``), like
huzhu/needs/sweeper.py: due rows in batches under ``select_for_update(skip_locked=True)``,
each handed to an action that re-checks it under its own lock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from huzhu.core import clock
from huzhu.helpdesk.actions import LEVEL_ESCALATED, escalate_question
from huzhu.helpdesk.models import OPEN_STATES, Question

BATCH = 200


@dataclass
class SweepReport:
    seen: int = 0
    escalated: int = 0

    def __str__(self) -> str:
        return f"questions_seen={self.seen} questions_escalated={self.escalated}"


def sweep(now: dt.datetime | None = None) -> SweepReport:
    """One pass over the overdue open questions; safe to run again at any time."""
    now = now or clock.now()
    report = SweepReport()
    skip: set[int] = set()
    while True:
        with transaction.atomic():
            batch = list(
                Question.objects.filter(
                    state__in=OPEN_STATES,
                    answer_due_at__lte=now,
                    escalation_level__lt=LEVEL_ESCALATED,
                )
                .exclude(pk__in=skip)
                .select_for_update(skip_locked=True)
                .order_by("pk")[:BATCH]
            )
            for question in batch:
                report.seen += 1
                if escalate_question(question=question, now=now):
                    report.escalated += 1
                skip.add(question.pk)
        if len(batch) < BATCH:
            return report
