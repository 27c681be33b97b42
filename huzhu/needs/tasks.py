"""Background work of the needs app on the Django Tasks API (django-tasks): call the sweeper."""

from __future__ import annotations

from django_tasks import task

from huzhu.needs.sweeper import sweep


@task()
def sweep_needs() -> str:
    """One sweep of the needs' deadlines (schedule it every minute or so)."""
    return str(sweep())
