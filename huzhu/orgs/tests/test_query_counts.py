"""Pinned query counts of the list pages and list endpoints (no N+1, ARCHITECTURE.md §8).

Each page is rendered with a few rows and with many more rows; the count must not grow, and
stays under a pinned ceiling.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.accounts.models import Household, Person, RoleGrant
from huzhu.orgs.models import Building, Community, Group, JobDescription

pytestmark = pytest.mark.django_db


def _count(fetch) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = fetch()
    assert resp.status_code == 200, resp.content[:300]
    return len(ctx.captured_queries)


def _grow_buildings(world, n: int) -> None:
    start = Building.objects.filter(community=world.community).count()
    for i in range(n):
        b = Building.objects.create(community=world.community, name=f"加建{start + i}号楼")
        Household.objects.create(community=world.community, building=b, room="101")


def _grow_households(world, n: int) -> None:
    start = Household.objects.filter(building=world.building).count()
    for i in range(n):
        h = Household.objects.create(
            community=world.community, building=world.building, room=f"{500 + start + i}"
        )
        p = Person(name=f"居民{start + i}", community=world.community, household=h)
        p.set_phone(f"1360000{start + i:04d}")
        p.set_unusable_password()
        p.save()


def _grow_groups(world, n: int) -> None:
    parent = world.group
    for i in range(n):
        g = Group.objects.create(
            community=world.community, parent=parent, name=f"小组{Group.objects.count()}-{i}"
        )
        JobDescription.objects.create(
            community=world.community, group=g, title=f"岗位{i}", purpose="p", duties="d"
        )
        parent = g if i % 2 else parent


def test_community_list(client, cast, world, django_assert_max_num_queries):
    client.force_login(cast.district_admin)
    url = reverse("orgs:community_list")
    few = _count(lambda: client.get(url))
    for i in range(12):
        c = Community.objects.create(alliance=world.alliance, name=f"新社区{i}")
        Building.objects.create(community=c, name="1号楼")
    assert _count(lambda: client.get(url)) == few
    with django_assert_max_num_queries(9):
        client.get(url)


def test_community_list_for_a_building_manager(client, cast, world, django_assert_max_num_queries):
    client.force_login(cast.building_manager)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("orgs:community_list")).status_code == 200


def test_community_detail(client, cast, world, settings, django_assert_max_num_queries):
    settings.HUZHU_PAGE_SIZE = 50
    client.force_login(cast.branch_head)
    url = reverse("orgs:community_detail", args=[world.community.pk])
    few = _count(lambda: client.get(url))
    _grow_buildings(world, 20)
    assert _count(lambda: client.get(url)) == few
    with django_assert_max_num_queries(7):
        client.get(url)


def test_building_detail(client, cast, world, settings, django_assert_max_num_queries):
    settings.HUZHU_PAGE_SIZE = 50
    client.force_login(cast.building_manager)
    url = reverse("orgs:building_detail", args=[world.building.pk])
    few = _count(lambda: client.get(url))
    _grow_households(world, 20)
    assert _count(lambda: client.get(url)) == few
    with django_assert_max_num_queries(7):
        client.get(url)


def test_group_list(client, cast, world, django_assert_max_num_queries):
    client.force_login(cast.branch_head)
    url = reverse("orgs:group_list", args=[world.community.pk])
    few = _count(lambda: client.get(url))
    _grow_groups(world, 20)
    assert _count(lambda: client.get(url)) == few
    with django_assert_max_num_queries(7):
        client.get(url)


def test_group_detail(client, cast, world, django_assert_max_num_queries):
    client.force_login(cast.branch_head)
    url = reverse("orgs:group_detail", args=[world.group.pk])
    few = _count(lambda: client.get(url))
    _grow_groups(world, 10)
    for i in range(10):
        p = Person(name=f"组员{i}", community=world.community)
        p.set_phone(f"1350000{i:04d}")
        p.set_unusable_password()
        p.save()
        RoleGrant.objects.create(
            person=p,
            role="group_member",
            scope_kind="group",
            community=world.community,
            group=world.group,
        )
    assert _count(lambda: client.get(url)) == few
    with django_assert_max_num_queries(8):
        client.get(url)


def test_settings_page(client, cast, world, django_assert_max_num_queries):
    client.force_login(cast.branch_head)
    with django_assert_max_num_queries(10):
        assert (
            client.get(reverse("orgs:building_settings", args=[world.building.pk])).status_code
            == 200
        )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/communities",
        "/api/v1/communities/{community}/buildings",
        "/api/v1/buildings/{building}/households",
        "/api/v1/communities/{community}/groups",
        "/api/v1/groups/{group}",
        "/api/v1/communities/{community}/settings",
    ],
)
def test_api_lists(api, cast, world, path, django_assert_max_num_queries):
    url = path.format(
        community=world.community.pk, building=world.building.pk, group=world.group.pk
    )
    api(cast.district_admin, "get", url)  # issues the token
    few = _count(lambda: api(cast.district_admin, "get", url))
    for i in range(5):
        Community.objects.create(alliance=world.alliance, name=f"新社区{i}")
    _grow_buildings(world, 10)
    _grow_households(world, 10)
    _grow_groups(world, 10)
    assert _count(lambda: api(cast.district_admin, "get", url)) == few
    with django_assert_max_num_queries(8):
        api(cast.district_admin, "get", url)
