"""The members API: join and renew with an idempotency key (a replay does nothing twice), the
members list with filters, a member's detail, my membership and the leaderboard; errors in
the one envelope (issue 4, members)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client

from huzhu.timebank.actions import members as m
from huzhu.timebank.models import Leaderboard, Membership, MembershipPayment, Referral
from huzhu.timebank.tests.test_members import TODAY, join, make_person, override

pytestmark = pytest.mark.django_db

V1 = "/api/v1/timebank"


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def api(client: Client) -> Callable[..., Any]:
    """``api(person, "post", path, body, key=...)`` → response (token auth)."""
    from huzhu.accounts.auth import issue_token

    tokens: dict[int, str] = {}

    def call(person: Any, method: str, path: str, body: Any = None, key: str = "") -> Any:
        headers: dict[str, str] = {}
        if person is not None:
            if person.pk not in tokens:
                tokens[person.pk] = issue_token(person)
            headers["Authorization"] = f"Bearer {tokens[person.pk]}"
        if key:
            headers["Idempotency-Key"] = key
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method.lower())(path, **kwargs)

    return call


def _payment(**extra: Any) -> dict[str, Any]:
    return {
        "tier": "trial",
        "amount_fen": 10000,
        "method": "wechat",
        "receipt_number": "API-1",
        "paid_on": TODAY.isoformat(),
        **extra,
    }


def test_join_with_a_key_and_its_replay(api: Any, cast: Any, world: Any) -> None:
    path = f"{V1}/people/{cast.resident.pk}/membership"
    resp = api(cast.finance_officer, "post", path, _payment(), key="api-join-1")
    assert resp.status_code == 201, resp.content
    out = resp.json()
    assert out["tier"] == "trial" and out["ends_on"] == "2027-03-09"
    assert out["payments"][0]["receipt_number"] == "API-1"
    assert [b["code"] for b in out["benefits"]] == ["voucher"]
    assert out["progress"]["hours_to_next"] == "10.00"
    again = api(cast.finance_officer, "post", path, _payment(), key="api-join-1")
    assert again.status_code == 201 and again.json()["id"] == out["id"]
    assert MembershipPayment.objects.count() == 1
    # A new key for the same person: refused, renew instead.
    third = api(cast.finance_officer, "post", path, _payment(receipt_number="API-2"), key="k2")
    assert third.status_code == 409
    assert third.json()["error"]["code"] == "timebank.membership.exists"


def test_join_key_may_be_a_field_and_is_required(api: Any, cast: Any) -> None:
    path = f"{V1}/people/{cast.resident.pk}/membership"
    missing = api(cast.finance_officer, "post", path, _payment())
    assert missing.status_code == 400
    assert missing.json()["error"]["details"] == {"field": "idempotency_key"}
    ok = api(cast.finance_officer, "post", path, _payment(idempotency_key="field-key"))
    assert ok.status_code == 201


def test_join_errors_in_the_envelope(api: Any, cast: Any, world: Any) -> None:
    path = f"{V1}/people/{cast.resident.pk}/membership"
    wrong = api(cast.finance_officer, "post", path, _payment(amount_fen=9999), key="a")
    assert wrong.status_code == 400
    error = wrong.json()["error"]
    assert error["code"] == "timebank.membership.amount_mismatch"
    assert error["details"]["expected_fen"] == 10000
    override(world.community, "members.trial_fee", "80")
    assert (
        api(cast.finance_officer, "post", path, _payment(amount_fen=8000), key="b").status_code
        == 201
    )
    friend = make_person(world, "朋友")
    dup = api(
        cast.finance_officer,
        "post",
        f"{V1}/people/{friend.pk}/membership",
        _payment(amount_fen=8000),
        key="c",
    )
    assert dup.status_code == 409
    assert dup.json()["error"]["code"] == "timebank.membership.receipt_duplicate"
    outsider = api(
        cast.outsider, "post", f"{V1}/people/{friend.pk}/membership", _payment(), key="d"
    )
    assert outsider.status_code == 404
    resident = api(
        cast.resident, "post", f"{V1}/people/{friend.pk}/membership", _payment(), key="e"
    )
    assert resident.status_code == 403


def test_join_with_a_referral_code(api: Any, cast: Any, world: Any) -> None:
    code = m.referral_code_for(cast.volunteer)
    path = f"{V1}/people/{cast.resident.pk}/membership"
    bad = api(cast.branch_head, "post", path, _payment(referral_code="AAAA2222"), key="r0")
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"field": "referral_code"}
    resp = api(cast.branch_head, "post", path, _payment(referral_code=code), key="r1")
    assert resp.status_code == 201
    assert Referral.objects.get().referrer == cast.volunteer


def test_list_detail_and_renew(api: Any, cast: Any, world: Any) -> None:
    membership = join(cast.finance_officer, cast.resident)
    join(cast.finance_officer, make_person(world, "王五"), "cocreate")
    listed = api(cast.finance_officer, "get", f"{V1}/members?tier=cocreate")
    assert listed.status_code == 200
    body = listed.json()
    assert body["meta"]["total"] == 1 and body["items"][0]["name"] == "王五"
    assert api(cast.finance_officer, "get", f"{V1}/members?q=Res").json()["meta"]["total"] == 1
    assert api(cast.building_manager, "get", f"{V1}/members").json()["meta"]["total"] == 1
    assert api(cast.finance_officer, "get", f"{V1}/members?tier=gold").status_code == 400
    other = api(cast.finance_officer, "get", f"{V1}/members?community={world.other_community.pk}")
    assert other.status_code == 404
    detail = api(cast.building_manager, "get", f"{V1}/members/{membership.pk}")
    assert detail.status_code == 200 and detail.json()["building"] == "1号楼"
    assert api(cast.outsider, "get", f"{V1}/members/{membership.pk}").status_code == 404
    renew_path = f"{V1}/members/{membership.pk}/renew"
    payload = _payment(tier="cocreate", amount_fen=100000, receipt_number="RN-9")
    renewed = api(cast.finance_officer, "post", renew_path, payload, key="rn")
    assert renewed.status_code == 200, renewed.content
    assert renewed.json()["tier"] == "cocreate" and renewed.json()["ends_on"] == "2028-03-09"
    assert renewed.json()["cocreate_number"] == 2
    replay = api(cast.finance_officer, "post", renew_path, payload, key="rn")
    assert replay.json()["ends_on"] == "2028-03-09"
    assert Membership.objects.get(pk=membership.pk).payments.count() == 2
    denied = api(cast.district_admin, "post", renew_path, payload, key="rn2")
    assert denied.status_code == 403


def test_my_membership_and_leaderboard(api: Any, cast: Any, world: Any) -> None:
    mine = api(cast.volunteer, "get", f"{V1}/me/membership").json()
    assert mine["membership"] is None
    assert [t["fee_fen"] for t in mine["tiers"]] == [10000, 100000]
    assert mine["referral_code"] == m.referral_code_for(cast.volunteer)
    join(cast.finance_officer, cast.volunteer)
    mine = api(cast.volunteer, "get", f"{V1}/me/membership").json()
    assert mine["membership"]["level"] == 1
    empty = api(cast.volunteer, "get", f"{V1}/leaderboard").json()
    assert empty["month"] is None and empty["rows"] == [] and empty["months"] == []
    Leaderboard.objects.create(
        community=world.community,
        month=dt.date(2026, 2, 1),
        rows=[{"rank": 1, "building": "1号楼", "points": 300}],
        published_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
    )
    board = api(cast.volunteer, "get", f"{V1}/leaderboard").json()
    assert board["month"] == "2026-02-01" and board["rows"][0]["points"] == 300
    assert api(cast.volunteer, "get", f"{V1}/leaderboard?month=2026-01").json()["rows"] == []
    assert api(cast.volunteer, "get", f"{V1}/leaderboard?month=bad").status_code == 400
    assert api(None, "get", f"{V1}/leaderboard").status_code == 401
