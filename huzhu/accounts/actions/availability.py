"""Availability: weekly slots, dated exceptions (away, or extra hours), and is_available,
which reads both."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import AvailabilityException, AvailabilitySlot, Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError


@transaction.atomic
def add_availability(
    *, actor: Person, person: Person, weekday: int, start: dt.time, end: dt.time
) -> AvailabilitySlot:
    """Add a weekly slot; overlapping slots on one day are merged."""
    if actor.pk != person.pk:
        policy.require(actor, "accounts.manage_person", person)
    weekday = int(weekday)
    if not 0 <= weekday <= 6:
        raise DomainError(
            "accounts.availability.weekday", _("星期无效。"), details={"field": "weekday"}
        )
    if end <= start:
        raise DomainError(
            "accounts.availability.order",
            _("结束时间必须晚于开始时间。"),
            details={"field": "end_time"},
        )
    overlapping = list(
        AvailabilitySlot.objects.select_for_update().filter(
            person=person, weekday=weekday, start_time__lte=end, end_time__gte=start
        )
    )
    for slot in overlapping:
        start = min(start, slot.start_time)
        end = max(end, slot.end_time)
        slot.delete()
    slot = AvailabilitySlot.objects.create(
        person=person, community=person.community, weekday=weekday, start_time=start, end_time=end
    )
    record(
        "accounts.availability.added",
        actor=actor,
        target=person,
        new={"weekday": weekday, "start": start.isoformat(), "end": end.isoformat()},
    )
    return slot


@transaction.atomic
def remove_availability(*, actor: Person, slot: AvailabilitySlot) -> None:
    if actor.pk != slot.person_id:
        policy.require(actor, "accounts.manage_person", slot.person)
    record(
        "accounts.availability.removed",
        actor=actor,
        target=slot.person,
        old={
            "weekday": slot.weekday,
            "start": slot.start_time.isoformat(),
            "end": slot.end_time.isoformat(),
        },
    )
    slot.delete()


@transaction.atomic
def add_availability_exception(
    *,
    actor: Person,
    person: Person,
    date: dt.date,
    available: bool,
    start: dt.time | None = None,
    end: dt.time | None = None,
    note: str = "",
) -> AvailabilityException:
    if actor.pk != person.pk:
        policy.require(actor, "accounts.manage_person", person)
    if date < clock.today():
        raise DomainError(
            "accounts.availability.past", _("日期不能早于今天。"), details={"field": "date"}
        )
    if (start is None) != (end is None) or (start and end and end <= start):
        raise DomainError(
            "accounts.availability.order",
            _("结束时间必须晚于开始时间。"),
            details={"field": "end_time"},
        )
    if available and start is None:
        raise DomainError(
            "accounts.availability.hours_required",
            _("额外可服务的日期须填写时间段。"),
            details={"field": "start_time"},
        )
    exc = AvailabilityException.objects.create(
        person=person,
        community=person.community,
        date=date,
        available=available,
        start_time=start,
        end_time=end,
        note=note.strip()[:200],
    )
    record(
        "accounts.availability.exception_added",
        actor=actor,
        target=person,
        new={"date": date.isoformat(), "available": available},
    )
    return exc


@transaction.atomic
def remove_availability_exception(*, actor: Person, exception: AvailabilityException) -> None:
    if actor.pk != exception.person_id:
        policy.require(actor, "accounts.manage_person", exception.person)
    record(
        "accounts.availability.exception_removed",
        actor=actor,
        target=exception.person,
        old={"date": exception.date.isoformat(), "available": exception.available},
    )
    exception.delete()


def is_available(person: Person, start: dt.datetime, end: dt.datetime) -> bool:
    """Does the person's weekly pattern (with exceptions) cover [start, end) on one day?"""
    local_start = timezone.localtime(start)
    local_end = timezone.localtime(end)
    day = local_start.date()
    exceptions = [e for e in person.availability_exceptions.all() if e.date == day]
    for exc in exceptions:
        if not exc.available and exc.start_time is None:
            return False
        if (
            not exc.available
            and exc.start_time
            and exc.end_time
            and exc.start_time < local_end.time()
            and local_start.time() < exc.end_time
        ):
            return False
        if (
            exc.available
            and exc.start_time
            and exc.end_time
            and exc.start_time <= local_start.time()
            and local_end.time() <= exc.end_time
        ):
            return True
    return any(
        slot.weekday == day.weekday()
        and slot.start_time <= local_start.time()
        and local_end.time() <= slot.end_time
        for slot in person.availability.all()
    )
