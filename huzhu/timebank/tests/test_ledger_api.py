"""The ledger through the API: my points and statement, a person's statement, the transfer
contract (idempotency, 409, lean), reversal, first-service days, the paper ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from huzhu.core import clock
from huzhu.timebank import actions
from huzhu.timebank.models import PaperEntry, ServiceDay, Transaction
from huzhu.timebank.queries import balance_of

pytestmark = pytest.mark.django_db

V1 = "/api/v1/timebank"


@pytest.fixture
def api(client: Client) -> Callable[..., Any]:
    """``api(person, method, path, body, key=...)``: bearer token, JSON, optional key header."""
    from huzhu.accounts.auth import issue_token

    tokens: dict[int, str] = {}

    def call(person: Any, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        headers: dict[str, str] = {}
        if person is not None:
            if person.pk not in tokens:
                tokens[person.pk] = issue_token(person)
            headers["Authorization"] = f"Bearer {tokens[person.pk]}"
        if key is not None:
            headers["Idempotency-Key"] = key
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method.lower())(path, **kwargs)

    return call


def _fund(person: Any, hours: int = 5) -> None:
    actions.credit_service(
        actor=None,
        volunteer=person,
        hours=Decimal(hours),
        community=person.community,
        key=f"fund-{person.pk}-{hours}",
    )


def test_my_points_and_statement(api: Any, cast: Any, world: Any) -> None:
    empty = api(cast.resident, "get", f"{V1}/me").json()
    assert empty == {"account_id": None, "balance": 0, "held": 0, "available": 0}
    assert api(cast.resident, "get", f"{V1}/me/statement").json()["items"] == []
    _fund(cast.resident)
    account = actions.person_account(cast.resident)
    actions.hold(actor=None, account=account, amount=100, key="h")
    me = api(cast.resident, "get", f"{V1}/me").json()
    assert (me["balance"], me["held"], me["available"]) == (500, 100, 400)
    api(
        cast.resident,
        "post",
        f"{V1}/transfers",
        {"payee_account": actions.person_account(cast.volunteer).pk, "amount": 120, "memo": "谢谢"},
        key="t1",
    )
    body = api(cast.resident, "get", f"{V1}/me/statement?page_size=1").json()
    assert body["meta"] == {"page": 1, "page_size": 1, "total": 2}
    line = body["items"][0]
    assert (line["amount"], line["balance"], line["memo"]) == (-120, 380, "谢谢")
    assert line["kind"] == "transfer" and line["counterparty"] == cast.volunteer.name
    second = api(cast.resident, "get", f"{V1}/me/statement?page=2&page_size=1").json()
    assert second["items"][0]["amount"] == 500 and second["items"][0]["balance"] == 500
    assert anonymous_is_401(api)


def anonymous_is_401(api: Any) -> bool:
    return bool(api(None, "get", f"{V1}/me").status_code == 401)


def test_person_statement_scope(api: Any, cast: Any, world: Any) -> None:
    _fund(cast.resident)
    url = f"{V1}/people/{cast.resident.pk}/statement"
    assert api(cast.building_manager, "get", url).json()["balance"]["balance"] == 500
    assert api(cast.finance_officer, "get", url).status_code == 200
    assert api(cast.volunteer, "get", url).status_code == 403
    assert api(cast.outsider, "get", url).status_code == 404


def test_transfer_contract(api: Any, cast: Any, world: Any) -> None:
    _fund(cast.resident)
    payee = actions.person_account(cast.volunteer)
    body = {"payee_account": payee.pk, "amount": 150}
    first = api(cast.resident, "post", f"{V1}/transfers", body, key="pay-1")
    assert first.status_code == 201
    out = first.json()
    assert set(out) == {"id", "amount", "payer_balance"}
    assert (out["amount"], out["payer_balance"]) == (150, 350)
    # Something else happens, then the replay answers exactly the first body and posts nothing.
    api(cast.resident, "post", f"{V1}/transfers", {**body, "amount": 50}, key="pay-2")
    count = Transaction.objects.count()
    again = api(cast.resident, "post", f"{V1}/transfers", body, key="pay-1")
    assert again.status_code == 200 and again.json() == out
    assert Transaction.objects.count() == count
    assert balance_of(payee) == 200
    # Missing key: the envelope, nothing posted.
    missing = api(cast.resident, "post", f"{V1}/transfers", body)
    assert missing.status_code in (400, 422)
    assert missing.json()["error"]["code"]
    # Insufficient: 409 envelope.
    poor = api(cast.resident, "post", f"{V1}/transfers", {**body, "amount": 10_000}, key="p3")
    assert poor.status_code == 409
    assert poor.json()["error"]["code"] == "timebank.insufficient"
    # Invalid amounts and payees.
    assert (
        api(cast.resident, "post", f"{V1}/transfers", {**body, "amount": 0}, key="p4").status_code
        == 422
    )
    own = {"payee_account": actions.person_account(cast.resident).pk, "amount": 1}
    assert api(cast.resident, "post", f"{V1}/transfers", own, key="p5").status_code == 400
    issuing = {"payee_account": actions.issuing_account(world.community).pk, "amount": 1}
    assert api(cast.resident, "post", f"{V1}/transfers", issuing, key="p6").status_code == 404
    assert Transaction.objects.count() == count


def test_transfer_across_communities_of_the_alliance(api: Any, cast: Any, world: Any) -> None:
    _fund(cast.resident)
    payee = actions.person_account(cast.outsider)
    resp = api(
        cast.resident,
        "post",
        f"{V1}/transfers",
        {"payee_account": payee.pk, "amount": 100},
        key="x",
    )
    assert resp.status_code == 201
    assert balance_of(payee) == 100


def test_transfer_is_lean(api: Any, cast: Any, world: Any) -> None:
    _fund(cast.resident)
    payee = actions.person_account(cast.volunteer)
    api(cast.resident, "get", f"{V1}/me")  # warm the token
    counts = []
    for i in range(2):
        with CaptureQueriesContext(connection) as ctx:
            resp = api(
                cast.resident,
                "post",
                f"{V1}/transfers",
                {"payee_account": payee.pk, "amount": 10},
                key=f"lean-{i}",
            )
        assert resp.status_code == 201
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]  # no growth with history
    assert counts[0] <= 20, [q["sql"] for q in ctx.captured_queries]


def test_reverse_api(api: Any, cast: Any, world: Any) -> None:
    tx = actions.credit_service(
        actor=None, volunteer=cast.resident, hours=Decimal(2), community=world.community, key="c"
    )
    url = f"{V1}/transactions/{tx.pk}/reverse"
    body = {"reason": "录错", "evidence": "登记本照片"}
    assert api(cast.branch_head, "post", url, body).status_code == 400  # no key
    assert api(cast.building_manager, "post", url, body, key="r").status_code == 403
    assert api(cast.outsider, "post", url, body, key="r").status_code == 404
    no_evidence = api(cast.branch_head, "post", url, {"reason": "录错"}, key="r")
    assert no_evidence.status_code == 400
    assert no_evidence.json()["error"]["code"] == "timebank.reversal.evidence_required"
    done = api(cast.branch_head, "post", url, body, key="r")
    assert done.status_code == 201 and done.json()["reverses"] == tx.pk
    assert api(cast.branch_head, "post", url, body, key="r").status_code == 200
    twice = api(cast.branch_head, "post", url, body, key="r2")
    assert twice.status_code == 409
    assert balance_of(actions.person_account(cast.resident)) == 0


def test_service_days_api(api: Any, cast: Any, world: Any) -> None:
    url = f"{V1}/communities/{world.community.pk}/service-days"
    created = api(cast.branch_head, "post", url, {"date": "2026-03-05", "name": "学雷锋日"})
    assert created.status_code == 201
    assert api(cast.branch_head, "post", url, {"date": "2026-03-05"}).status_code == 400
    assert api(cast.building_manager, "post", url, {"date": "2026-03-06"}).status_code == 403
    listed = api(cast.branch_head, "get", url).json()
    assert [d["date"] for d in listed["items"]] == ["2026-03-05"]
    day_id = created.json()["id"]
    assert api(cast.branch_head, "delete", f"{V1}/service-days/{day_id}").status_code == 204
    assert not ServiceDay.objects.exists()


def test_paper_api_end_to_end(api: Any, cast: Any, world: Any) -> None:
    body = {
        "person_id": cast.resident.pk,
        "kind": "earn",
        "hours": "2",
        "service_date": clock.today().isoformat(),
        "slip_number": "B-7",
        "note": "陪同就医",
    }
    assert api(cast.building_manager, "post", f"{V1}/paper", body).status_code == 400  # no key
    created = api(cast.building_manager, "post", f"{V1}/paper", body, key="e1")
    assert created.status_code == 201
    entry = created.json()
    assert entry["status"] == "pending" and entry["entered_by_id"] == cast.building_manager.pk
    assert api(cast.building_manager, "post", f"{V1}/paper", body, key="e1").status_code == 200
    dup = api(cast.building_manager, "post", f"{V1}/paper", body, key="e2")
    assert dup.status_code == 409
    assert dup.json()["error"]["code"] == "timebank.paper.duplicate_slip"
    assert PaperEntry.objects.count() == 1

    listed = api(cast.branch_head, "get", f"{V1}/paper?status=pending&q=B-7").json()
    assert [e["id"] for e in listed["items"]] == [entry["id"]]
    assert api(cast.volunteer, "get", f"{V1}/paper").status_code == 403

    check = f"{V1}/paper/{entry['id']}/check"
    same = api(cast.building_manager, "post", check, {"approve": True})
    assert same.status_code == 403
    assert same.json()["error"]["code"] == "timebank.paper.same_person"
    assert api(cast.branch_head, "post", check, {"approve": False}).status_code == 400
    ok = api(cast.branch_head, "post", check, {"approve": True})
    assert ok.status_code == 200 and ok.json()["status"] == "settled"
    assert ok.json()["checked_by_id"] == cast.branch_head.pk
    assert api(cast.branch_head, "post", check, {"approve": True}).status_code == 200
    assert (
        api(cast.branch_head, "post", check, {"approve": False, "reason": "x"}).status_code == 409
    )
    assert balance_of(actions.person_account(cast.resident)) == 200
    assert api(cast.outsider, "get", f"{V1}/paper/{entry['id']}").status_code == 404


def test_paper_api_spend(api: Any, cast: Any, world: Any) -> None:
    _fund(cast.resident)
    body = {
        "person_id": cast.resident.pk,
        "kind": "spend",
        "points": 200,
        "counterparty_id": cast.volunteer.pk,
        "service_date": clock.today().isoformat(),
        "slip_number": "B-8",
    }
    entry = api(cast.branch_head, "post", f"{V1}/paper", body, key="s1").json()
    api(cast.building_manager, "post", f"{V1}/paper/{entry['id']}/check", {"approve": True})
    assert balance_of(actions.person_account(cast.volunteer)) == 200
    assert balance_of(actions.person_account(cast.resident)) == 300
