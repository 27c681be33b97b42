"""Merchant jobs: the monthly reconciliation (DOMAIN.md: before the 5th)."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from huzhu.timebank.actions import merchants


@task()
def reconcile_merchants(month: str | None = None) -> int:
    """Every merchant's statement for ``month`` ("YYYY-MM", default: the previous month).
    Idempotent: enqueue it daily from the 1st; statements already made are left alone."""
    target = dt.date.fromisoformat(f"{month}-01") if month else None
    return len(merchants.reconcile_all_merchants(month=target))
