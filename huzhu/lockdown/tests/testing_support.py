"""Helpers for the mass-testing tests: a community with households on several floors, people
living in them, and a session run by the cast's group leader."""

from __future__ import annotations

from typing import Any

from huzhu.accounts.models import Household, Person
from huzhu.lockdown.actions import testing as ta
from huzhu.lockdown.models import TestingSession
from huzhu.needs.tests.support import T0, at

__all__ = ["T0", "at", "label", "members_of", "populate", "session"]

# (building index, room, floor, members): world.building is "1号楼", the second "2号楼".
# Listed out of calling order on purpose.
EXTRA = [
    (0, "302", 3, 1),
    (1, "1001", 10, 1),
    (0, "102", 1, 2),
    (0, "201", 2, 0),  # nobody registered: called, but nobody to notify
    (1, "101", 1, 1),
    (0, "301", 3, 1),
]


def populate(world: Any) -> dict[str, Household]:
    """Households of the two buildings of ``world.community`` by "building-room" label, each
    with its members (the cast's resident lives in 1号楼-101)."""
    buildings = list(world.community.buildings.order_by("name"))
    n = 0
    for b, room, floor, members in EXTRA:
        h = Household.objects.create(
            community=world.community, building=buildings[b], room=room, floor=floor
        )
        for i in range(members):
            n += 1
            p = Person(name=f"居民{h.building.name}{room}-{i}", community=world.community)
            p.household = h
            p.set_phone(f"1370000{n:04d}")
            p.set_unusable_password()
            p.save()
    return {
        label(h): h
        for h in Household.objects.filter(community=world.community).select_related("building")
    }


def label(h: Household) -> str:
    return f"{h.building.name}-{h.room}"


def members_of(households: list[Household]) -> set[int]:
    return set(
        Person.objects.filter(household__in=households, is_active=True).values_list("pk", flat=True)
    )


def session(
    world: Any, cast: Any, *, batch_size: int = 3, key: str = "ts-1", draft: bool = False
) -> TestingSession:
    with at(T0):
        return ta.create_session(
            actor=cast.group_leader,
            community=world.community,
            group=world.group,
            title="3月2日全员核酸",
            place="小区东门广场",
            starts_at=T0,
            batch_size=batch_size,
            buildings=list(world.community.buildings.all()),
            key=key,
            draft=draft,
        )
