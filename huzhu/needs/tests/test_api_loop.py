"""The whole service loop through the API with bearer tokens (issue 5, acceptance 1): publish →
review → offer → accept → check-in → check-out → confirm → rate → the volunteer's points
credited, and the hold path when paid with points; every write replayed with its key does
nothing twice. The helpers here (``api``, ``need_body``) serve the other test_api_* files."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from huzhu.audit.models import AuditEntry
from huzhu.needs.models import Assignment, Need, NeedEvent, Rating
from huzhu.needs.tests.support import T0, at, give_points, need_type
from huzhu.notify.models import Notification
from huzhu.timebank import queries
from huzhu.timebank.models import Transaction

pytestmark = pytest.mark.django_db

V1 = "/api/v1/needs"
H = dt.timedelta(hours=1)


@pytest.fixture
def api(client: Client) -> Callable[..., Any]:
    """``api(person, method, path, body, key=..., lang=...)``: bearer token, JSON, optional
    Idempotency-Key and Accept-Language headers."""
    from huzhu.accounts.auth import issue_token

    tokens: dict[int, str] = {}

    def call(
        person: Any,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = None,
        lang: str | None = None,
    ) -> Any:
        headers: dict[str, str] = {}
        if person is not None:
            if person.pk not in tokens:
                tokens[person.pk] = issue_token(person)
            headers["Authorization"] = f"Bearer {tokens[person.pk]}"
        if key is not None:
            headers["Idempotency-Key"] = key
        if lang is not None:
            headers["Accept-Language"] = lang
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method.lower())(path, **kwargs)

    return call


def need_body(start: dt.datetime, **kw: Any) -> dict[str, Any]:
    """A one-hour haircut need starting at ``start``."""
    need_type()
    body: dict[str, Any] = {
        "need_type": "haircut",
        "starts_at": start.isoformat(),
        "ends_at": (start + H).isoformat(),
        "description": "上门理发，老人行动不便",
    }
    body.update(kw)
    return body


def when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def balance(person: Any) -> tuple[int, int, int]:
    """(balance, held, available) of the person's points, from the time bank."""
    return queries.held_of(queries.own_account(person))


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.content.decode()
    return resp.json()


def to_accepted(api: Any, cast: Any, **kw: Any) -> tuple[int, int]:
    """Through the API at T0: the resident publishes (starting T0+3h), the building manager
    approves and offers it to the volunteer, who accepts. Returns (need id, assignment id)."""
    need = ok(api(cast.resident, "post", V1, need_body(T0 + 3 * H, **kw), key="p"), 201)
    ok(api(cast.building_manager, "post", f"{V1}/{need['id']}/review", {"approve": True}, key="r"))
    offer = ok(
        api(
            cast.building_manager,
            "post",
            f"{V1}/{need['id']}/offer",
            {"volunteer_ids": [cast.volunteer.pk]},
            key="o",
        ),
        201,
    )
    a = offer["assignments"][0]["id"]
    ok(api(cast.volunteer, "post", f"{V1}/assignments/{a}/accept", {}, key="a"))
    return need["id"], a


