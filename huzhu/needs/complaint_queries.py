"""Reads of complaints against a service, always scoped to what the actor may see: handlers
("needs.handle_complaint") see the complaints of their buildings / community, everybody sees
the complaints they are a side of (complainant, filer, respondent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.needs.actions.common import is_requester_party
from huzhu.needs.actions.complaints import (
    COMPLAINABLE_STATES,
    FILE_FOR,
    HANDLE,
    is_party,
    may_handle,
)
from huzhu.needs.actions.tracking import holding_assignment
from huzhu.needs.models import (
    Complaint,
    ComplaintEvent,
    ComplaintLevel,
    ComplaintState,
    Need,
)

C = ComplaintState

# The list filters (pages and API): a state, or one of these views.
PENDING = "pending"  # open or contacted: waiting for a result
OVERDUE = "overdue"  # pending and past its contact (when open) or result deadline
ESCALATED = "escalated"  # pending and handed up to the branch head
VIEWS = (PENDING, OVERDUE, ESCALATED)


def complaints_qs() -> QuerySet[Complaint]:
    return Complaint.objects.select_related(
        "need__need_type",
        "need__building__community",
        "building__community",
        "community__alliance",
        "complainant",
        "respondent",
        "filed_by",
    )


def _own(actor: Person) -> Q:
    return Q(complainant=actor) | Q(filed_by=actor) | Q(respondent=actor)


def visible_complaints(actor: Person) -> QuerySet[Complaint]:
    """What the actor may see: the complaints they handle plus those they are a side of."""
    handled = policy.visible_to(actor, HANDLE, Complaint.objects.all())
    return complaints_qs().filter(Q(pk__in=handled.values("pk")) | _own(actor))


def overdue_q(now: dt.datetime) -> Q:
    return Q(state=C.OPEN, contact_due_at__lte=now) | Q(
        state__in=(C.OPEN, C.CONTACTED), result_due_at__lte=now
    )


def filter_complaints(
    qs: QuerySet[Complaint],
    *,
    state: str = "",
    category: str = "",
    search: str = "",
    now: dt.datetime | None = None,
) -> QuerySet[Complaint]:
    """Narrow a list: a state or a view (pending, overdue, escalated), a category, and a
    search by need number (``#12`` or ``12``) or by a side's name."""
    now = now or clock.now()
    if state == PENDING:
        qs = qs.filter(state__in=(C.OPEN, C.CONTACTED))
    elif state == OVERDUE:
        qs = qs.filter(overdue_q(now))
    elif state == ESCALATED:
        qs = qs.filter(state__in=(C.OPEN, C.CONTACTED), escalation_level__gt=ComplaintLevel.NONE)
    elif state:
        qs = qs.filter(state=state)
    if category:
        qs = qs.filter(category=category)
    text = search.strip().lstrip("#")
    if text:
        match = Q(complainant__name__icontains=text) | Q(respondent__name__icontains=text)
        if text.isdigit():
            match |= Q(need_id=int(text)) | Q(pk=int(text))
        qs = qs.filter(match)
    return qs


def escalated_complaints(actor: Person) -> QuerySet[Complaint]:
    """Complaints handed up past a deadline and still without a result, within the actor's
    "needs.handle_complaint" scope, oldest escalation first: the branch head's list."""
    return (
        policy.visible_to(actor, HANDLE, Complaint.objects.escalated())
        .select_related("need__need_type", "need__building__community", "complainant", "respondent")
        .order_by("escalated_at", "pk")
    )


def load_complaint(complaint_id: int) -> Complaint:
    return get_object_or_404(complaints_qs().select_related("assignment"), pk=complaint_id)


def visible_complaint(actor: Person, complaint_id: int) -> Complaint:
    """The complaint if the actor handles it or is a side of it; 404 outside their scope,
    403 inside it."""
    complaint = load_complaint(complaint_id)
    if is_party(actor, complaint) or may_handle(actor, complaint):
        return complaint
    if not policy.in_scope(actor, complaint.scope_node()):
        raise Http404
    raise PermissionDenied(HANDLE)


def may_file(actor: Any, need: Need) -> bool:
    """May the actor complain about this service: a side of it (the person served or whoever
    published for them, the serving volunteer) or a manager with "needs.file_complaint"."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if need.state not in COMPLAINABLE_STATES:
        return False
    if is_requester_party(actor, need) or policy.can(actor, FILE_FOR, need.scope_node()):
        return True
    holder = holding_assignment(need)
    return holder is not None and holder.volunteer_id == actor.pk


def history(complaint: Complaint) -> QuerySet[ComplaintEvent]:
    return complaint.events.select_related("actor").order_by("at", "pk")
