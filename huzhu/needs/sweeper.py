"""The needs sweeper: deadlines are indexed columns, swept by ``sweep(now)`` from the
``sweep_needs`` command or the ``sweep_needs`` task (DOMAIN.md "The core loop": review within
30 minutes, accept within 2 hours, else escalate / re-match; a need is never lost; DOMAIN.md
"Activities, complaints, safety": a complaint's contact within 1 hour and result within 24
hours, else up to the branch head).

Each pass takes due rows in batches with ``select_for_update(skip_locked=True)``, so two
sweepers running at once share the work instead of waiting for each other, and hands each row
to an action that re-checks it under its own lock: nothing is escalated twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from huzhu.core import clock
from huzhu.needs.actions import escalate_review, expire_need, lapse_offers
from huzhu.needs.actions.complaints import escalate_complaint_contact, escalate_complaint_result
from huzhu.needs.models import (
    Complaint,
    ComplaintLevel,
    ComplaintState,
    EscalationLevel,
    Need,
    NeedState,
)

BATCH = 200
UNSTAFFED = (NeedState.SUBMITTED, NeedState.APPROVED, NeedState.OFFERED)


@dataclass
class SweepReport:
    expired: int = 0
    reviews_escalated: int = 0
    accepts_lapsed: int = 0
    accepts_escalated: int = 0
    complaint_contacts_escalated: int = 0
    complaint_results_escalated: int = 0

    def __str__(self) -> str:
        text = (
            f"expired={self.expired} reviews_escalated={self.reviews_escalated} "
            f"accepts_lapsed={self.accepts_lapsed} accepts_escalated={self.accepts_escalated}"
        )
        # The complaints' counts only when something happened: the line stays as it was.
        if self.complaint_contacts_escalated or self.complaint_results_escalated:
            text += (
                f" complaint_contacts_escalated={self.complaint_contacts_escalated}"
                f" complaint_results_escalated={self.complaint_results_escalated}"
            )
        return text


def _drain(due: Callable[[], QuerySet[Any]], handle: Callable[[Any], bool]) -> tuple[int, int]:
    """Run ``handle`` on every row of ``due()``, a batch per transaction; (seen, handled)."""
    seen = handled = 0
    skip: set[int] = set()
    while True:
        with transaction.atomic():
            batch = list(
                due()
                .exclude(pk__in=skip)
                .select_for_update(skip_locked=True)
                .order_by("pk")[:BATCH]
            )
            for need in batch:
                seen += 1
                if handle(need):
                    handled += 1
                skip.add(need.pk)
        if len(batch) < BATCH:
            return seen, handled


def sweep(now: dt.datetime | None = None) -> SweepReport:
    """One pass over every due deadline; safe to run again at any time."""
    now = now or clock.now()
    report = SweepReport()

    # Needs whose time window began with nobody on them end as expired (not escalated).
    report.expired, _ = _drain(
        lambda: Need.objects.filter(state__in=UNSTAFFED, starts_at__lte=now),
        lambda need: expire_need(need=need) is not None,
    )
    report.reviews_escalated = _drain(
        lambda: Need.objects.filter(
            state=NeedState.SUBMITTED,
            review_due_at__lte=now,
            escalation_level__lt=EscalationLevel.BRANCH_HEAD,
        ),
        lambda need: escalate_review(need=need, now=now),
    )[1]
    report.accepts_lapsed, report.accepts_escalated = _drain(
        lambda: Need.objects.filter(state=NeedState.OFFERED, accept_due_at__lte=now),
        lambda need: lapse_offers(need=need, now=now),
    )
    # Complaints: nobody contacted both sides in time, then no result in time (each once).
    report.complaint_contacts_escalated = _drain(
        lambda: Complaint.objects.filter(
            state=ComplaintState.OPEN,
            contact_due_at__lte=now,
            escalation_level__lt=ComplaintLevel.CONTACT_OVERDUE,
        ),
        lambda c: escalate_complaint_contact(complaint=c, now=now),
    )[1]
    report.complaint_results_escalated = _drain(
        lambda: Complaint.objects.filter(
            state__in=(ComplaintState.OPEN, ComplaintState.CONTACTED),
            result_due_at__lte=now,
            escalation_level__lt=ComplaintLevel.RESULT_OVERDUE,
        ),
        lambda c: escalate_complaint_result(complaint=c, now=now),
    )[1]
    return report
