"""Make every merchant's monthly statement (DOMAIN.md "Members, merchants, money": monthly
reconciliation before the 5th).

Run it daily from the 1st of the month (cron or a systemd timer: ``manage.py
reconcile_merchants``), or enqueue ``huzhu.timebank.tasks.merchants.reconcile_merchants`` daily:
a statement is made once per merchant and month, so later runs change nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.timebank.actions import merchants
from huzhu.timebank.actions.merchants import format_fen


class Command(BaseCommand):
    help = (
        "Make every merchant's statement for the previous month (or --month YYYY-MM): count, "
        "member spending, discount, points and the management fee (spending x fee %, rounded "
        "half-up to the fen). Idempotent: run it daily from the 1st so statements exist before "
        "the 5th; a statement already made is left as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="YYYY-MM (default: the previous month)")

    def handle(self, *args: Any, **options: Any) -> None:
        month = None
        if options.get("month"):
            try:
                month = dt.date.fromisoformat(f"{options['month']}-01")
            except ValueError:
                raise CommandError("--month must be YYYY-MM") from None
        statements = merchants.reconcile_all_merchants(month=month)
        for s in statements:
            self.stdout.write(
                f"{s.month:%Y-%m} merchant {s.merchant_id}: {s.redemptions} redemption(s), "
                f"spending {format_fen(s.spending_fen)}, fee {format_fen(s.fee_fen)} "
                f"({s.fee_percent}%)"
            )
        self.stdout.write(f"{len(statements)} statement(s)")
