"""Workflows through the orgs API: same scope rules and actions as the pages."""

from __future__ import annotations

import pytest

from huzhu.accounts.models import Household
from huzhu.audit.models import AuditEntry
from huzhu.orgs.models import Building, Group, SettingOverride
from huzhu.orgs.queries import get_setting

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def test_openapi_schema_lists_the_orgs_operations(api, world):
    resp = api(None, "get", f"{V1}/openapi.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    for path in (
        "/api/v1/communities",
        "/api/v1/communities/{community_id}",
        "/api/v1/communities/{community_id}/buildings",
        "/api/v1/buildings/{building_id}",
        "/api/v1/buildings/{building_id}/households",
        "/api/v1/communities/{community_id}/groups",
        "/api/v1/groups/{group_id}",
        "/api/v1/communities/{community_id}/settings",
        "/api/v1/communities/{community_id}/settings/{key}",
    ):
        assert path in paths, path
    assert "address_detail" not in str(resp.json()["components"]["schemas"]["HouseholdOut"])


def test_anonymous_gets_401(api, world):
    resp = api(None, "get", f"{V1}/communities")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthenticated"


# --- communities ---------------------------------------------------------------------------


def test_list_communities_is_scoped_and_paginated(api, cast, world):
    own = api(cast.branch_head, "get", f"{V1}/communities").json()
    assert [c["name"] for c in own["items"]] == ["阳光小区"]
    assert own["items"][0]["building_count"] == 2
    assert own["meta"] == {"page": 1, "page_size": 25, "total": 1}
    page = api(cast.district_admin, "get", f"{V1}/communities?page=2&page_size=1").json()
    assert page["meta"]["total"] == 2 and [c["name"] for c in page["items"]] == ["月光小区"]
    assert api(cast.volunteer, "get", f"{V1}/communities").json()["items"] == []


@pytest.mark.parametrize("query", ["page_size=0", "page_size=201", "page=0", "page=x"])
def test_bad_paging_is_a_422_envelope(api, cast, world, query):
    resp = api(cast.branch_head, "get", f"{V1}/communities?{query}")
    assert resp.status_code == 422
    assert resp.json()["error"]["message"] == "提交的数据格式不正确。"


def test_page_past_the_end_is_empty(api, cast, world):
    resp = api(cast.branch_head, "get", f"{V1}/communities/{world.community.pk}/buildings?page=9")
    assert resp.status_code == 200
    assert resp.json() == {"items": [], "meta": {"page": 9, "page_size": 25, "total": 2}}


def test_huge_ids_and_nul_bytes_are_rejected(api, cast, world):
    assert api(cast.branch_head, "get", f"{V1}/communities/{2**70}").status_code == 422
    resp = api(
        cast.branch_head,
        "post",
        f"{V1}/communities/{world.community.pk}/buildings",
        {"name": "3\x00号楼"},
    )
    assert resp.status_code == 422


@pytest.mark.parametrize(
    "role, status",
    [
        ("branch_head", 200),
        ("finance_officer", 200),
        ("volunteer", 403),
        ("building_manager", 403),
        ("outsider", 404),
    ],
)
def test_get_community_permissions(api, cast, world, role, status):
    resp = api(cast[role], "get", f"{V1}/communities/{world.community.pk}")
    assert resp.status_code == status
    if status == 200:
        assert resp.json()["latitude"] == 31.23
    else:
        assert resp.json()["error"]["code"] == {403: "forbidden", 404: "not_found"}[status]


def test_patch_community(api, cast, world):
    url = f"{V1}/communities/{world.community.pk}"
    resp = api(cast.branch_head, "patch", url, {"district": "静安区"})
    assert resp.status_code == 200
    assert resp.json()["district"] == "静安区" and resp.json()["name"] == "阳光小区"
    assert AuditEntry.objects.filter(code="orgs.community.updated").count() == 1
    dup = api(cast.branch_head, "patch", url, {"name": "月光小区"})
    assert dup.status_code == 409
    assert dup.json()["error"]["message"] == "同名社区已存在。"
    assert dup.json()["error"]["details"] == {"field": "name"}
    long = api(cast.branch_head, "patch", url, {"name": "长" * 101})
    assert long.status_code == 422
    assert api(cast.volunteer, "patch", url, {"district": "x"}).status_code == 403
    assert api(cast.outsider, "patch", url, {"district": "x"}).status_code == 404
    world.community.refresh_from_db()
    assert world.community.district == "静安区"


