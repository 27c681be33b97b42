"""Mass testing sessions (DOMAIN.md "Lockdown operations": 核酸检测 — sessions with a calling
order by building/floor, residents told when to come down, check-in, who has not been tested
yet per building, follow-up). The same flow serves any mass service (抗原发放).

The staff of the group running a session ("lockdown.run_testing": its leader and members, the
branch head) create it with a place, a time, a batch size and the buildings it covers. Opening
it builds the calling queue: every household of those buildings, by building, floor and room.
"Call next batch" takes the next ``batch_size`` households not yet called, checked in or marked
absent, and notifies their members to come down. A household checks in by its household code
(scanned) or by a search for building and room; a called household that does not come is
marked absent. Closing ends the session; the follow-up list is every household not tested.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.lockdown.actions.common import clean_key, clean_text
from huzhu.lockdown.models import (
    CheckInMethod,
    QueueEntry,
    TestingBatch,
    TestingKind,
    TestingSession,
    TestingState,
)
from huzhu.orgs.models import Building, Community, Group

RUN_TESTING = "lockdown.run_testing"
VIEW_TESTING = "lockdown.view_testing"
MAX_BATCH = 500
T = TestingState


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort "2号楼" before "10号楼" (numbers compare as numbers, never against text)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def calling_order(households: Sequence[Household]) -> list[Household]:
    """The calling order: by building (natural name order), floor (unknown floors last), then
    room (natural order)."""
    return sorted(
        households,
        key=lambda h: (
            _natural(h.building.name),
            h.building_id,
            h.floor is None,
            h.floor if h.floor is not None else 0,
            _natural(h.room),
            h.pk,
        ),
    )


def lock_session(session: TestingSession) -> TestingSession:
    """The session re-read under a row lock: calls and transitions are serialized."""
    return (
        TestingSession.objects.select_for_update(of=("self",))
        .select_related("community", "group")
        .get(pk=session.pk)
    )


def bad_state(session: TestingSession) -> ConflictError:
    return ConflictError(
        "lockdown.testing.bad_state",
        _("检测场次当前状态为“%(state)s”，不能进行此操作。")
        % {"state": TestingState(session.state).label},
        details={"state": session.state},
    )


def _clean_batch_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH:
        raise DomainError(
            "lockdown.testing.batch_size",
            _("每批户数必须是 1 到 %(max)s 之间的整数。") % {"max": MAX_BATCH},
            details={"field": "batch_size"},
        )
    return value


def _build_queue(session: TestingSession) -> int:
    households = list(
        Household.objects.filter(
            building__in=session.buildings.all(), community_id=session.community_id
        ).select_related("building")
    )
    QueueEntry.objects.bulk_create(
        (
            QueueEntry(session=session, household=h, building_id=h.building_id, sequence=i)
            for i, h in enumerate(calling_order(households), start=1)
        ),
        batch_size=1000,
    )
    return len(households)


def create_session(
    *,
    actor: Person,
    community: Community,
    title: str,
    place: str,
    starts_at: dt.datetime,
    batch_size: int,
    buildings: Sequence[Building],
    key: str,
    kind: str = TestingKind.NUCLEIC_ACID,
    group: Group | None = None,
    draft: bool = False,
) -> TestingSession:
    """Create a testing session ("lockdown.run_testing" on the group running it, or on the
    community) and open it at once unless ``draft``. Idempotent by the creator's key: a replay
    answers the session already created."""
    key = clean_key(key)
    existing = TestingSession.objects.filter(created_by=actor, open_key=key).first()
    if existing is not None:
        policy.require(actor, RUN_TESTING, existing)
        return existing
    if group is not None and group.community_id != community.pk:
        raise DomainError(
            "lockdown.testing.group_community",
            _("小组不属于该社区。"),
            details={"field": "group"},
        )
    policy.require(actor, RUN_TESTING, group if group is not None else community)
    if kind not in TestingKind.values:
        raise DomainError("lockdown.testing.kind", _("检测类型无效。"), details={"field": "kind"})
    title = clean_text(title, "title", 100, required=True)
    place = clean_text(place, "place", 100, required=True)
    batch_size = _clean_batch_size(batch_size)
    building_ids = sorted({b.pk for b in buildings})
    if not building_ids:
        raise DomainError(
            "lockdown.testing.no_buildings",
            _("至少需要覆盖一栋楼。"),
            details={"field": "buildings"},
        )
    if any(b.community_id != community.pk for b in buildings):
        raise DomainError(
            "lockdown.testing.building_community",
            _("楼栋不属于该社区。"),
            details={"field": "buildings"},
        )
    try:
        with transaction.atomic():
            session = TestingSession.objects.create(
                community=community,
                group=group,
                kind=kind,
                title=title,
                place=place,
                starts_at=starts_at,
                batch_size=batch_size,
                created_by=actor,
                open_key=key,
                state=T.DRAFT,
            )
            session.buildings.set(building_ids)
            record(
                "lockdown.testing.created",
                actor=actor,
                target=session,
                community=community,
                new={
                    "title": title,
                    "kind": kind,
                    "place": place,
                    "starts_at": starts_at.isoformat(),
                    "batch_size": batch_size,
                    "buildings": building_ids,
                },
            )
            if not draft:
                session = _open(actor, session)
    except IntegrityError:
        winner = TestingSession.objects.filter(created_by=actor, open_key=key).first()
        if winner is None:
            raise
        return winner
    return session


def _open(actor: Person, session: TestingSession) -> TestingSession:
    session.state = T.OPEN
    session.opened_at = clock.now()
    session.save(update_fields=["state", "opened_at", "updated_at"])
    households = _build_queue(session)
    record(
        "lockdown.testing.opened",
        actor=actor,
        target=session,
        community=session.community,
        old={"state": T.DRAFT},
        new={"state": T.OPEN, "households": households},
    )
    return session


def open_session(*, actor: Person, session: TestingSession) -> TestingSession:
    """A draft session opens (draft → open): the calling queue is built from the households of
    the covered buildings as they are now. Opening again answers the open session."""
    policy.require(actor, RUN_TESTING, session)
    with transaction.atomic():
        s = lock_session(session)
        if s.state == T.OPEN:
            return s
        if s.state != T.DRAFT:
            raise bad_state(s)
        return _open(actor, s)


def close_session(*, actor: Person, session: TestingSession) -> TestingSession:
    """End the session (open → closed): no more calls or check-ins; the households not
    tested stay on the follow-up list. Closing again answers the closed session."""
    policy.require(actor, RUN_TESTING, session)
    with transaction.atomic():
        s = lock_session(session)
        if s.state == T.CLOSED:
            return s
        if s.state != T.OPEN:
            raise bad_state(s)
        s.state = T.CLOSED
        s.closed_at = clock.now()
        s.save(update_fields=["state", "closed_at", "updated_at"])
        untested = QueueEntry.objects.filter(session=s, checked_in_at__isnull=True).count()
        record(
            "lockdown.testing.closed",
            actor=actor,
            target=s,
            community=s.community,
            old={"state": T.OPEN},
            new={"state": T.CLOSED, "untested": untested},
        )
    return s


def _notify_batch(session: TestingSession, batch: int, entries: list[QueueEntry]) -> int:
    """Tell every member of the batch's households to come down; one notification per person
    per session (the key names session, household and person), so a retry notifies once."""
    from huzhu.notify.actions import notify
    from huzhu.notify.render import render_event

    by_household = {e.household_id: e for e in entries}
    link = reverse("lockdown:testing_session", kwargs={"pk": session.pk})
    sent = 0
    for person in Person.objects.filter(household_id__in=by_household, is_active=True).order_by(
        "pk"
    ):
        assert person.household_id is not None
        entry = by_household[person.household_id]
        title, body = render_event(
            "lockdown.testing.called",
            person,
            title=session.title,
            batch=batch,
            building=entry.building.name,
            room=entry.household.room,
            place=session.place,
            kind=TestingKind(session.kind).label,
        )
        notify(
            person=person,
            code="lockdown.testing.called",
            title=title,
            body=body,
            link=link,
            urgent=True,
            key=f"lockdown.testing:{session.pk}:{entry.household_id}:{person.pk}",
            community=session.community,
        )
        sent += 1
    return sent


def call_next_batch(*, actor: Person, session: TestingSession, key: str) -> TestingBatch:
    """Call the next batch down (叫号): the next ``batch_size`` households in the calling order
    that are not yet called, checked in or marked absent get the batch's number and their
    members are notified. Idempotent by key: a replay answers the batch already called."""
    policy.require(actor, RUN_TESTING, session)
    key = clean_key(key)
    with transaction.atomic():
        s = lock_session(session)
        done: TestingBatch | None = TestingBatch.objects.filter(session=s, key=key).first()
        if done is not None:
            return done
        if s.state != T.OPEN:
            raise bad_state(s)
        entries = list(
            QueueEntry.objects.filter(
                session=s,
                batch__isnull=True,
                checked_in_at__isnull=True,
                absent_at__isnull=True,
            )
            .select_related("household", "building")
            .order_by("sequence")[: s.batch_size]
        )
        if not entries:
            raise ConflictError(
                "lockdown.testing.queue_empty",
                _("所有住户都已叫号，没有下一批了。"),
            )
        now = clock.now()
        number = s.batches_called + 1
        QueueEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
            batch=number, called_at=now
        )
        for e in entries:
            e.batch, e.called_at = number, now
        s.batches_called = number
        s.save(update_fields=["batches_called", "updated_at"])
        batch = TestingBatch.objects.create(
            session=s,
            number=number,
            households=len(entries),
            first_sequence=entries[0].sequence,
            last_sequence=entries[-1].sequence,
            called_by=actor,
            key=key,
            created_at=now,
        )
        notified = _notify_batch(s, number, entries)
        record(
            "lockdown.testing.batch_called",
            actor=actor,
            target=s,
            community=s.community,
            new={
                "batch": number,
                "households": [e.household_id for e in entries],
                "notified": notified,
            },
        )
    return batch


def _entry(session: TestingSession, household_id: int) -> QueueEntry:
    entry = (
        QueueEntry.objects.select_for_update(of=("self",))
        .select_related("household", "building")
        .filter(session=session, household_id=household_id)
        .first()
    )
    if entry is None:
        raise DomainError(
            "lockdown.testing.not_in_queue",
            _("该住户不在本场次的名单中。"),
            details={"field": "household"},
        )
    return entry


def check_in(
    *,
    actor: Person,
    session: TestingSession,
    household_id: int,
    method: str = CheckInMethod.SEARCH,
) -> QueueEntry:
    """Check a household in (签到): it is tested. A household may come before its batch is
    called, or after being marked absent. Checking in again answers the entry unchanged."""
    policy.require(actor, RUN_TESTING, session)
    if method not in CheckInMethod.values:
        raise DomainError(
            "lockdown.testing.method", _("签到方式无效。"), details={"field": "method"}
        )
    with transaction.atomic():
        s = TestingSession.objects.select_related("community").get(pk=session.pk)
        entry = _entry(s, household_id)
        if entry.checked_in_at is not None:
            return entry
        if s.state != T.OPEN:
            raise bad_state(s)
        entry.checked_in_at = clock.now()
        entry.checked_in_by = actor
        entry.check_in_method = method
        entry.save(update_fields=["checked_in_at", "checked_in_by", "check_in_method"])
        record(
            "lockdown.testing.checked_in",
            actor=actor,
            target=s,
            community=s.community,
            old={"absent": entry.absent_at is not None, "batch": entry.batch},
            new={"household": entry.household_id, "method": method},
        )
    return entry


def check_in_by_code(*, actor: Person, session: TestingSession, token: str) -> QueueEntry:
    """Check in the household whose household code (住户码) was scanned."""
    from huzhu.lockdown.household_code import read_code

    policy.require(actor, RUN_TESTING, session)
    return check_in(
        actor=actor, session=session, household_id=read_code(token), method=CheckInMethod.CODE
    )


def mark_absent(*, actor: Person, session: TestingSession, household_id: int) -> QueueEntry:
    """A called household did not come down (缺席): it goes on the follow-up list. Only a
    called, not checked-in household; marking again answers the entry unchanged."""
    policy.require(actor, RUN_TESTING, session)
    with transaction.atomic():
        s = TestingSession.objects.select_related("community").get(pk=session.pk)
        entry = _entry(s, household_id)
        if entry.absent_at is not None and entry.checked_in_at is None:
            return entry
        if s.state != T.OPEN:
            raise bad_state(s)
        if entry.checked_in_at is not None:
            raise ConflictError(
                "lockdown.testing.already_checked_in",
                _("该住户已签到，不能登记缺席。"),
            )
        if entry.batch is None:
            raise ConflictError(
                "lockdown.testing.not_called",
                _("该住户尚未叫号，不能登记缺席。"),
            )
        entry.absent_at = clock.now()
        entry.absent_by = actor
        entry.save(update_fields=["absent_at", "absent_by"])
        record(
            "lockdown.testing.absent",
            actor=actor,
            target=s,
            community=s.community,
            new={"household": entry.household_id, "batch": entry.batch},
        )
    return entry
