"""Background work of notify on the Django Tasks API (django-tasks): take ids, call actions."""

from __future__ import annotations

from django_tasks import task

from huzhu.notify import actions


@task()
def fan_out_broadcast(broadcast_id: int) -> int:
    """One task per broadcast, writing receipts in batches — never one task per recipient."""
    return actions.fan_out(broadcast_id)


@task()
def send_due_broadcasts() -> int:
    return actions.send_due_broadcasts()


@task()
def send_due_deliveries() -> int:
    """Send every external delivery whose time has come (each with retries and fallbacks)."""
    from huzhu.notify import delivery  # type: ignore[attr-defined,unused-ignore]

    return int(delivery.send_due())
