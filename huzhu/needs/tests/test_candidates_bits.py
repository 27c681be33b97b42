"""The denormalised match bits (``Person.skill_bits`` / ``slot_bits``): they follow every change
of skills and weekly slots (the actions, the models, a bulk refresh), the bit tests of the SQL
pre-filter keep everybody the exact tests keep, and a volunteer available only through an
extra-hours exception is still found."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.accounts.actions import (
    add_availability,
    add_availability_exception,
    add_skill,
    remove_availability,
    remove_skill,
)
from huzhu.accounts.models import (
    AvailabilitySlot,
    Person,
    PersonSkill,
    Skill,
    refresh_match_bits,
    skill_bit,
    slot_mask,
)
from huzhu.needs.candidates import candidate_queryset, nearest_candidates
from huzhu.needs.suggest import ranked
from huzhu.needs.tests.support import T0, at
from huzhu.needs.tests.test_candidates import (
    DAY,
    TUE,
    WED,
    Factory,
    Spec,
    make_need,
    random_spec,
    t,
)

pytestmark = pytest.mark.django_db


def bits(person: Person) -> tuple[int, int]:
    return Person.objects.values_list("skill_bits", "slot_bits").get(pk=person.pk)


def expected(person: Person) -> tuple[int, int]:
    """The bits computed in Python from the rows."""
    skill = 0
    for pk in PersonSkill.objects.filter(person=person).values_list("skill_id", flat=True):
        skill |= skill_bit(pk)
    slot = 0
    for weekday, start, end in AvailabilitySlot.objects.filter(person=person).values_list(
        "weekday", "start_time", "end_time"
    ):
        slot |= slot_mask(weekday, start, end)
    return skill, slot


def test_slot_mask_blocks() -> None:
    # Tuesday 08:00–12:00 overlaps the blocks 06–09, 09–12 of weekday 1.
    assert slot_mask(TUE, t(8), t(12)) == (1 << 10) | (1 << 11)
    # A slot ending exactly on a block boundary does not touch the next block.
    assert slot_mask(0, t(9), t(12)) == 1 << 3
    # Until midnight.
    assert slot_mask(6, t(22), dt.time.max) == 1 << 55
    assert slot_mask(0, t(0), dt.time.max) == 0xFF


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 6),
    st.integers(0, 24 * 60 - 1),
    st.integers(1, 24 * 60),
    st.integers(0, 24 * 60 - 1),
    st.integers(1, 24 * 60),
)
def test_overlapping_windows_share_a_bit(weekday: int, s1: int, l1: int, s2: int, l2: int) -> None:
    """Whenever a slot overlaps a window on one weekday, their masks share a bit (the bit test
    never drops someone the slot test keeps)."""

    def span(start: int, length: int) -> tuple[dt.time, dt.time]:
        end = min(start + length, 24 * 60)
        to = dt.time.max if end == 24 * 60 else dt.time(end // 60, end % 60)
        return dt.time(start // 60, start % 60), to

    a, b = span(s1, l1), span(s2, l2)
    if a[0] < b[1] and b[0] < a[1]:
        assert slot_mask(weekday, *a) & slot_mask(weekday, *b)


def test_bits_follow_the_skill_actions(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        p = f.person(Spec(haircut=False, slots=[]))
        assert bits(p) == (0, 0)
        add_skill(actor=p, person=p, skill=f.haircut, level=2)
        assert bits(p)[0] == skill_bit(f.haircut.pk)
        add_skill(actor=p, person=p, skill=f.lifting, level=1)
        assert bits(p)[0] == skill_bit(f.haircut.pk) | skill_bit(f.lifting.pk)
        add_skill(actor=p, person=p, skill=f.lifting, level=4)  # a change of level
        assert bits(p) == expected(p)
        remove_skill(actor=p, held=PersonSkill.objects.get(person=p, skill=f.haircut))
        assert bits(p)[0] == skill_bit(f.lifting.pk)
        PersonSkill.objects.get(person=p, skill=f.lifting).delete()
        assert bits(p) == (0, 0)


def test_bits_follow_the_slot_actions(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        p = f.person(Spec(slots=[]))
        add_availability(actor=p, person=p, weekday=TUE, start=t(8), end=t(10))
        assert bits(p)[1] == slot_mask(TUE, t(8), t(10))
        # Merged with an overlapping slot: one slot 08:00–13:00.
        add_availability(actor=p, person=p, weekday=TUE, start=t(9), end=t(13))
        assert bits(p)[1] == slot_mask(TUE, t(8), t(13))
        add_availability(actor=p, person=p, weekday=WED, start=t(20), end=t(22))
        assert bits(p) == expected(p)
        # A slot changed in place.
        slot = AvailabilitySlot.objects.get(person=p, weekday=WED)
        slot.start_time, slot.end_time = t(1), t(2)
        slot.save()
        assert bits(p)[1] == slot_mask(TUE, t(8), t(13)) | slot_mask(WED, t(1), t(2))
        remove_availability(actor=p, slot=AvailabilitySlot.objects.get(person=p, weekday=TUE))
        assert bits(p)[1] == slot_mask(WED, t(1), t(2))
        slot.delete()
        assert bits(p)[1] == 0


def test_a_stale_copy_does_not_overwrite_the_bits(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        p = f.person(Spec(haircut=False, slots=[]))
        stale = Person.objects.get(pk=p.pk)
        add_skill(actor=p, person=p, skill=f.haircut, level=2)
        add_availability(actor=p, person=p, weekday=TUE, start=t(8), end=t(10))
        stale.name = "改名"
        stale.save()
        assert bits(p) == expected(p) != (0, 0)
        assert Person.objects.get(pk=p.pk).name == "改名"


def test_bulk_refresh(world: Any, cast: Any) -> None:
    """Rows written past the models (bulk_create, update) are picked up by one refresh."""
    with at(T0):
        f = Factory(world, cast)
        rng = random.Random(3)
        people = [f.person(Spec(haircut=False, slots=[])) for _ in range(6)]
        extra = Skill.objects.create(code="bits-extra", name="额外", name_en="Extra")
        held, slots = [], []
        for p in people:
            for skill in rng.sample([f.haircut, f.lifting, extra], rng.randint(0, 3)):
                held.append(PersonSkill(person=p, skill=skill))
            for _ in range(rng.randint(0, 3)):
                start = rng.randint(0, 22)
                slots.append(
                    AvailabilitySlot(
                        person=p,
                        weekday=rng.randint(0, 6),
                        start_time=t(start),
                        end_time=t(rng.randint(start + 1, 23)) if start < 22 else dt.time.max,
                    )
                )
        PersonSkill.objects.bulk_create(held)
        AvailabilitySlot.objects.bulk_create(slots)
        assert refresh_match_bits(Person.objects.filter(pk__in=[p.pk for p in people])) == 6
        for p in people:
            assert bits(p) == expected(p)
        AvailabilitySlot.objects.filter(person__in=people).update(start_time=t(0))
        PersonSkill.objects.filter(person=people[0]).delete()
        refresh_match_bits()
        for p in people:
            assert bits(p) == expected(p)


def test_extra_hours_alone_make_a_volunteer_available(world: Any, cast: Any) -> None:
    """No weekly slot that day (``slot_bits`` has no bit of the window), but extra hours on the
    need's date: still a candidate, in the pool and ranked."""
    with at(T0):
        f = Factory(world, cast)
        extra = f.person(Spec(slots=[(WED, 8, 12)], exceptions=[(True, 8, 11)]))
        none = f.person(Spec(slots=[(WED, 8, 12)]))
        weekly = f.person(Spec())
        need = make_need(cast, "plain")
        assert bits(extra)[1] & slot_mask(TUE, t(9), t(10)) == 0
        returned = set(candidate_queryset(need).values_list("pk", flat=True))
        assert {extra.pk, weekly.pk} <= returned
        assert none.pk not in returned
        assert extra.pk in nearest_candidates(need)
        assert extra.pk in {s.volunteer_id for s in ranked(need, 10)}


