"""Recompute every balance from the journal; print differences and exit 1 when any."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from huzhu.timebank.money import format_points
from huzhu.timebank.queries import journal_sum, recompute_balances


class Command(BaseCommand):
    help = "Recompute time-bank balances from the journal and report differences."

    def handle(self, *args: Any, **options: Any) -> None:
        total = journal_sum()
        diffs = recompute_balances()
        if total != 0:
            self.stdout.write(f"journal does not sum to zero: {format_points(total)}")
        for d in diffs:
            self.stdout.write(
                f"account {d.account_id} {d.field}: cached {format_points(d.cached)} "
                f"computed {format_points(d.computed)}"
            )
        if diffs or total != 0:
            sys.exit(1)
        self.stdout.write("ledger ok")