def test_the_whole_loop_credits_the_volunteer(api: Any, cast: Any, world: Any) -> None:
    need_type()
    with at(T0):
        types = ok(api(cast.resident, "get", f"{V1}/types"))
        assert [t["code"] for t in types] == ["haircut"] and types[0]["name"] == "理发"
        # 1. Publish, replayed with the same key: one need.
        body = need_body(T0 + 3 * H)
        first = api(cast.resident, "post", V1, body, key="pub-1")
        need = ok(first, 201)
        assert (need["state"], need["state_label"]) == ("submitted", "待审核")
        assert need["requester_id"] == cast.resident.pk and need["on_behalf"] is False
        assert need["building"] == "阳光小区 1号楼" and need["building_id"] == world.building.pk
        assert when(need["review_due_at"]) == T0 + dt.timedelta(minutes=30)
        assert "address" not in first.content.decode()
        assert ok(api(cast.resident, "post", V1, body, key="pub-1")) == need
        assert Need.objects.count() == 1
        url = f"{V1}/{need['id']}"
        # 2. Review.
        approved = ok(
            api(cast.building_manager, "post", f"{url}/review", {"approve": True}, key="r1")
        )
        assert approved["state"] == "approved" and "offer" in approved["next"]
        again = ok(api(cast.building_manager, "post", f"{url}/review", {"approve": True}, key="r1"))
        assert again == approved
        assert AuditEntry.objects.filter(code="needs.need.approved").count() == 1
        # 3. Offer to the volunteer, replayed: told once.
        offer = {"volunteer_ids": [cast.volunteer.pk]}
        opened = ok(api(cast.building_manager, "post", f"{url}/offer", offer, key="o1"), 201)
        assert opened["need"]["state"] == "offered"
        assert when(opened["need"]["accept_due_at"]) == T0 + 2 * H
        [assignment] = opened["assignments"]
        assert assignment["volunteer_id"] == cast.volunteer.pk and assignment["state"] == "offered"
        replay = ok(api(cast.building_manager, "post", f"{url}/offer", offer, key="o1"))
        assert replay["assignments"] == opened["assignments"]
        assert Notification.objects.filter(code="needs.assignment.offered").count() == 1
        # 4. The volunteer's inbox, and accept (replayed).
        inbox = ok(api(cast.volunteer, "get", f"{V1}/inbox?state=offered"))
        assert inbox["meta"]["total"] == 1
        assert inbox["items"][0]["id"] == assignment["id"]
        assert inbox["items"][0]["need"]["id"] == need["id"]
        a_url = f"{V1}/assignments/{assignment['id']}"
        accepted = ok(api(cast.volunteer, "post", f"{a_url}/accept", {}, key="a1"))
        assert accepted["assignment"]["state"] == "accepted"
        assert accepted["need"]["state"] == "accepted"
        assert ok(api(cast.volunteer, "post", f"{a_url}/accept", {}, key="a1")) == accepted
        assert AuditEntry.objects.filter(code="needs.need.accepted").count() == 1
    # 5. Serve: check in at the start, out 90 minutes later (each replayed).
    with at(T0 + 3 * H):
        served = ok(api(cast.volunteer, "post", f"{a_url}/check-in", {}, key="in"))
        assert served["need"]["state"] == "in_service"
        assert ok(api(cast.volunteer, "post", f"{a_url}/check-in", {}, key="in")) == served
    with at(T0 + 3 * H + dt.timedelta(minutes=90)):
        out = ok(api(cast.volunteer, "post", f"{a_url}/check-out", {}, key="out"))
        assert when(out["assignment"]["check_out_at"]) == T0 + 4.5 * H
        assert ok(api(cast.volunteer, "post", f"{a_url}/check-out", {}, key="out")) == out
    # 6.–7. Confirm, replayed: the 1.5 hours are credited once (1 hour = 1 point).
    with at(T0 + 5 * H):
        confirmed = ok(api(cast.resident, "post", f"{url}/confirm", {}, key="c1"))
        assert confirmed["state"] == "completed"
        assert ok(api(cast.resident, "post", f"{url}/confirm", {}, key="c1")) == confirmed
        assert balance(cast.volunteer) == (150, 0, 150)
        assert Transaction.objects.filter(reference=f"need:{need['id']}").count() == 1
        # Rate, replayed: one rating.
        rating = {"stars": 5, "comment": "很耐心"}
        rated = ok(api(cast.resident, "post", f"{url}/rate", rating, key="s1"))
        assert rated["state"] == "rated" and rated["rating"]["stars"] == 5
        assert rated["rating"]["comment"] == "很耐心" and rated["next"] == []
        assert ok(api(cast.resident, "post", f"{url}/rate", rating, key="s1")) == rated
        assert Rating.objects.count() == 1
        # The history, in the need's detail.
        detail = ok(api(cast.resident, "get", url))
    assert [e["transition"] for e in detail["events"]] == [
        "publish",
        "approve",
        "offer",
        "accept",
        "check_in",
        "check_out",
        "confirm",
        "rate",
    ]
    assert NeedEvent.objects.filter(need_id=need["id"]).count() == 8
    assert [a["state"] for a in detail["assignments"]] == ["completed"]
    assert queries.journal_sum() == 0


def test_paid_with_points_holds_on_accept_and_pays_on_confirm(
    api: Any, cast: Any, world: Any
) -> None:
    give_points(cast.resident, world, 10, "seed")
    with at(T0):
        need_id, _a = to_accepted(api, cast, pay_with_points=True, points=300)
        # Held when the volunteer accepted.
        assert balance(cast.resident) == (1000, 300, 700)
        me = ok(api(cast.resident, "get", "/api/v1/timebank/me"))
        assert (me["balance"], me["held"], me["available"]) == (1000, 300, 700)
    with at(T0 + 5 * H):
        # Confirmed from the paper slip by the building manager: the hold is paid.
        confirmed = ok(
            api(
                cast.building_manager,
                "post",
                f"{V1}/{need_id}/confirm",
                {"slip_number": "No.0042"},
                key="c",
            )
        )
    assert confirmed["state"] == "completed" and confirmed["slip_number"] == "No.0042"
    assert balance(cast.resident) == (700, 0, 700)
    # 300 paid by the resident + 100 credited for the planned hour.
    assert balance(cast.volunteer) == (400, 0, 400)
    assert queries.journal_sum() == 0


def test_a_cancelled_hold_goes_back(api: Any, cast: Any, world: Any) -> None:
    give_points(cast.resident, world, 10, "seed")
    with at(T0 - 2 * H):
        need_id, a = to_accepted(api, cast, pay_with_points=True, points=300)
        assert balance(cast.resident) == (1000, 300, 700)
        cancelled = ok(
            api(cast.resident, "post", f"{V1}/{need_id}/cancel", {"reason": "住院了"}, key="x")
        )
    assert cancelled["state"] == "cancelled" and cancelled["cancel_reason"] == "住院了"
    assert balance(cast.resident) == (1000, 0, 1000)
    assert Assignment.objects.get(pk=a).state == "cancelled"