def test_extra_hours_through_the_action(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        p = f.person(Spec(slots=[]))
        need = make_need(cast, "plain")
        assert p.pk not in set(candidate_queryset(need).values_list("pk", flat=True))
        add_availability_exception(
            actor=p, person=p, date=DAY, available=True, start=t(8), end=t(11)
        )
        assert p.pk in set(candidate_queryset(need).values_list("pk", flat=True))


def test_a_skill_sharing_the_bit_does_not_count(world: Any, cast: Any) -> None:
    """Two skills on one bit (ids 63 apart): the bit test alone would keep a holder of the other
    one; the exact test drops them, and keeps the real holder."""
    with at(T0):
        f = Factory(world, cast)
        twin = Skill.objects.create(
            pk=f.haircut.pk + 63, code="bits-twin", name="同位", name_en="Twin"
        )
        assert skill_bit(twin.pk) == skill_bit(f.haircut.pk)
        impostor = f.person(Spec(haircut=False))
        PersonSkill.objects.create(person=impostor, skill=twin)
        holder = f.person(Spec())
        for kind in ("plain", "female_strong"):
            need = make_need(cast, kind)
            returned = set(candidate_queryset(need).values_list("pk", flat=True))
            assert impostor.pk not in returned
            if kind == "plain":
                assert holder.pk in returned


def test_random_population_bits_match_the_rows(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        rng = random.Random(11)
        people = [f.person(random_spec(rng)) for _ in range(25)]
        for p in people:
            assert bits(p) == expected(p)
