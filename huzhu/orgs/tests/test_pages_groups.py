"""Workflows through the pages: the group tree, groups grown bottom-up, job descriptions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from huzhu.audit.models import AuditEntry
from huzhu.orgs.models import Community, Group, JobDescription

pytestmark = pytest.mark.django_db


def _job(world, group=None, role="", title="回访专员"):
    return JobDescription.objects.create(
        community=world.community,
        group=group,
        role=role,
        title=title,
        purpose="关心独居老人",
        duties="每周电话回访",
        workflow="1. 拨打\n2. 记录",
    )


def test_group_list_shows_the_tree_and_jobs(login, cast, world):
    _job(world, role="building_manager", title="楼长岗位")
    body = (
        login(cast.branch_head)
        .get(reverse("orgs:group_list", args=[world.community.pk]))
        .content.decode()
    )
    assert "客服关爱" in body and "电话回访" in body and "物流组" not in body
    # the sub-group is nested inside its parent's list item
    assert body.index("客服关爱") < body.index("电话回访")
    assert body.count("<ul>") >= 2
    assert "楼长岗位" in body and "楼长" in body
    assert reverse("orgs:group_create", args=[world.community.pk]) in body


def test_group_list_empty_states(login, cast, world):
    empty = Community.objects.create(alliance=world.alliance, name="新小区")
    body = (
        login(cast.district_admin).get(reverse("orgs:group_list", args=[empty.pk])).content.decode()
    )
    assert "还没有职能组" in body and "还没有岗位说明书" in body


@pytest.mark.parametrize(
    "role, status",
    [
        ("branch_head", 200),
        ("district_admin", 200),
        ("group_member", 403),
        ("finance_officer", 403),
        ("outsider", 404),
    ],
)
def test_group_list_permissions(login, cast, world, role, status):
    resp = login(cast[role]).get(reverse("orgs:group_list", args=[world.community.pk]))
    assert resp.status_code == status


def test_group_detail_lists_members_subgroups_and_jobs(login, cast, world):
    _job(world, group=world.group, title="客服专员")
    body = (
        login(cast.group_member)
        .get(reverse("orgs:group_detail", args=[world.group.pk]))
        .content.decode()
    )
    assert cast.group_member.name in body and cast.group_leader.name in body
    assert "组长" in body and "组员" in body
    assert cast.branch_head.name not in body
    assert "电话回访" in body and "客服专员" in body
    assert reverse("orgs:group_edit", args=[world.group.pk]) not in body  # member: read only


@pytest.mark.parametrize(
    "role, group, status",
    [
        ("group_member", "group", 200),
        ("group_member", "subgroup", 200),
        ("group_leader", "subgroup", 200),
        ("branch_head", "subgroup", 200),
        ("volunteer", "group", 403),
        ("building_manager", "group", 403),
        ("outsider", "group", 404),
        ("branch_head", "other_group", 404),
        ("district_admin", "other_group", 200),
    ],
)
def test_group_detail_permissions(login, cast, world, role, group, status):
    resp = login(cast[role]).get(reverse("orgs:group_detail", args=[getattr(world, group).pk]))
    assert resp.status_code == status


def test_sub_group_has_an_empty_member_list(login, cast, world):
    body = (
        login(cast.branch_head)
        .get(reverse("orgs:group_detail", args=[world.subgroup.pk]))
        .content.decode()
    )
    assert "还没有成员" in body and "还没有子组" in body and "还没有岗位说明书" in body


def test_branch_head_creates_group_with_parent_and_building(login, cast, world):
    c = login(cast.branch_head)
    url = reverse("orgs:group_create", args=[world.community.pk])
    assert c.get(url).status_code == 200
    resp = c.post(
        url,
        {
            "name": "物资组",
            "parent": world.group.pk,
            "building": world.building.pk,
            "description": "分发物资",
        },
    )
    group = Group.objects.get(name="物资组")
    assert resp.status_code == 302
    assert resp["Location"] == reverse("orgs:group_detail", args=[group.pk])
    assert group.parent == world.group and group.building == world.building
    assert AuditEntry.objects.filter(code="orgs.group.created").count() == 1


def test_duplicate_group_name_under_parent_in_chinese(login, cast, world):
    resp = login(cast.branch_head).post(
        reverse("orgs:group_create", args=[world.community.pk]),
        {"name": "电话回访", "parent": world.group.pk},
    )
    assert resp.status_code == 200
    assert "同一上级组下已有同名小组。" in resp.content.decode()


def test_group_leader_grows_a_sub_group_under_own_group(login, cast, world):
    c = login(cast.group_leader)
    url = reverse("orgs:group_create", args=[world.community.pk])
    form = c.get(url, {"parent": world.group.pk})
    assert form.status_code == 200
    top = c.post(url, {"name": "自立门户"})  # a top-level group needs the community permission
    assert top.status_code == 200 and "这个字段是必填项。" in top.content.decode()
    resp = c.post(url, {"name": "上门探访", "parent": world.group.pk})
    assert resp.status_code == 302
    assert Group.objects.get(name="上门探访").parent == world.group


def test_group_create_permissions(client, cast, world):
    url = reverse("orgs:group_create", args=[world.community.pk])
    client.force_login(cast.group_member)
    assert client.get(url).status_code == 403
    client.force_login(cast.volunteer)
    assert client.post(url, {"name": "x"}).status_code == 403
    client.force_login(cast.outsider)
    assert client.post(url, {"name": "x"}).status_code == 404
    assert not Group.objects.filter(name="x").exists()


def test_group_leader_edits_group(login, cast, world):
    c = login(cast.group_leader)
    url = reverse("orgs:group_edit", args=[world.group.pk])
    assert c.get(url).status_code == 200
    resp = c.post(url, {"name": "客服关爱组", "description": "关心独居老人"})
    assert resp.status_code == 302
    world.group.refresh_from_db()
    assert world.group.name == "客服关爱组"
    assert AuditEntry.objects.filter(code="orgs.group.updated").count() == 1


def test_group_edit_permissions(client, cast, world):
    client.force_login(cast.group_member)
    assert client.get(reverse("orgs:group_edit", args=[world.group.pk])).status_code == 403
    client.force_login(cast.group_leader)
    assert client.get(reverse("orgs:group_edit", args=[world.other_group.pk])).status_code == 404


# --- job descriptions ----------------------------------------------------------------------


def test_branch_head_writes_a_role_job_description(login, cast, world):
    c = login(cast.branch_head)
    url = reverse("orgs:job_create", args=[world.community.pk])
    assert c.get(url).status_code == 200
    resp = c.post(
        url,
        {
            "role": "building_manager",
            "title": "楼长",
            "purpose": "守护一栋楼",
            "duties": "审核需求\n回访",
            "workflow": "",
            "howto": "手机上操作",
        },
    )
    job = JobDescription.objects.get(title="楼长")
    assert resp.status_code == 302
    assert resp["Location"] == reverse("orgs:job_detail", args=[job.pk])
    body = c.get(resp["Location"]).content.decode()
    assert "守护一栋楼" in body and "审核需求<br>回访" in body and "手机上操作" in body
    assert AuditEntry.objects.filter(code="orgs.job.saved").count() == 1


def test_job_needs_group_or_role_in_chinese(login, cast, world):
    resp = login(cast.branch_head).post(
        reverse("orgs:job_create", args=[world.community.pk]),
        {"title": "无主岗位", "purpose": "p", "duties": "d"},
    )
    assert resp.status_code == 200
    assert "请选择职能组或角色。" in resp.content.decode()
    assert not JobDescription.objects.filter(title="无主岗位").exists()


def test_group_leader_writes_and_edits_job_for_own_group(login, cast, world):
    c = login(cast.group_leader)
    url = reverse("orgs:job_create", args=[world.community.pk])
    assert c.get(url, {"group": world.group.pk}).status_code == 200
    resp = c.post(
        url, {"group": world.subgroup.pk, "title": "回访员", "purpose": "p", "duties": "d"}
    )
    assert resp.status_code == 302
    job = JobDescription.objects.get(title="回访员")
    edit = reverse("orgs:job_edit", args=[job.pk])
    resp = c.post(
        edit,
        {"group": world.subgroup.pk, "title": "电话回访员", "purpose": "p", "duties": "每周两次"},
    )
    assert resp.status_code == 302
    job.refresh_from_db()
    assert job.title == "电话回访员" and job.duties == "每周两次"


@pytest.mark.parametrize(
    "role, kind, status",
    [
        ("group_member", "group", 200),
        ("group_member", "role", 403),
        ("branch_head", "role", 200),
        ("branch_head", "group", 200),
        ("volunteer", "group", 403),
        ("outsider", "group", 404),
        ("outsider", "role", 404),
    ],
)
def test_job_detail_permissions(login, cast, world, role, kind, status):
    job = _job(world, group=world.group) if kind == "group" else _job(world, role="volunteer")
    assert login(cast[role]).get(reverse("orgs:job_detail", args=[job.pk])).status_code == status


def test_job_edit_permissions(client, cast, world):
    role_job = _job(world, role="volunteer")
    group_job = _job(world, group=world.group)
    client.force_login(cast.group_leader)
    assert client.get(reverse("orgs:job_edit", args=[role_job.pk])).status_code == 403
    assert client.get(reverse("orgs:job_edit", args=[group_job.pk])).status_code == 200
    client.force_login(cast.group_member)
    assert client.get(reverse("orgs:job_edit", args=[group_job.pk])).status_code == 403
    assert client.get(reverse("orgs:job_create", args=[world.community.pk])).status_code == 403
    client.force_login(cast.outsider)
    assert client.get(reverse("orgs:job_edit", args=[group_job.pk])).status_code == 404