# --- buildings and households --------------------------------------------------------------


def test_buildings_list_and_create(api, cast, world):
    url = f"{V1}/communities/{world.community.pk}/buildings"
    listed = api(cast.branch_head, "get", f"{url}?page_size=1").json()
    assert listed["meta"]["total"] == 2 and listed["items"][0]["name"] == "1号楼"
    assert listed["items"][0]["household_count"] == 1
    resp = api(cast.branch_head, "post", url, {"name": "3号楼", "floors": 11})
    assert resp.status_code == 201
    assert resp.json()["household_count"] == 0
    assert Building.objects.get(pk=resp.json()["id"]).floors == 11
    dup = api(cast.branch_head, "post", url, {"name": "3号楼"})
    assert dup.status_code == 409 and dup.json()["error"]["message"] == "该社区已有同名楼栋。"
    assert api(cast.branch_head, "post", url, {"name": "4号楼", "floors": 0}).status_code == 422
    assert api(cast.branch_head, "post", url, {"name": ""}).status_code == 422


@pytest.mark.parametrize(
    "role, status",
    [
        ("building_manager", 403),
        ("finance_officer", 403),
        ("outsider", 404),
    ],
)
def test_create_building_refused(api, cast, world, role, status):
    resp = api(
        cast[role], "post", f"{V1}/communities/{world.community.pk}/buildings", {"name": "越权楼"}
    )
    assert resp.status_code == status
    assert not Building.objects.filter(name="越权楼").exists()


def test_get_and_patch_building(api, cast, world):
    url = f"{V1}/buildings/{world.building.pk}"
    assert api(cast.building_manager, "get", url).json()["name"] == "1号楼"
    assert api(cast.building_manager, "patch", url, {"floors": 7}).status_code == 403
    resp = api(cast.branch_head, "patch", url, {"floors": 7})
    assert resp.status_code == 200 and resp.json()["floors"] == 7
    assert resp.json()["latitude"] == 31.231  # untouched fields are kept
    other = f"{V1}/buildings/{world.other_building.pk}"
    assert api(cast.building_manager, "get", other).status_code == 404
    assert api(cast.branch_head, "patch", other, {"floors": 7}).status_code == 404


def test_households_never_carry_the_address(api, cast, world):
    url = f"{V1}/buildings/{world.building.pk}/households"
    listed = api(cast.building_manager, "get", url)
    assert listed.status_code == 200
    item = listed.json()["items"][0]
    assert item["room"] == "101" and item["resident_count"] == 1
    assert "address_detail" not in item and "阳光路" not in listed.content.decode()
    resp = api(
        cast.building_manager,
        "post",
        url,
        {"room": "102", "floor": 1, "address_detail": "阳光路1号1号楼102室"},
    )
    assert resp.status_code == 201
    assert "address_detail" not in resp.json() and "阳光路" not in resp.content.decode()
    assert Household.objects.get(pk=resp.json()["id"]).address_detail == "阳光路1号1号楼102室"


def test_household_errors(api, cast, world):
    url = f"{V1}/buildings/{world.building.pk}/households"
    dup = api(cast.building_manager, "post", url, {"room": "101"})
    assert dup.status_code == 409 and dup.json()["error"]["message"] == "该楼栋已有此房号。"
    high = api(cast.building_manager, "post", url, {"room": "901", "floor": 9})
    assert high.status_code == 400
    assert high.json()["error"]["message"] == "楼层超出该楼栋的范围。"
    assert api(cast.broker, "post", url, {"room": "909"}).status_code == 403
    assert api(cast.broker, "get", url).status_code == 200
    assert api(cast.volunteer, "get", url).status_code == 403
    other = f"{V1}/buildings/{world.other_building.pk}/households"
    assert api(cast.building_manager, "post", other, {"room": "909"}).status_code == 404


# --- groups --------------------------------------------------------------------------------


