"""Reads of the needs app, always scoped to what the actor may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from huzhu.accounts import policy
from huzhu.needs.models import Need


def escalated_needs(actor: Any) -> QuerySet[Need]:
    """The open needs handed up past a deadline (review or accept), within the actor's
    "needs.view" scope, oldest deadline first: the branch head's list."""
    return (
        policy.visible_to(actor, "needs.view", Need.objects.escalated())
        .select_related("need_type", "building", "requester")
        .order_by("escalated_at", "pk")
    )


def history(need: Need) -> QuerySet[Any]:
    """A need's transitions, in order."""
    return need.events.select_related("actor").order_by("at", "pk")
