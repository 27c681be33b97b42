"""The merchants API: signing up, agreements, staff, the payment code, preview and redeem with
idempotency keys, redemptions, statements."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.timebank.models import Merchant, MerchantStatement, Redemption
from huzhu.timebank.tests.test_merchants import (
    _march_merchant,
    _spend,
    at,
    available,
    give_points,
    make_merchant,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/timebank"


def _post(client: Any, url: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_signing_up_a_merchant_with_agreement_and_staff(client: Any, cast: Any, world: Any) -> None:
    client.force_login(cast.branch_head)
    body = {"community_id": world.community.pk, "name": "老王面馆", "category": "餐饮"}
    missing = _post(client, f"{API}/merchants", body)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "api.idempotency_key.required"
    made = _post(client, f"{API}/merchants", body, key="m1")
    assert made.status_code == 201
    out = made.json()
    assert out["name"] == "老王面馆" and out["agreement"] is None and out["account_id"]
    replay = _post(client, f"{API}/merchants", body, key="m1")
    assert replay.status_code == 200 and replay.json()["id"] == out["id"]
    assert Merchant.objects.count() == 1
    taken = _post(client, f"{API}/merchants", body, key="m2")
    assert taken.status_code == 409

    mid = out["id"]
    bad = _post(client, f"{API}/merchants/{mid}/agreements", {"fee_percent": "5.5"}, key="a0")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "timebank.agreement.fee_out_of_range"
    assert bad.json()["error"]["details"]["field"] == "fee_percent"
    signed = _post(client, f"{API}/merchants/{mid}/agreements", {"fee_percent": "3"}, key="a1")
    assert signed.status_code == 201 and signed.json()["fee_percent"] == "3.00"
    again = _post(client, f"{API}/merchants/{mid}/agreements", {"fee_percent": "3"}, key="a1")
    assert again.status_code == 200 and again.json()["id"] == signed.json()["id"]

    staff = _post(client, f"{API}/merchants/{mid}/staff", {"phone": "13800000009"}, key="s1")
    assert staff.status_code == 201 and staff.json()["id"] == cast.merchant.pk
    assert (
        _post(
            client, f"{API}/merchants/{mid}/staff", {"phone": "13800000009"}, key="s1"
        ).status_code
        == 200
    )
    nope = _post(client, f"{API}/merchants/{mid}/staff", {"phone": "13800000001"}, key="s2")
    assert nope.json()["error"]["code"] == "timebank.staff.not_merchant"

    detail = client.get(f"{API}/merchants/{mid}").json()
    assert detail["agreement"]["fee_percent"] == "3.00"
    assert [s["id"] for s in detail["staff"]] == [cast.merchant.pk]

    patched = client.patch(
        f"{API}/merchants/{mid}",
        json.dumps({"address": "阳光路3号"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="p1",
    )
    assert patched.status_code == 200 and patched.json()["address"] == "阳光路3号"
    assert patched.json()["name"] == "老王面馆"

    suspended = _post(client, f"{API}/merchants/{mid}/status", {"status": "suspended"}, key="st1")
    assert suspended.json()["status"] == "suspended"
    replayed = _post(client, f"{API}/merchants/{mid}/status", {"status": "suspended"}, key="st1")
    assert replayed.status_code == 200
    twice = _post(client, f"{API}/merchants/{mid}/status", {"status": "suspended"}, key="st2")
    assert twice.status_code == 409
    removed = _post(
        client, f"{API}/merchants/{mid}/staff/remove", {"person_id": cast.merchant.pk}, key="r1"
    )
    assert removed.status_code == 200 and removed.json()["staff"] == []
    assert (
        _post(
            client,
            f"{API}/merchants/{mid}/staff/remove",
            {"person_id": cast.merchant.pk},
            key="r1",
        ).status_code
        == 200
    )


def test_paying_with_points_through_the_api(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    client.force_login(cast.resident)
    code = client.get(f"{API}/me/payment-code").json()
    assert (
        code["expires_in"] == 120 and code["available"] == 100_00 and code["svg"].startswith("<svg")
    )

    client.force_login(cast.merchant)
    url = f"{API}/merchants/{merchant.pk}/redemptions"
    body = {"token": code["token"], "purchase_fen": 6000}
    preview = _post(client, f"{url}/preview", body)
    assert preview.status_code == 200
    assert {k: preview.json()[k] for k in ("discount_fen", "points", "pay_fen")} == {
        "discount_fen": 3000,
        "points": 1000,
        "pay_fen": 3000,
    }
    assert not Redemption.objects.exists()
    made = _post(client, url, body, key="till-1")
    assert made.status_code == 201
    out = made.json()
    assert (out["discount_fen"], out["points"], out["pay_fen"]) == (3000, 1000, 3000)
    assert out["member_name"] != cast.resident.name and "*" in out["member_name"]
    assert _post(client, url, body, key="till-1").json()["id"] == out["id"]
    used = _post(client, url, body, key="till-2")
    assert used.status_code == 409 and used.json()["error"]["code"] == "timebank.qr.used"
    assert available(cast.resident) == 90_00
    floaty = _post(client, url, {"token": code["token"], "purchase_fen": 60.0}, key="till-3")
    assert floaty.status_code == 422

    listing = client.get(url).json()
    assert listing["meta"]["total"] == 1 and listing["items"][0]["id"] == out["id"]
    client.force_login(cast.resident)
    assert client.get(f"{API}/redemptions/{out['id']}").json()["discount_fen"] == 3000
    client.force_login(cast.volunteer)
    assert client.get(f"{API}/redemptions/{out['id']}").status_code == 403


def test_the_till_refuses_others_and_bad_input(client: Any, cast: Any) -> None:
    merchant = make_merchant(cast, staff=None)
    give_points(cast.resident, 100_00)
    client.force_login(cast.merchant)
    body = {"token": "whatever", "purchase_fen": 6000}
    url = f"{API}/merchants/{merchant.pk}/redemptions"
    assert _post(client, url, body, key="x").status_code == 403
    merchant.staff.add(cast.merchant)
    bad = _post(client, url, body, key="x")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "timebank.qr.invalid"
    zero = _post(client, url, {"token": "whatever", "purchase_fen": 0}, key="y")
    assert zero.status_code == 422


def test_statements_through_the_api(client: Any, cast: Any) -> None:
    merchant = _march_merchant(cast)
    _spend(cast, merchant, cast.resident, [10_000_00], dt.date(2026, 3, 3))
    with time_machine.travel(at(dt.date(2026, 4, 2)), tick=False):
        client.force_login(cast.finance_officer)
        url = f"{API}/merchants/{merchant.pk}/statements"
        made = _post(client, url, {"month": "2026-03"}, key="s1")
        assert made.status_code == 201
        assert (made.json()["fee_fen"], made.json()["spending_fen"]) == (30000, 1_000_000)
        again = _post(client, url, {"month": "2026-03"}, key="s2")
        assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
        open_month = _post(client, url, {"month": "2026-04"}, key="s3")
        assert open_month.json()["error"]["code"] == "timebank.statement.month_open"
        bad = _post(client, url, {"month": "2026-13"}, key="s4")
        assert bad.status_code == 400
        listed = client.get(f"{API}/merchant-statements", {"month": "2026-03"}).json()
        assert listed["meta"]["total"] == 1 and listed["items"][0]["fee_fen"] == 30000
        assert client.get(f"{API}/merchant-statements", {"month": "2026-02"}).json()["items"] == []
        client.force_login(cast.merchant)
        assert client.get(f"{API}/merchant-statements").json()["meta"]["total"] == 1
        assert _post(client, url, {"month": "2026-03"}, key="s5").status_code == 403
    assert MerchantStatement.objects.count() == 1


def test_the_merchant_list_has_a_fixed_number_of_queries(client: Any, cast: Any) -> None:
    client.force_login(cast.branch_head)
    for i in range(2):
        make_merchant(cast, name=f"店{i}")
    url = f"{API}/merchants"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(2, 7):
        make_merchant(cast, name=f"店{i}")
    with CaptureQueriesContext(connection) as many:
        out = client.get(url).json()
    assert len(many) == len(few)
    assert out["meta"]["total"] == 7 and out["items"][0]["agreement"]["fee_percent"] == "3.00"
    assert client.get(url, {"q": "店6"}).json()["meta"]["total"] == 1
    assert client.get(url, {"status": "suspended"}).json()["meta"]["total"] == 0
