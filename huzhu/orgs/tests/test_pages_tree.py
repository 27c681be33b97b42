"""Workflows through the pages: communities, buildings, households and the audited reveal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from huzhu.accounts.models import Household
from huzhu.audit.models import AuditEntry
from huzhu.orgs.models import Building, Community

pytestmark = pytest.mark.django_db


def _codes() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("code", flat=True))


# --- community list ------------------------------------------------------------------------


def test_branch_head_lists_only_own_community(login, cast, world):
    resp = login(cast.branch_head).get(reverse("orgs:community_list"))
    assert resp.status_code == 200
    assert "阳光小区" in resp.content.decode()
    assert "月光小区" not in resp.content.decode()


def test_district_admin_lists_alliance_and_may_create(login, cast, world):
    body = login(cast.district_admin).get(reverse("orgs:community_list")).content.decode()
    assert "阳光小区" in body and "月光小区" in body
    assert reverse("orgs:community_create") in body


def test_building_manager_sees_own_building_and_group_member_own_group(client, cast, world):
    client.force_login(cast.building_manager)
    body = client.get(reverse("orgs:community_list")).content.decode()
    assert reverse("orgs:building_detail", args=[world.building.pk]) in body
    assert "2号楼" not in body
    client.force_login(cast.group_member)
    body = client.get(reverse("orgs:community_list")).content.decode()
    assert reverse("orgs:group_detail", args=[world.group.pk]) in body
    assert reverse("orgs:group_detail", args=[world.subgroup.pk]) in body


@pytest.mark.parametrize("role", ["resident", "volunteer", "merchant"])
def test_list_forbidden_without_any_view_permission(login, cast, world, role):
    assert login(cast[role]).get(reverse("orgs:community_list")).status_code == 403


def test_anonymous_is_sent_to_login(client, world):
    resp = client.get(reverse("orgs:community_list"))
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


# --- community create / edit / detail ------------------------------------------------------


def test_district_admin_creates_community(login, cast, world):
    c = login(cast.district_admin)
    assert c.get(reverse("orgs:community_create")).status_code == 200
    resp = c.post(
        reverse("orgs:community_create"),
        {
            "alliance": world.alliance.pk,
            "name": "星光小区",
            "district": "徐汇区",
            "latitude": "31.2",
            "longitude": "121.4",
        },
    )
    community = Community.objects.get(name="星光小区")
    assert resp.status_code == 302
    assert resp["Location"] == reverse("orgs:community_detail", args=[community.pk])
    assert "orgs.community.created" in _codes()
    follow = c.get(resp["Location"])
    assert "已新建社区“星光小区”。" in follow.content.decode()
    assert "还没有楼栋" in follow.content.decode()


def test_create_community_duplicate_name_shows_chinese_error(login, cast, world):
    resp = login(cast.district_admin).post(
        reverse("orgs:community_create"), {"alliance": world.alliance.pk, "name": "阳光小区"}
    )
    assert resp.status_code == 200
    assert "同名社区已存在。" in resp.content.decode()
    assert Community.objects.filter(name="阳光小区").count() == 1


def test_branch_head_cannot_create_community(login, cast, world):
    assert login(cast.branch_head).get(reverse("orgs:community_create")).status_code == 403


def test_branch_head_edits_community(login, cast, world):
    c = login(cast.branch_head)
    url = reverse("orgs:community_edit", args=[world.community.pk])
    form = c.get(url)
    assert form.status_code == 200 and "阳光小区" in form.content.decode()
    resp = c.post(
        url,
        {
            "name": "阳光花园",
            "name_en": "Sunshine",
            "district": "静安区",
            "address": "阳光路 1 号",
            "latitude": "31.23",
            "longitude": "121.47",
        },
    )
    assert resp.status_code == 302
    world.community.refresh_from_db()
    assert world.community.name == "阳光花园" and world.community.district == "静安区"
    assert "orgs.community.updated" in _codes()


def test_edit_community_half_coordinates_shows_action_error(login, cast, world):
    resp = login(cast.branch_head).post(
        reverse("orgs:community_edit", args=[world.community.pk]),
        {"name": "阳光小区", "latitude": "31.2", "longitude": ""},
    )
    assert resp.status_code == 200
    assert "经纬度格式不正确。" in resp.content.decode()


def test_edit_community_required_name(login, cast, world):
    resp = login(cast.branch_head).post(
        reverse("orgs:community_edit", args=[world.community.pk]), {"name": ""}
    )
    assert resp.status_code == 200
    assert "这个字段是必填项。" in resp.content.decode()


@pytest.mark.parametrize(
    "role, status",
    [
        ("branch_head", 200),
        ("finance_officer", 200),
        ("broker", 200),
        ("district_admin", 200),
        ("building_manager", 403),
        ("volunteer", 403),
        ("group_member", 403),
        ("outsider", 404),
    ],
)
def test_community_detail_permissions(login, cast, world, role, status):
    resp = login(cast[role]).get(reverse("orgs:community_detail", args=[world.community.pk]))
    assert resp.status_code == status


def test_community_edit_forbidden_for_finance_officer_and_hidden_from_outsider(client, cast, world):
    url = reverse("orgs:community_edit", args=[world.community.pk])
    client.force_login(cast.finance_officer)
    assert client.get(url).status_code == 403
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "抢注"}).status_code == 404
    world.community.refresh_from_db()
    assert world.community.name == "阳光小区"


def test_community_detail_search_and_pagination(login, cast, world, settings):
    settings.HUZHU_PAGE_SIZE = 2
    for i in range(3, 6):
        Building.objects.create(community=world.community, name=f"{i}号楼")
    c = login(cast.branch_head)
    url = reverse("orgs:community_detail", args=[world.community.pk])
    first = c.get(url).content.decode()
    assert "1号楼" in first and "3号楼" not in first and "第 1 / 3 页" in first
    third = c.get(url, {"page": 3}).content.decode()
    assert "5号楼" in third and "1号楼" not in third
    found = c.get(url, {"q": "4号"}).content.decode()
    assert "4号楼" in found and "1号楼" not in found
    none = c.get(url, {"q": "不存在"}).content.decode()
    assert "没有找到符合条件的楼栋" in none


# --- buildings -----------------------------------------------------------------------------


def test_branch_head_creates_and_edits_building(login, cast, world):
    c = login(cast.branch_head)
    resp = c.post(
        reverse("orgs:building_create", args=[world.community.pk]),
        {"name": "3号楼", "floors": "18"},
    )
    building = Building.objects.get(community=world.community, name="3号楼")
    assert resp.status_code == 302
    assert resp["Location"] == reverse("orgs:building_detail", args=[building.pk])
    assert "还没有住户" in c.get(resp["Location"]).content.decode()
    resp = c.post(
        reverse("orgs:building_edit", args=[building.pk]), {"name": "3号楼", "floors": "20"}
    )
    assert resp.status_code == 302
    building.refresh_from_db()
    assert building.floors == 20
    assert _codes()[-2:] == ["orgs.building.created", "orgs.building.updated"]


def test_duplicate_building_shows_chinese_error(login, cast, world):
    resp = login(cast.branch_head).post(
        reverse("orgs:building_create", args=[world.community.pk]), {"name": "1号楼", "floors": "6"}
    )
    assert resp.status_code == 200
    assert "该社区已有同名楼栋。" in resp.content.decode()


def test_building_floors_out_of_range(login, cast, world):
    resp = login(cast.branch_head).post(
        reverse("orgs:building_edit", args=[world.building.pk]), {"name": "1号楼", "floors": "0"}
    )
    assert resp.status_code == 200
    assert "确保该值大于或等于1。" in resp.content.decode()


def test_building_create_permissions(client, cast, world):
    url = reverse("orgs:building_create", args=[world.community.pk])
    client.force_login(cast.building_manager)
    assert client.get(url).status_code == 403
    client.force_login(cast.outsider)
    assert client.post(url, {"name": "X", "floors": "3"}).status_code == 404
    assert not Building.objects.filter(name="X").exists()
    other = reverse("orgs:building_edit", args=[world.other_building.pk])
    client.force_login(cast.branch_head)
    assert client.get(other).status_code == 404


@pytest.mark.parametrize(
    "role, building, status",
    [
        ("building_manager", "building", 200),
        ("building_manager", "other_building", 404),
        ("broker", "building", 200),
        ("volunteer", "building", 403),
        ("outsider", "building", 404),
        ("outsider", "other_building", 200),
    ],
)
def test_building_detail_permissions(login, cast, world, role, building, status):
    resp = login(cast[role]).get(
        reverse("orgs:building_detail", args=[getattr(world, building).pk])
    )
    assert resp.status_code == status


def test_building_manager_cannot_see_a_neighbouring_building(login, cast, world):
    building2 = Building.objects.get(community=world.community, name="2号楼")
    resp = login(cast.building_manager).get(reverse("orgs:building_detail", args=[building2.pk]))
    assert resp.status_code == 403


def test_building_detail_lists_households_with_residents_and_searches(login, cast, world, settings):
    settings.HUZHU_PAGE_SIZE = 2
    for room in ("102", "201", "202"):
        Household.objects.create(community=world.community, building=world.building, room=room)
    c = login(cast.building_manager)
    url = reverse("orgs:building_detail", args=[world.building.pk])
    body = c.get(url).content.decode()
    assert "101" in body and "102" in body and "201" not in body
    assert "阳光路1号" not in body  # the address detail is never listed
    assert "第 1 / 2 页" in body
    assert "201" in c.get(url, {"page": 2}).content.decode()
    found = c.get(url, {"q": "20"}).content.decode()
    assert "201" in found and "202" in found and "101" not in found


# --- households and the reveal -------------------------------------------------------------


def test_building_manager_creates_and_edits_household(login, cast, world):
    c = login(cast.building_manager)
    resp = c.post(
        reverse("orgs:household_create", args=[world.building.pk]),
        {"room": "302", "floor": "3", "address_detail": "阳光路1号1号楼302室"},
    )
    assert resp.status_code == 302
    household = Household.objects.get(building=world.building, room="302")
    assert household.address_detail == "阳光路1号1号楼302室"
    edit_url = reverse("orgs:household_edit", args=[household.pk])
    form = c.get(edit_url).content.decode()
    assert "302" in form and "阳光路1号1号楼302室" not in form
    resp = c.post(edit_url, {"room": "303", "floor": "3", "address_detail": ""})
    assert resp.status_code == 302
    household.refresh_from_db()
    assert household.room == "303"
    assert household.address_detail == "阳光路1号1号楼302室"  # empty = unchanged
    created = AuditEntry.objects.get(code="orgs.household.created")
    assert created.new_values["address_detail"] == "***"


def test_household_errors_in_chinese(login, cast, world):
    c = login(cast.building_manager)
    url = reverse("orgs:household_create", args=[world.building.pk])
    dup = c.post(url, {"room": "101"})
    assert dup.status_code == 200 and "该楼栋已有此房号。" in dup.content.decode()
    high = c.post(url, {"room": "999", "floor": "9"})
    assert high.status_code == 200 and "楼层超出该楼栋的范围。" in high.content.decode()


def test_household_create_permissions(client, cast, world):
    url = reverse("orgs:household_create", args=[world.building.pk])
    client.force_login(cast.broker)
    assert client.get(url).status_code == 403
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404
    client.force_login(cast.building_manager)
    other = reverse("orgs:household_edit", args=[world.other_household.pk])
    assert client.get(other).status_code == 404


def test_household_page_hides_address_and_reveal_writes_one_audit_entry(login, cast, world):
    c = login(cast.building_manager)
    page = c.get(reverse("orgs:household_detail", args=[world.household.pk]))
    assert page.status_code == 200
    assert "阳光路1号1号楼101室" not in page.content.decode()
    assert reverse("orgs:household_reveal", args=[world.household.pk]) in page.content.decode()
    before = AuditEntry.objects.count()
    resp = c.post(reverse("orgs:household_reveal", args=[world.household.pk]))
    assert resp.status_code == 200
    assert "阳光路1号1号楼101室" in resp.content.decode()
    assert "no-store" in resp["Cache-Control"]
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.get(code="accounts.pii.revealed")
    assert entry.actor_id == cast.building_manager.pk
    assert entry.target_id == str(world.household.pk)
    assert entry.new_values == {"field": "address_detail"}
    again = c.get(reverse("orgs:household_detail", args=[world.household.pk]))
    assert "阳光路1号1号楼101室" not in again.content.decode()


def test_reveal_is_post_only(login, cast, world):
    resp = login(cast.branch_head).get(reverse("orgs:household_reveal", args=[world.household.pk]))
    assert resp.status_code == 405
    assert not AuditEntry.objects.filter(code="accounts.pii.revealed").exists()


@pytest.mark.parametrize("role, status", [("broker", 403), ("volunteer", 403), ("outsider", 404)])
def test_reveal_refused_without_permission(login, cast, world, role, status):
    resp = login(cast[role]).post(reverse("orgs:household_reveal", args=[world.household.pk]))
    assert resp.status_code == status
    assert "阳光路1号" not in resp.content.decode()
    assert not AuditEntry.objects.filter(code="accounts.pii.revealed").exists()


def test_broker_sees_household_without_reveal_button(login, cast, world):
    body = (
        login(cast.broker)
        .get(reverse("orgs:household_detail", args=[world.household.pk]))
        .content.decode()
    )
    assert "仅授权人员可查看" in body
    assert reverse("orgs:household_reveal", args=[world.household.pk]) not in body
