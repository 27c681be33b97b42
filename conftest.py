"""Shared fixtures: a small world of two communities and a named cast per role."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the
# live server thread are safe, this only silences Django's async-context guard.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "huzhu-test-pass-1"  # noqa: S105


@dataclass
class World:
    alliance: Any
    community: Any
    other_community: Any
    building: Any
    other_building: Any
    household: Any
    other_household: Any
    group: Any
    subgroup: Any
    other_group: Any


@pytest.fixture
def world(db: Any) -> World:
    from huzhu.accounts.models import Household
    from huzhu.orgs.models import Alliance, Building, Community, Group

    alliance = Alliance.objects.create(name="测试联盟", name_en="Test Alliance")
    community = Community.objects.create(
        alliance=alliance,
        name="阳光小区",
        name_en="Sunshine",
        latitude="31.230000",
        longitude="121.470000",
    )
    other = Community.objects.create(alliance=alliance, name="月光小区", name_en="Moonlight")
    building = Building.objects.create(
        community=community, name="1号楼", floors=6, latitude="31.231000", longitude="121.471000"
    )
    building2 = Building.objects.create(community=community, name="2号楼", floors=6)
    other_building = Building.objects.create(community=other, name="9号楼", floors=6)
    household = Household.objects.create(
        community=community,
        building=building,
        room="101",
        floor=1,
        address_detail="阳光路1号1号楼101室",
    )
    Household.objects.create(community=community, building=building2, room="201", floor=2)
    other_household = Household.objects.create(
        community=other, building=other_building, room="901", floor=9
    )
    group = Group.objects.create(community=community, name="客服关爱", name_en="Care")
    subgroup = Group.objects.create(community=community, parent=group, name="电话回访")
    other_group = Group.objects.create(community=other, name="物流组")
    return World(
        alliance,
        community,
        other,
        building,
        other_building,
        household,
        other_household,
        group,
        subgroup,
        other_group,
    )


class Cast(dict[str, Any]):
    """Named people, one per role; ``cast.branch_head`` or ``cast['branch_head']``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


ROLE_PHONES = {
    "resident": "13800000001",
    "volunteer": "13800000002",
    "building_manager": "13800000003",
    "group_member": "13800000004",
    "group_leader": "13800000005",
    "broker": "13800000006",
    "branch_head": "13800000007",
    "finance_officer": "13800000008",
    "merchant": "13800000009",
    "district_admin": "13800000010",
    "outsider": "13900000099",
}


@pytest.fixture
def cast(world: World, django_db_blocker: Any) -> Cast:
    """One person per role in ``world.community`` plus an outsider in the other community."""
    from django.contrib.auth.hashers import make_password

    from huzhu.accounts.models import Person, RoleGrant

    password_hash = make_password(PASSWORD)
    people = Cast()
    for role, phone in ROLE_PHONES.items():
        community = world.other_community if role == "outsider" else world.community
        household = (
            world.household
            if role == "resident"
            else (world.other_household if role == "outsider" else None)
        )
        p = Person(name=role.replace("_", " ").title(), community=community, household=household)
        p.set_phone(phone)
        p.password = password_hash
        p.save()
        people[role] = p
        base = {"person": p}
        if role == "outsider":
            RoleGrant.objects.create(
                role="branch_head", scope_kind="community", community=world.other_community, **base
            )
            continue
        RoleGrant.objects.create(
            role="resident", scope_kind="community", community=world.community, **base
        )
        if role == "volunteer":
            RoleGrant.objects.create(
                role="volunteer", scope_kind="community", community=world.community, **base
            )
        elif role == "building_manager":
            RoleGrant.objects.create(
                role=role,
                scope_kind="building",
                community=world.community,
                building=world.building,
                **base,
            )
        elif role in ("group_member", "group_leader"):
            RoleGrant.objects.create(
                role=role, scope_kind="group", community=world.community, group=world.group, **base
            )
        elif role == "district_admin":
            RoleGrant.objects.create(
                role=role, scope_kind="alliance", alliance=world.alliance, **base
            )
        elif role != "resident":
            RoleGrant.objects.create(
                role=role, scope_kind="community", community=world.community, **base
            )
    return people


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    """Every test starts in the source language; a test that switches to English (a person's
    preference, Accept-Language) does not leak it into the next one."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _ledger_writer() -> Any:
    """The ledger's group-commit writer (huzhu.timebank.groupcommit) holds a database connection
    of its own once a test posts outside a transaction: stop it after every test, so that no
    connection outlives the test (the test database can be flushed and dropped)."""
    yield
    from huzhu.timebank import groupcommit

    groupcommit.stop()


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path_factory: Any) -> None:
    """Uploaded files (a need's evidence) go to a temporary MEDIA_ROOT, never to var/media."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
