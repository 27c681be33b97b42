"""Scheduled jobs of the members area (django-tasks): the same daily run as the
``timebank_daily`` command."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from huzhu.timebank.actions.members import run_daily


@task()
def run_members_daily(day: str | None = None) -> str:
    """Birthday gifts, reminders, levels and leaderboards for ``day`` (ISO date; default
    today). Idempotent: a second run the same day does nothing."""
    report = run_daily(dt.date.fromisoformat(day) if day else None)
    return str(report)
