"""The merchant pages through the test client: the member's payment code, the till (scan →
amount → confirm → result, both sides), the branch head's merchants, agreements and staff, the
statements with export."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.audit.models import AuditEntry
from huzhu.notify.models import Notification
from huzhu.timebank.actions import merchants as m
from huzhu.timebank.models import Merchant, MerchantStatement, MerchantStatus, Redemption
from huzhu.timebank.tests.test_merchants import (
    _march_merchant,
    _spend,
    at,
    available,
    give_points,
    make_merchant,
)

pytestmark = pytest.mark.django_db

CODE_RE = re.compile(r'<code id="pay-code">([^<]+)</code>')
KEY_RE = re.compile(r'name="key" value="([0-9a-f]+)"')


def _code_of(client: Any, member: Any) -> str:
    client.force_login(member)
    resp = client.get(reverse("timebank:my_qr"))
    assert resp.status_code == 200
    match = CODE_RE.search(resp.content.decode())
    assert match
    return match.group(1)


def _key_of(resp: Any) -> str:
    match = KEY_RE.search(resp.content.decode())
    assert match
    return match.group(1)


# --- the member's payment code ---------------------------------------------------------------


def test_the_payment_code_page_shows_a_fresh_qr_the_code_and_the_points(
    client: Any, cast: Any
) -> None:
    give_points(cast.resident, 12_34)
    client.force_login(cast.resident)
    a = client.get(reverse("timebank:my_qr"))
    body = a.content.decode()
    assert a["Cache-Control"] == "no-store"
    assert "<svg" in body and 'id="pay-code"' in body
    assert "12.34" in body  # balance and available
    # static/js/timebank.js refreshes the page (data-refresh seconds) before the code expires
    assert "js/timebank.js" in body and 'data-refresh="' in body
    assert "http://" not in body.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", ""
    )
    b = client.get(reverse("timebank:my_qr"))
    assert CODE_RE.search(body).group(1) != CODE_RE.search(b.content.decode()).group(1)  # type: ignore[union-attr]


# --- the till --------------------------------------------------------------------------------


def test_the_till_scan_amount_confirm_result_on_both_sides(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    code = _code_of(client, cast.resident)

    client.force_login(cast.merchant)
    url = reverse("timebank:redeem", args=[merchant.pk])
    form = client.get(url)
    assert form.status_code == 200
    body = form.content.decode()
    assert 'id="scan-button"' in body and "js/timebank.js" in body  # the camera scan's script
    assert 'id="id_token"' in body and 'inputmode="decimal"' in body
    key = _key_of(form)

    confirm = client.post(url, {"token": code, "purchase": "60", "key": key, "step": "preview"})
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "确认抵扣" in page
    assert "30.00" in page and "10.00" in page
    assert cast.resident.name not in page  # only the masked name
    assert m.mask_name(cast.resident.name) in page
    assert not Redemption.objects.exists()  # the confirm screen writes nothing

    done = client.post(url, {"token": code, "purchase": "60", "key": key, "step": "confirm"})
    r = Redemption.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse(
        "timebank:redemption_detail", args=[r.pk]
    )
    assert (r.discount_fen, r.points) == (3000, 1000)
    assert available(cast.resident) == 90_00
    result = client.get(done["Location"]).content.decode()
    assert "积分抵扣成功" in result and "−30.00" in result and 'id="next-customer"' in result

    # A double tap on "confirm" posts once.
    again = client.post(url, {"token": code, "purchase": "60", "key": key, "step": "confirm"})
    assert again["Location"] == done["Location"] and Redemption.objects.count() == 1

    # The member's side: the same result page and a message in the inbox.
    client.force_login(cast.resident)
    mine = client.get(done["Location"]).content.decode()
    assert "−30.00" in mine and 'id="my-points"' in mine
    assert Notification.objects.filter(person=cast.resident, code=m.REDEEMED_EVENT).count() == 1


@pytest.mark.parametrize(
    ("purchase", "message"),
    [
        ("", "请输入消费金额。"),
        ("abc", "请输入正确的金额"),
        ("0", "消费金额必须大于零。"),
        ("-5", "消费金额必须大于零。"),
        ("1.234", "金额最多保留两位小数。"),
        ("60000", "消费金额不能超过"),
    ],
)
def test_the_amount_is_validated_with_clear_messages(
    client: Any, cast: Any, purchase: str, message: str
) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    code = _code_of(client, cast.resident)
    client.force_login(cast.merchant)
    resp = client.post(
        reverse("timebank:redeem", args=[merchant.pk]),
        {"token": code, "purchase": purchase, "key": "k", "step": "preview"},
    )
    assert resp.status_code == 200
    assert message in resp.content.decode()
    assert not Redemption.objects.exists()


def test_a_used_expired_or_bad_code_is_explained_at_the_till(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    url = reverse("timebank:redeem", args=[merchant.pk])
    code = _code_of(client, cast.resident)
    client.force_login(cast.merchant)
    client.post(url, {"token": code, "purchase": "6", "key": "a", "step": "confirm"})
    used = client.post(url, {"token": code, "purchase": "6", "key": "b", "step": "preview"})
    assert "该付款码已使用过" in used.content.decode()
    bad = client.post(url, {"token": "garbage", "purchase": "6", "key": "c", "step": "preview"})
    assert "付款码无效" in bad.content.decode()
    empty = client.post(url, {"token": "", "purchase": "6", "key": "c", "step": "preview"})
    assert "请扫描或输入会员的付款码。" in empty.content.decode()
    fresh = _code_of(client, cast.resident)
    client.force_login(cast.merchant)
    with time_machine.travel(dt.timedelta(seconds=200)):
        late = client.post(url, {"token": fresh, "purchase": "6", "key": "d", "step": "confirm"})
    assert "付款码已过期" in late.content.decode()
    assert Redemption.objects.count() == 1


def test_no_points_is_said_on_the_confirm_step(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast)
    code = _code_of(client, cast.resident)
    client.force_login(cast.merchant)
    resp = client.post(
        reverse("timebank:redeem", args=[merchant.pk]),
        {"token": code, "purchase": "60", "key": "k", "step": "preview"},
    )
    assert "没有可用积分" in resp.content.decode()


def test_back_from_confirm_keeps_the_inputs(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast)
    client.force_login(cast.merchant)
    resp = client.post(
        reverse("timebank:redeem", args=[merchant.pk]),
        {"token": "abc", "purchase": "42.50", "key": "k", "step": "edit"},
    )
    body = resp.content.decode()
    assert 'value="42.50"' in body and 'value="abc"' in body


def test_the_till_is_for_the_merchants_own_staff(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast, staff=None)
    client.force_login(cast.merchant)
    assert client.get(reverse("timebank:redeem", args=[merchant.pk])).status_code == 403
    merchant.staff.add(cast.merchant)
    assert client.get(reverse("timebank:redeem", args=[merchant.pk])).status_code == 200
    # "My merchants" takes a one-merchant staff member straight to the till.
    mine = client.get(reverse("timebank:merchant_mine"))
    assert mine.status_code == 302 and mine["Location"].endswith(
        f"/merchants/{merchant.pk}/redeem/"
    )
    listing = client.get(reverse("timebank:merchant_mine") + "?list=1")
    assert merchant.name in listing.content.decode()


def test_a_suspended_merchants_till_says_so(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    m.suspend_merchant(actor=cast.branch_head, merchant=merchant)
    code = _code_of(client, cast.resident)
    client.force_login(cast.merchant)
    resp = client.post(
        reverse("timebank:redeem", args=[merchant.pk]),
        {"token": code, "purchase": "60", "key": "k", "step": "preview"},
    )
    assert "该商户已暂停积分抵扣。" in resp.content.decode()


# --- the branch head's merchants -------------------------------------------------------------


def test_the_branch_head_signs_up_a_merchant_with_agreement_and_staff(
    client: Any, cast: Any, world: Any
) -> None:
    client.force_login(cast.branch_head)
    new = client.get(reverse("timebank:merchant_create"))
    key = _key_of(new)
    resp = client.post(
        reverse("timebank:merchant_create"),
        {"community": world.community.pk, "name": "老王面馆", "category": "餐饮", "key": key},
    )
    merchant = Merchant.objects.get(name="老王面馆")
    assert resp["Location"] == reverse("timebank:merchant_detail", args=[merchant.pk])
    # The same form posted twice makes one merchant.
    client.post(
        reverse("timebank:merchant_create"),
        {"community": world.community.pk, "name": "老王面馆", "category": "餐饮", "key": key},
    )
    assert Merchant.objects.filter(name="老王面馆").count() == 1
    detail = client.get(resp["Location"]).content.decode()
    assert "无生效协议" in detail and "还没有店员" in detail and "还没有积分抵扣记录" in detail

    agreement_url = reverse("timebank:merchant_agreement", args=[merchant.pk])
    bad = client.post(agreement_url, {"fee_percent": "6", "key": "a1"})
    assert "管理费比例须在 3% 到 5% 之间。" in bad.content.decode()
    ok = client.post(agreement_url, {"fee_percent": "3.5", "reference": "XY-1", "key": "a2"})
    assert ok.status_code == 302 and merchant.agreements.get().fee_percent == 3.5

    staff_url = reverse("timebank:merchant_staff_add", args=[merchant.pk])
    client.post(staff_url, {"phone": "13800000001", "key": "s1"})
    assert not merchant.staff.exists()  # the resident holds no merchant role
    client.post(staff_url, {"phone": "13800000009", "key": "s2"})
    assert list(merchant.staff.all()) == [cast.merchant]
    detail = client.get(reverse("timebank:merchant_detail", args=[merchant.pk])).content.decode()
    assert "管理费 3.50%" in detail and cast.merchant.name in detail

    edit_url = reverse("timebank:merchant_edit", args=[merchant.pk])
    client.post(edit_url, {"name": "王记面馆", "address": "阳光路2号", "key": "e1"})
    merchant.refresh_from_db()
    assert (merchant.name, merchant.address) == ("王记面馆", "阳光路2号")

    status_url = reverse("timebank:merchant_status", args=[merchant.pk])
    client.post(status_url, {"action": "suspend"})
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.SUSPENDED
    client.post(status_url, {"action": "reactivate"})
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE

    client.post(
        reverse("timebank:merchant_staff_remove", args=[merchant.pk]), {"person": cast.merchant.pk}
    )
    assert not merchant.staff.exists()
    assert AuditEntry.objects.filter(code__startswith="timebank.merchant.").count() == 7


def test_the_merchant_list_filters_and_has_a_fixed_number_of_queries(
    client: Any, cast: Any, world: Any
) -> None:
    client.force_login(cast.branch_head)
    empty = client.get(reverse("timebank:merchant_list")).content.decode()
    assert "还没有合作商户" in empty
    for i in range(3):
        make_merchant(cast, name=f"店{i}")
    url = reverse("timebank:merchant_list")
    client.get(url)
    with CaptureQueriesContext(connection) as three:
        client.get(url)
    for i in range(3, 8):
        make_merchant(cast, name=f"店{i}")
    with CaptureQueriesContext(connection) as eight:
        body = client.get(url).content.decode()
    assert len(eight) == len(three)
    assert "店7" in body and "管理费 3.00%" in body
    assert "店1" in client.get(url, {"q": "店1"}).content.decode()
    assert "店1" not in client.get(url, {"q": "店2"}).content.decode()
    filtered = client.get(url, {"community": world.community.pk}).content.decode()
    assert "阳光小区" in filtered


# --- statements ------------------------------------------------------------------------------


def test_statements_filter_export_and_staff_see_their_own(
    client: Any, cast: Any, world: Any
) -> None:
    merchant = _march_merchant(cast)
    other = _march_merchant(cast)
    other.staff.remove(cast.merchant)
    _spend(cast, merchant, cast.resident, [10_000_00], dt.date(2026, 3, 3))
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        client.force_login(cast.finance_officer)
        resp = client.post(reverse("timebank:merchant_statements_make"), {"month": "2026-03"})
        assert resp.status_code == 302
        assert MerchantStatement.objects.filter(month=dt.date(2026, 3, 1)).count() == 2
        bad = client.post(reverse("timebank:merchant_statements_make"), {"month": "2026-04"})
        assert bad.status_code == 302
        assert MerchantStatement.objects.count() == 2  # April is not over
        page = client.get(reverse("timebank:merchant_statements"), {"month": "2026-03"})
        body = page.content.decode()
        assert "300.00" in body and "10000.00" in body and other.name in body
        none = client.get(reverse("timebank:merchant_statements"), {"month": "2025-01"})
        assert "没有符合条件的月结账单" in none.content.decode()

        export = client.get(reverse("timebank:merchant_statements_export"), {"month": "2026-03"})
        assert export["Content-Type"].startswith("application/vnd.openxmlformats")
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(export.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert len(rows) == 3
        assert any(r[2] == merchant.name and r[8] == "300.00" for r in rows[1:])
        assert AuditEntry.objects.filter(code="timebank.merchant.statements_exported").exists()

        # The merchant's staff see their own merchant's statements only.
        client.force_login(cast.merchant)
        own = client.get(reverse("timebank:merchant_statements")).content.decode()
        assert merchant.name in own and other.name not in own
        assert (
            client.post(
                reverse("timebank:merchant_statements_make"), {"month": "2026-03"}
            ).status_code
            == 403
        )
        # Others without the permission are refused.
        client.force_login(cast.resident)
        assert client.get(reverse("timebank:merchant_statements")).status_code == 403
