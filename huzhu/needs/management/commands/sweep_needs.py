"""Sweep the needs' deadlines once: expire needs whose start passed unstaffed, escalate overdue
reviews, lapse overdue offers (re-match). Safe to run at any time, from cron or a worker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huzhu.needs.sweeper import sweep


class Command(BaseCommand):
    help = "Sweep the needs' review and accept deadlines (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(sweep()))
