"""Reads of mass testing sessions: who may see a session, the per-building counts (tested,
not yet, absent), the follow-up list (every household not tested), the state the big calling
screen shows, and the follow-up list as .xlsx."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.lockdown.actions.testing import RUN_TESTING, VIEW_TESTING, _natural
from huzhu.lockdown.models import QueueEntry, TestingBatch, TestingKind, TestingSession
from huzhu.lockdown.models import TestingState as T


def may_run(actor: Person, session: TestingSession) -> bool:
    return policy.can(actor, RUN_TESTING, session)


def is_staff(actor: Person, session: TestingSession) -> bool:
    return policy.can(actor, VIEW_TESTING, session) or policy.can(actor, RUN_TESTING, session)


def covers_household(session: TestingSession, household_id: int | None) -> bool:
    if household_id is None:
        return False
    return session.buildings.filter(households__pk=household_id).exists()


def may_view(actor: Person, session: TestingSession) -> bool:
    """The staff see a session in every state; residents of a covered building see it once it
    has opened (its calling screen and their own household's batch)."""
    if is_staff(actor, session):
        return True
    if session.state == T.DRAFT or actor.community_id != session.community_id:
        return False
    return covers_household(session, actor.household_id)


def visible_sessions(actor: Person) -> QuerySet[TestingSession]:
    """Sessions I run or may see, and the opened ones covering my household's building."""
    staff = policy.visible_to(actor, VIEW_TESTING, TestingSession.objects.all()).values("pk")
    runs = policy.visible_to(actor, RUN_TESTING, TestingSession.objects.all()).values("pk")
    q = Q(pk__in=staff) | Q(pk__in=runs)
    if actor.household_id is not None and actor.community_id is not None:
        q |= Q(community_id=actor.community_id, buildings__households__pk=actor.household_id) & ~Q(
            state=T.DRAFT
        )
    return TestingSession.objects.filter(q).distinct()


@dataclass(frozen=True)
class BuildingCount:
    building_id: int
    name: str
    total: int
    tested: int
    pending: int  # not yet tested and not marked absent
    absent: int  # called, did not come, not tested since


_TESTED = Q(checked_in_at__isnull=False)
_ABSENT = Q(checked_in_at__isnull=True, absent_at__isnull=False)
_PENDING = Q(checked_in_at__isnull=True, absent_at__isnull=True)


def building_counts(session: TestingSession) -> list[BuildingCount]:
    """Per covered building: households tested, not yet, absent (one query)."""
    rows = (
        QueueEntry.objects.filter(session=session)
        .values("building_id", "building__name")
        .annotate(
            total=Count("pk"),
            tested=Count("pk", filter=_TESTED),
            absent=Count("pk", filter=_ABSENT),
            pending=Count("pk", filter=_PENDING),
        )
        .order_by()
    )
    out = [
        BuildingCount(
            building_id=r["building_id"],
            name=r["building__name"],
            total=r["total"],
            tested=r["tested"],
            pending=r["pending"],
            absent=r["absent"],
        )
        for r in rows
    ]
    return sorted(out, key=lambda c: (_natural(c.name), c.building_id))


def totals(counts: list[BuildingCount]) -> dict[str, int]:
    return {
        "total": sum(c.total for c in counts),
        "tested": sum(c.tested for c in counts),
        "pending": sum(c.pending for c in counts),
        "absent": sum(c.absent for c in counts),
    }


def follow_up(
    session: TestingSession, *, building_id: int | None = None, q: str = ""
) -> QuerySet[QueueEntry]:
    """The follow-up list (待跟进): every household of the session not tested — the absent
    and those not yet come — in calling order; optionally of one building or matching a room."""
    qs = QueueEntry.objects.filter(session=session, checked_in_at__isnull=True)
    if building_id is not None:
        qs = qs.filter(building_id=building_id)
    if q:
        qs = qs.filter(Q(household__room__icontains=q) | Q(building__name__icontains=q))
    return qs.select_related("household", "building").order_by("sequence")


def search_queue(session: TestingSession, text: str, limit: int = 20) -> list[QueueEntry]:
    """Households of the queue for the check-in search: "3号楼 502", "3-502" or just "502"."""
    text = (text or "").strip()[:40]
    if not text:
        return []
    parts = [p for p in re.split(r"[\s\-－—/]+", text) if p]
    qs = QueueEntry.objects.filter(session=session)
    if len(parts) >= 2:
        building, room = parts[0], parts[-1]
        names = [building, f"{building}号楼", f"{building}栋"]
        qs = qs.filter(
            Q(building__name__in=names) | Q(building__name__icontains=building),
            household__room=room,
        )
    else:
        qs = qs.filter(household__room=parts[0])
    return list(qs.select_related("household", "building").order_by("sequence")[:limit])


def status_label(entry: QueueEntry) -> str:
    return {
        "tested": _("已检测"),
        "absent": _("缺席"),
        "pending": _("未检测"),
    }[entry.status]


def screen_state(session: TestingSession) -> dict[str, Any]:
    """What the big calling screen shows: the batch being called and its households (building
    and room), the sequence range, the counts, the state. Small and cache-free: polled."""
    last = TestingBatch.objects.filter(session=session).order_by("-number").first()
    households: list[str] = []
    if last is not None:
        households = [
            f"{b} {r}"
            for b, r in QueueEntry.objects.filter(session=session, batch=last.number)
            .order_by("sequence")
            .values_list("building__name", "household__room")
        ]
    counts = totals(building_counts(session))
    waiting = QueueEntry.objects.filter(
        session=session, batch__isnull=True, checked_in_at__isnull=True, absent_at__isnull=True
    ).count()
    return {
        "session": session.pk,
        "title": session.title,
        "place": session.place,
        "kind": str(TestingKind(session.kind).label),
        "state": session.state,
        "state_label": str(T(session.state).label),
        "batch": last.number if last else 0,
        "first": last.first_sequence if last else 0,
        "last": last.last_sequence if last else 0,
        "called_at": last.created_at.isoformat() if last else None,
        "households": households,
        "waiting": waiting,
        **counts,
    }


def follow_up_xlsx(session: TestingSession) -> bytes:
    """The follow-up list as a spreadsheet: building, room, floor, status, batch."""
    from huzhu.lockdown.exports import _book

    header = [_("楼栋"), _("房号"), _("楼层"), _("状态"), _("批次"), _("叫号顺序")]
    rows = [
        [
            e.building.name,
            e.household.room,
            e.household.floor if e.household.floor is not None else "",
            status_label(e),
            e.batch or "",
            e.sequence,
        ]
        for e in follow_up(session)
    ]
    return _book([(_("待跟进"), header, rows)])