def test_groups_list_and_detail(api, cast, world):
    groups = api(cast.branch_head, "get", f"{V1}/communities/{world.community.pk}/groups").json()
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"客服关爱", "电话回访"}
    assert by_name["电话回访"]["parent_id"] == world.group.pk
    detail = api(cast.group_member, "get", f"{V1}/groups/{world.group.pk}").json()
    assert {m["role"] for m in detail["members"]} == {"group_member", "group_leader"}
    assert [c["name"] for c in detail["children"]] == ["电话回访"]
    assert (
        api(cast.group_member, "get", f"{V1}/communities/{world.community.pk}/groups").status_code
        == 403
    )
    assert api(cast.outsider, "get", f"{V1}/groups/{world.group.pk}").status_code == 404


def test_create_groups(api, cast, world):
    url = f"{V1}/communities/{world.community.pk}/groups"
    resp = api(cast.branch_head, "post", url, {"name": "物流组", "building_id": world.building.pk})
    assert resp.status_code == 201 and resp.json()["building_id"] == world.building.pk
    sub = api(cast.group_leader, "post", url, {"name": "上门探访", "parent_id": world.group.pk})
    assert sub.status_code == 201 and sub.json()["parent_id"] == world.group.pk
    assert api(cast.group_leader, "post", url, {"name": "自立门户"}).status_code == 403
    dup = api(cast.branch_head, "post", url, {"name": "电话回访", "parent_id": world.group.pk})
    assert dup.status_code == 409
    assert dup.json()["error"]["message"] == "同一上级组下已有同名小组。"
    foreign = api(
        cast.branch_head, "post", url, {"name": "外援", "parent_id": world.other_group.pk}
    )
    assert foreign.status_code == 400
    assert foreign.json()["error"]["message"] == "上级组不属于该社区。"
    assert api(cast.outsider, "post", url, {"name": "外援"}).status_code == 404
    assert (
        api(cast.outsider, "post", url, {"name": "外援", "parent_id": world.group.pk}).status_code
        == 404
    )
    assert not Group.objects.filter(name__in=["自立门户", "外援"]).exists()


# --- settings ------------------------------------------------------------------------------


def test_settings_override_clear_and_errors(api, cast, world):
    base = f"{V1}/communities/{world.community.pk}/settings"
    rows = api(cast.branch_head, "get", base).json()
    row = next(r for r in rows if r["key"] == "needs.review_minutes")
    assert row == {
        **row,
        "value": "30",
        "inherited": "30",
        "overridden": False,
        "label": "需求审核时限",
        "unit": "分钟",
        "group": "服务流程",
    }
    put = api(cast.branch_head, "put", f"{base}/needs.review_minutes", {"value": "45"})
    assert put.status_code == 200
    assert put.json()["value"] == "45" and put.json()["overridden"] is True
    assert get_setting("needs.review_minutes", world.building) == 45
    decimal = api(cast.branch_head, "put", f"{base}/timebank.yuan_per_point", {"value": "2.5"})
    assert decimal.json()["value"] == "2.5"
    bad = api(cast.branch_head, "put", f"{base}/needs.review_minutes", {"value": "abc"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "“需求审核时限”的值无效，请输入数字。"
    unknown = api(cast.branch_head, "put", f"{base}/no.such.key", {"value": "1"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "core.setting.unknown"
    cleared = api(cast.branch_head, "put", f"{base}/needs.review_minutes", {"value": None})
    assert cleared.status_code == 200
    assert cleared.json()["value"] == "30" and cleared.json()["overridden"] is False
    assert SettingOverride.objects.count() == 1  # only yuan_per_point is left


@pytest.mark.parametrize(
    "role, status",
    [
        ("finance_officer", 403),
        ("building_manager", 403),
        ("outsider", 404),
    ],
)
def test_settings_refused(api, cast, world, role, status):
    base = f"{V1}/communities/{world.community.pk}/settings"
    assert api(cast[role], "get", base).status_code == status
    assert (
        api(cast[role], "put", f"{base}/needs.review_minutes", {"value": "5"}).status_code == status
    )
    assert not SettingOverride.objects.exists()
