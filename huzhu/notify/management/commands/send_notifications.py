"""The notifications sweeper: start due scheduled broadcasts and send due deliveries.

Run it every minute from cron or a timer (``manage.py send_notifications``), or keep it
running (``--loop --interval 30``). Retries, fallbacks and quiet-hour deferrals all wait
for it.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from huzhu.notify import actions, delivery


class Command(BaseCommand):
    help = "Start scheduled broadcasts whose time has come and send due notification deliveries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep sweeping until stopped.")
        parser.add_argument(
            "--interval",
            type=float,
            default=30.0,
            help="Seconds between sweeps with --loop (default 30).",
        )
        parser.add_argument(
            "--limit", type=int, default=500, help="Deliveries per sweep (default 500)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = max(float(options["interval"]), 0.1)
        try:
            while True:
                started = actions.send_due_broadcasts()
                sent = delivery.send_due(limit=options["limit"])
                self.stdout.write(f"broadcasts started: {started}, deliveries sent: {sent}")
                if not options["loop"]:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            self.stdout.write("stopped")
