"""The members area's daily run: birthday gifts, benefit and expiry reminders, level
refresh and the monthly leaderboard. Safe to run again the same day; ``--date`` catches up a
missed day (or tests one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.timebank.actions.members import run_daily


class Command(BaseCommand):
    help = "Run the time bank's daily members jobs (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the day to run for, YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        day: dt.date | None = None
        if options.get("date"):
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError("--date must be YYYY-MM-DD") from None
        report = run_daily(day)
        self.stdout.write(str(report))
