"""Escalate the residents' questions past their answer deadline, once each. Safe to run at any
time, from cron or a worker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huzhu.helpdesk.sweeper import sweep


class Command(BaseCommand):
    help = "Escalate overdue residents' questions to group leaders and branch heads (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(sweep()))
