"""Recompute every balance from the journal and check every community's books; print the
differences and exit 1 when any.

Run it daily: from cron or a systemd timer (``manage.py reconcile_ledger``), or enqueue the
django-tasks task ``huzhu.timebank.tasks.ledger.reconcile_ledger`` once a day from the
scheduler of the tasks backend.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from huzhu.timebank.money import format_points
from huzhu.timebank.queries import Reconciliation, reconcile


def report_lines(result: Reconciliation) -> list[str]:
    lines = []
    if result.journal_total != 0:
        lines.append(f"journal does not sum to zero: {format_points(result.journal_total)}")
    for d in result.differences:
        lines.append(
            f"account {d.account_id} {d.field}: cached {format_points(d.cached)} "
            f"computed {format_points(d.computed)}"
        )
    for i in result.imbalances:
        lines.append(
            f"community {i.community_id if i.community_id is not None else '-'} unbalanced: "
            f"{i.transactions} transaction(s), off by {format_points(i.total)}"
        )
    return lines


class Command(BaseCommand):
    help = (
        "Recompute time-bank balances from the journal, check that every community's postings "
        "balance per transaction, and report differences (exit 1 when any). Scheduled daily: "
        "run it from cron / a systemd timer, or enqueue the django-tasks task "
        "huzhu.timebank.tasks.ledger.reconcile_ledger once a day."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = reconcile()
        for line in report_lines(result):
            self.stdout.write(line)
        if not result.ok:
            sys.exit(1)
        self.stdout.write("ledger ok")
