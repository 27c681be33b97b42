"""Settings-as-data through the pages: override, clear, inheritance community → building."""

from __future__ import annotations

import pytest
from django.urls import reverse

from huzhu.audit.models import AuditEntry
from huzhu.orgs.models import SettingOverride
from huzhu.orgs.queries import get_setting

pytestmark = pytest.mark.django_db

KEY = "needs.review_minutes"


def _row(body: str, key: str = KEY) -> str:
    start = body.index(f'id="setting-{key}"')
    return body[start : body.index("</section>", start)]


def test_settings_page_lists_every_setting_grouped(login, cast, world):
    body = (
        login(cast.branch_head)
        .get(reverse("orgs:settings", args=[world.community.pk]))
        .content.decode()
    )
    for text in (
        "服务流程",
        "时间银行",
        "会员与财务",
        "活动与投诉",
        "需求审核时限",
        "分钟",
        "楼长须在此时间内审核新需求，超时上报。",
    ):
        assert text in body
    row = _row(body)
    assert "<strong>30</strong>" in row and "继承" in row


def test_community_override_and_clear(login, cast, world):
    c = login(cast.branch_head)
    url = reverse("orgs:settings", args=[world.community.pk])
    resp = c.post(url, {"key": KEY, "value": "45"})
    assert resp.status_code == 302 and resp["Location"] == f"{url}#setting-{KEY}"
    assert get_setting(KEY, world.community) == 45
    page = c.get(url).content.decode()
    assert "已保存设置。" in page
    row = _row(page)
    assert "<strong>45</strong>" in row and "本级已设置" in row and 'value="45"' in row
    resp = c.post(url, {"key": KEY, "value": "45", "clear": "1"})
    assert resp.status_code == 302
    assert get_setting(KEY, world.community) == 30
    assert "已恢复为继承的值。" in c.get(url).content.decode()
    codes = list(AuditEntry.objects.order_by("id").values_list("code", flat=True))
    assert codes == ["core.setting.changed", "core.setting.cleared"]


def test_empty_value_means_inherit(login, cast, world):
    c = login(cast.branch_head)
    url = reverse("orgs:settings", args=[world.community.pk])
    c.post(url, {"key": "timebank.yuan_per_point", "value": "2.5"})
    assert str(get_setting("timebank.yuan_per_point", world.community)) == "2.5"
    c.post(url, {"key": "timebank.yuan_per_point", "value": ""})
    assert not SettingOverride.objects.exists()


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "“需求审核时限”的值无效，请输入数字。"),
        ("0", "“需求审核时限”必须在 1 到 10080 之间。"),
    ],
)
def test_invalid_values_show_the_domain_message(login, cast, world, value, message):
    resp = login(cast.branch_head).post(
        reverse("orgs:settings", args=[world.community.pk]), {"key": KEY, "value": value}
    )
    assert resp.status_code == 200
    row = _row(resp.content.decode())
    assert message in row and f'value="{value}"' in row
    assert not SettingOverride.objects.exists()


def test_unknown_key_is_a_form_error(login, cast, world):
    resp = login(cast.branch_head).post(
        reverse("orgs:settings", args=[world.community.pk]), {"key": "nope", "value": "1"}
    )
    assert resp.status_code == 200
    assert "选择一个有效的选项" in resp.content.decode()
    assert not SettingOverride.objects.exists()


def test_building_inherits_from_community_and_overrides(login, cast, world):
    c = login(cast.branch_head)
    community_url = reverse("orgs:settings", args=[world.community.pk])
    building_url = reverse("orgs:building_settings", args=[world.building.pk])
    c.post(community_url, {"key": KEY, "value": "45"})
    row = _row(c.get(building_url).content.decode())
    assert "<strong>45</strong>" in row and "继承" in row and "本级已设置" not in row
    c.post(building_url, {"key": KEY, "value": "20"})
    assert get_setting(KEY, world.building) == 20
    assert get_setting(KEY, world.community) == 45
    row = _row(c.get(building_url).content.decode())
    assert "<strong>20</strong>" in row and "本级已设置" in row
    assert "45 分钟" in row  # the inherited value shown next to the own one
    c.post(building_url, {"key": KEY, "value": "", "clear": "1"})
    assert get_setting(KEY, world.building) == 45
    c.post(community_url, {"key": KEY, "value": "", "clear": "1"})
    assert get_setting(KEY, world.building) == 30


@pytest.mark.parametrize(
    "role, status",
    [
        ("branch_head", 200),
        ("district_admin", 200),
        ("finance_officer", 403),
        ("building_manager", 403),
        ("volunteer", 403),
        ("outsider", 404),
    ],
)
def test_settings_permissions(login, cast, world, role, status):
    c = login(cast[role])
    assert c.get(reverse("orgs:settings", args=[world.community.pk])).status_code == status
    assert c.get(reverse("orgs:building_settings", args=[world.building.pk])).status_code == status
    c.post(reverse("orgs:settings", args=[world.community.pk]), {"key": KEY, "value": "5"})
    assert SettingOverride.objects.exists() == (status == 200)


def test_other_communitys_settings_are_hidden(login, cast, world):
    c = login(cast.branch_head)
    assert c.get(reverse("orgs:settings", args=[world.other_community.pk])).status_code == 404
    assert (
        c.post(
            reverse("orgs:building_settings", args=[world.other_building.pk]),
            {"key": KEY, "value": "5"},
        ).status_code
        == 404
    )
