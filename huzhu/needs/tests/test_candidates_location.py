"""The stored position matching searches by (``Person.loc_lat_e6``/``loc_lon_e6``/``loc_cell``,
issue 5 "Matching" at a million volunteers): it follows the person's own coordinates, their
household, their building's and their community's coordinates, and ``refresh_locations`` /
the data migration compute the same as ``Person.location()``."""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps

from huzhu.accounts.models import (
    Household,
    Person,
    location_cell,
    refresh_locations,
    to_e6,
)
from huzhu.needs.candidates import near
from huzhu.orgs import actions as orgs_actions
from huzhu.orgs.models import Building

pytestmark = pytest.mark.django_db

_phones = iter(range(13_900_000_100, 13_900_001_000))


def person(world: Any, **fields: Any) -> Person:
    fields.setdefault("community", world.community)
    return Person.objects.create_user(str(next(_phones)), None, name="测试", **fields)


def stored(p: Person) -> tuple[int | None, int | None, int | None]:
    p.refresh_from_db()
    return (p.loc_lat_e6, p.loc_lon_e6, p.loc_cell)


def expected(lat: str | None, lon: str | None) -> tuple[int | None, int | None, int | None]:
    la, lo = to_e6(lat), to_e6(lon)
    return (la, lo, location_cell(la, lo))


def assert_true_everywhere() -> None:
    """Every person's stored position is what ``location()`` says now."""
    for p in Person.objects.select_related("household__building", "community"):
        lat, lon = p.location_e6()
        assert (p.loc_lat_e6, p.loc_lon_e6, p.loc_cell) == (lat, lon, location_cell(lat, lon)), p


def test_to_e6_rounds_to_whole_micro_degrees() -> None:
    assert to_e6(Decimal("31.230416")) == 31_230_416
    assert to_e6("-0.0000005") == -1
    assert to_e6(121.4737) == 121_473_700
    assert to_e6(None) is None
    assert location_cell(None, 1) is None
    # Neighbouring cells east and north differ by 1 and by a row.
    a = location_cell(31_230_000, 121_470_000)
    assert location_cell(31_230_000, 121_480_000) == a + 1
    assert location_cell(31_240_000, 121_470_000) != a


def test_own_coordinates_then_building_then_community(world: Any) -> None:
    p = person(world, household=world.household, latitude="31.250000", longitude="121.500000")
    assert stored(p) == expected("31.250000", "121.500000")

    p.latitude, p.longitude = Decimal("31.260001"), Decimal("121.510002")
    p.save(update_fields=["latitude", "longitude"])  # the location columns go along
    assert stored(p) == expected("31.260001", "121.510002")

    p.latitude = p.longitude = None
    p.save()
    assert stored(p) == expected("31.231000", "121.471000")  # the household's building

    p.household = None
    p.save()
    assert stored(p) == expected("31.230000", "121.470000")  # the community

    p.community = None
    p.save()
    assert stored(p) == (None, None, None)


def test_moving_household_moves_the_person(world: Any) -> None:
    p = person(world, household=world.household)
    assert stored(p) == expected("31.231000", "121.471000")
    far = Building.objects.create(
        community=world.community,
        name="远楼",
        floors=3,
        latitude="31.300000",
        longitude="121.600000",
    )
    home = Household.objects.create(community=world.community, building=far, room="101", floor=1)
    p.household = home
    p.save()
    assert stored(p) == expected("31.300000", "121.600000")
    assert Person.objects.filter(near(31.3, 121.6, 500), pk=p.pk).exists()
    assert not Person.objects.filter(near(31.231, 121.471, 500), pk=p.pk).exists()


def test_household_moved_to_another_building_moves_its_members(world: Any) -> None:
    a = person(world, household=world.household)
    own = person(world, household=world.household, latitude="31.100000", longitude="121.100000")
    other = Building.objects.create(
        community=world.community,
        name="新楼",
        floors=3,
        latitude="31.240000",
        longitude="121.480000",
    )
    world.household.building = other
    world.household.save()
    assert stored(a) == expected("31.240000", "121.480000")
    assert stored(own) == expected("31.100000", "121.100000")  # own coordinates win


def test_building_coordinates_change_moves_its_people(world: Any, cast: Any) -> None:
    a = person(world, household=world.household)
    own = person(world, household=world.household, latitude="31.100000", longitude="121.100000")
    elsewhere = person(world)  # community only
    building = world.household.building
    orgs_actions.update_building(
        actor=cast.branch_head,
        building=building,
        name=building.name,
        floors=building.floors,
        latitude="31.222222",
        longitude="121.444444",
    )
    assert stored(a) == expected("31.222222", "121.444444")
    assert stored(own) == expected("31.100000", "121.100000")
    assert stored(elsewhere) == expected("31.230000", "121.470000")

    # A building without coordinates: its people stand at their community.
    b = Building.objects.get(pk=building.pk)
    b.latitude = b.longitude = None
    b.save()
    assert stored(a) == expected("31.230000", "121.470000")
    assert_true_everywhere()


def test_community_coordinates_change_moves_people_without_a_better_place(
    world: Any, cast: Any
) -> None:
    bare = person(world)
    housed = person(world, household=world.household)
    orgs_actions.update_community(
        actor=cast.branch_head,
        community=world.community,
        latitude="31.199999",
        longitude="121.399999",
    )
    assert stored(bare) == expected("31.199999", "121.399999")
    assert stored(housed) == expected("31.231000", "121.471000")  # the building wins
    assert_true_everywhere()


def test_refresh_locations_repairs_bulk_updates(world: Any) -> None:
    people = [person(world, household=world.household) for _ in range(3)] + [person(world)]
    Building.objects.filter(pk=world.household.building_id).update(
        latitude="31.211111", longitude="121.422222"
    )
    Person.objects.filter(pk=people[-1].pk).update(latitude="31.5", longitude="121.5")
    # update() bypasses save(): stale until refreshed.
    assert stored(people[0]) == expected("31.231000", "121.471000")
    assert refresh_locations(Person.objects.filter(pk__in=[p.pk for p in people])) == 4
    assert stored(people[0]) == expected("31.211111", "121.422222")
    assert stored(people[-1]) == expected("31.500000", "121.500000")
    refresh_locations()
    assert_true_everywhere()


def test_the_data_migration_fills_the_columns(world: Any) -> None:
    person(world, household=world.household)
    person(world, latitude="31.3", longitude="121.2")
    person(world)
    person(world, community=None)
    Person.objects.update(loc_lat_e6=None, loc_lon_e6=None, loc_cell=None)
    migration = importlib.import_module("huzhu.accounts.migrations.0003_person_location")
    migration.fill_locations(apps, None)
    assert_true_everywhere()
    assert Person.objects.filter(loc_cell__isnull=False).count() >= 3


def test_saving_unrelated_fields_leaves_the_position_alone(world: Any) -> None:
    p = person(world, household=world.household)
    Person.objects.filter(pk=p.pk).update(loc_lat_e6=1)  # stale on purpose
    p.refresh_from_db()
    p.name = "改名"
    p.save(update_fields=["name"])  # e.g. last_login: no position field, no recomputation
    assert stored(p)[0] == 1
    p.save()
    assert stored(p) == expected("31.231000", "121.471000")
