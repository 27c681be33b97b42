"""Scheduled ledger work: the daily reconciliation (run once a day; see the
``reconcile_ledger`` command's help)."""

from __future__ import annotations

import logging
from typing import Any

from django_tasks import task

from huzhu.timebank.management.commands.reconcile_ledger import report_lines
from huzhu.timebank.queries import reconcile

log = logging.getLogger(__name__)


@task()
def reconcile_ledger() -> dict[str, Any]:
    """Recompute balances and check every community's books; log and return what differs."""
    result = reconcile()
    lines = report_lines(result)
    for line in lines:
        log.error("time bank reconciliation: %s", line)
    if result.ok:
        log.info("time bank reconciliation: ledger ok")
    return {"ok": result.ok, "problems": lines}
