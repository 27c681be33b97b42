"""The members pages through HTTP: the list (search, filters, paging, scope, export), join and
renew forms with their errors, member detail, 我的会员 and the leaderboard (issue 4, members)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from huzhu.audit.models import AuditEntry
from huzhu.timebank.actions import members as m
from huzhu.timebank.models import Leaderboard, Membership, MembershipPayment
from huzhu.timebank.tests.test_members import TODAY, join, make_person, override

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


def _as(client: Client, person: Any) -> Client:
    client.force_login(person)
    return client


def _join_form(phone: str, **extra: Any) -> dict[str, Any]:
    return {
        "phone": phone,
        "tier": "trial",
        "amount": "100.00",
        "method": "cash",
        "receipt_number": "P-001",
        "paid_on": TODAY.isoformat(),
        "referral_code": "",
        "idempotency_key": "form-key-1",
        **extra,
    }


# --- list and export -------------------------------------------------------------------------


def test_list_search_filter_and_scope(client: Client, cast: Any, world: Any) -> None:
    join(cast.finance_officer, cast.resident)  # building 1
    other_building = make_person(world, "王五")
    join(cast.finance_officer, other_building, "cocreate")
    soon = make_person(world, "赵六")
    join(cast.finance_officer, soon, paid_on=dt.date(2025, 3, 20))  # ends 2026-03-19
    url = reverse("timebank:member_list")
    page = _as(client, cast.finance_officer).get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert all(name in body for name in ("Resident", "王五", "赵六"))
    assert "王五" in client.get(url, {"q": "王"}).content.decode()
    assert "赵六" not in client.get(url, {"q": "王"}).content.decode()
    cocreate = client.get(url, {"tier": "cocreate"}).content.decode()
    assert "王五" in cocreate and "Resident" not in cocreate
    expiring = client.get(url, {"expiring": "on"}).content.decode()
    assert "赵六" in expiring and "王五" not in expiring
    assert "没有符合条件的会员" in client.get(url, {"q": "无此人"}).content.decode()
    # A building manager sees the members of their building only.
    mine = _as(client, cast.building_manager).get(url).content.decode()
    assert "Resident" in mine and "王五" not in mine


def test_list_empty_state_and_paging(client: Client, cast: Any, world: Any) -> None:
    url = reverse("timebank:member_list")
    assert "还没有会员" in _as(client, cast.branch_head).get(url).content.decode()
    for i in range(3):
        join(cast.finance_officer, make_person(world, f"会员{i}"))
    with override_settings(HUZHU_PAGE_SIZE=2):
        first = client.get(url).content.decode()
        second = client.get(url, {"page": 2}).content.decode()
    assert "第 1 / 2 页" in first and 'rel="next"' in first
    assert "第 2 / 2 页" in second


def test_list_query_count_is_fixed(
    client: Client, cast: Any, world: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(5):
        join(cast.finance_officer, make_person(world, f"会员{i}", household=world.household))
    _as(client, cast.finance_officer)
    url = reverse("timebank:member_list")
    client.get(url)
    with django_assert_max_num_queries(6):  # session, user, grants, unread, count, page
        client.get(url)


def test_export_xlsx_is_audited_and_has_no_phone(client: Client, cast: Any, world: Any) -> None:
    from openpyxl import load_workbook

    join(cast.finance_officer, cast.resident)
    resp = _as(client, cast.finance_officer).get(reverse("timebank:member_export"))
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "姓名"
    assert rows[1][0] == "Resident" and rows[1][2] == "1号楼" and rows[1][3] == "体验会员"
    assert "13800000001" not in str(rows)
    assert AuditEntry.objects.filter(code="timebank.membership.exported").count() == 1


# --- join and renew --------------------------------------------------------------------------


def test_join_form_prefills_the_fee_and_joins(client: Client, cast: Any, world: Any) -> None:
    override(world.community, "members.trial_fee", "120")
    url = reverse("timebank:member_join")
    form = _as(client, cast.finance_officer).get(url).content.decode()
    assert 'value="120.00"' in form or 'value="120"' in form
    assert "trial:120" in form  # the amount follows the tier
    resp = client.post(url, _join_form("13800000001", amount="120"))
    membership = Membership.objects.get(person=cast.resident)
    assert resp.status_code == 302
    assert resp["Location"] == reverse("timebank:member_detail", args=[membership.pk])
    # The same form posted twice (double click) records one payment.
    client.post(url, _join_form("13800000001", amount="120"))
    assert MembershipPayment.objects.count() == 1


def test_join_form_shows_the_rule_broken(client: Client, cast: Any, world: Any) -> None:
    url = reverse("timebank:member_join")
    _as(client, cast.finance_officer)
    resp = client.post(url, _join_form("13800000001", amount="99"))
    assert resp.status_code == 200
    assert "体验会员年费为 100.00 元" in resp.content.decode()
    resp = client.post(url, _join_form("13999999999"))
    assert "找不到该手机号" in resp.content.decode()
    resp = client.post(url, _join_form("13900000099"))  # the outsider: another community
    assert "找不到该手机号" in resp.content.decode()
    resp = client.post(url, _join_form("13800000001", referral_code="NOPE2345"))
    assert "推荐码“NOPE2345”不存在" in resp.content.decode()
    resp = client.post(url, _join_form("13800000001", receipt_number=""))
    assert "errorlist" in resp.content.decode()
    assert not Membership.objects.exists()


def test_renew_form(client: Client, cast: Any) -> None:
    membership = join(cast.finance_officer, cast.resident)
    url = reverse("timebank:member_renew", args=[membership.pk])
    page = _as(client, cast.branch_head).get(url).content.decode()
    assert "为 Resident 续费" in page
    data = _join_form("", receipt_number="RN-1", idempotency_key="renew-form")
    data.pop("phone")
    data.pop("referral_code")
    resp = client.post(url, data)
    assert resp.status_code == 302
    membership.refresh_from_db()
    assert membership.ends_on == dt.date(2028, 3, 9)
    resp = client.post(url, {**data, "idempotency_key": "renew-2"})  # receipt reused
    assert "已登记过" in resp.content.decode()


def test_detail_shows_payments_levels_and_benefits(client: Client, cast: Any) -> None:
    membership = join(cast.finance_officer, cast.resident, "cocreate", receipt="D-77")
    page = _as(client, cast.building_manager).get(
        reverse("timebank:member_detail", args=[membership.pk])
    )
    body = page.content.decode()
    assert "D-77" in body and "1000.00" in body
    assert "第 1 位共创会员" in body and "免费体检" in body
    assert "138****0001" in body and "13800000001" not in body
    assert 'id="renew-link"' not in body  # a building manager does not record fees


# --- 我的会员 and the leaderboard -------------------------------------------------------------


def test_my_membership_for_a_non_member_shows_the_tiers(
    client: Client, cast: Any, world: Any
) -> None:
    override(world.community, "members.cocreate_first_n", 30)
    body = _as(client, cast.volunteer).get(reverse("timebank:my_membership")).content.decode()
    assert "你还不是会员" in body
    assert "100" in body and "1000" in body and "前 30 名共创会员" in body
    code = m.referral_code_for(cast.volunteer)
    assert code in body


def test_my_membership_shows_level_progress_and_referrals(
    client: Client, cast: Any, world: Any
) -> None:
    join(cast.finance_officer, cast.volunteer)
    code = m.referral_code_for(cast.volunteer)
    join(cast.finance_officer, make_person(world, "朋友"), referral_code=code)
    body = _as(client, cast.volunteer).get(reverse("timebank:my_membership")).content.decode()
    assert "体验会员" in body and "2027-03-09" in body
    assert "再服务 10.00 小时" in body
    assert "再推荐 2 人入会" in body
    assert "已有 1 人用你的推荐码入会" in body
    assert "优先服务" in body  # what the next level unlocks


def test_leaderboard_page(client: Client, cast: Any, world: Any) -> None:
    url = reverse("timebank:leaderboard")
    assert "排行榜尚未公布" in _as(client, cast.resident).get(url).content.decode()
    Leaderboard.objects.create(
        community=world.community,
        month=dt.date(2026, 1, 1),
        rows=[{"rank": 1, "building": "1号楼", "points": 700}],
        published_at=dt.datetime(2026, 2, 5, tzinfo=dt.UTC),
    )
    Leaderboard.objects.create(
        community=world.community,
        month=dt.date(2026, 2, 1),
        rows=[{"rank": 1, "building": "", "points": 250}],
        published_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
    )
    Leaderboard.objects.create(
        community=world.other_community,
        month=dt.date(2026, 2, 1),
        rows=[{"rank": 1, "building": "9号楼", "points": 999}],
        published_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
    )
    latest = client.get(url).content.decode()
    assert "2026-02 排行榜" in latest and "2.50" in latest and "未登记楼栋" in latest
    assert "9号楼" not in latest
    older = client.get(url, {"month": "2026-01"}).content.decode()
    assert "7.00" in older and "1号楼" in older
    assert "尚未公布" in client.get(url, {"month": "2025-12"}).content.decode()


# --- the permission matrix of these pages ------------------------------------------------------


def _matrix_cases() -> list[Any]:
    from tests.matrix_timebank.members import PAGE_RULES

    cases = []
    for name, rule in sorted(PAGE_RULES.items()):
        scopes = (True,) if rule.obj is None and rule.other_param is None else (True, False)
        cases += [pytest.param(name, own, id=f"{name}-{own}") for own in scopes]
    return cases


@pytest.mark.parametrize(("name", "own"), _matrix_cases())
def test_page_permission_matrix(
    name: str, own: bool, world: Any, cast: Any, client: Client
) -> None:
    """The matrix check of tests/test_permission_matrix.py for every members page (its own
    parametrisation is built before the time bank's page rules are merged in)."""
    from tests.test_permission_matrix import test_page_matrix as check_page

    check_page(name, own, world, cast, client)
