"""Complaints through the API: file (201, a replay of the key 200), list with filters and
paging, read (history for handlers only), record the contact, resolve with a deduction —
every write replayed with its key does nothing twice; errors in the envelope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from huzhu.audit.models import AuditEntry
from huzhu.needs.models import Complaint, ComplaintState
from huzhu.needs.sweeper import sweep
from huzhu.needs.tests.support import T0, at, balance, give_points
from huzhu.needs.tests.test_complaints import T1, served
from huzhu.notify.models import Notification
from huzhu.timebank.models import Transaction

pytestmark = pytest.mark.django_db

V1 = "/api/v1/needs"
H = dt.timedelta(hours=1)


def as_(client: Client, person: Any) -> Client:
    client.force_login(person)
    return client


def post_json(client: Client, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, body, content_type="application/json", headers=headers)


BODY = {"category": "quality", "description": "理发理得很乱"}


def _file(client: Client, cast: Any, key: str = "c-1") -> Any:
    need = served(cast)
    with at(T1):
        return post_json(as_(client, cast.resident), f"{V1}/{need.pk}/complaints", BODY, key=key)


def test_file_and_replay(client: Client, cast: Any) -> None:
    r = _file(client, cast)
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["state"] == "open" and data["category_label"] == "服务质量"
    assert data["respondent_id"] == cast.volunteer.pk
    due = dt.datetime.fromisoformat(data["contact_due_at"].replace("Z", "+00:00"))
    assert due == T1 + H
    assert data["contact_note"] == "" and data["overdue"] is False
    with at(T1 + H):
        again = post_json(client, f"{V1}/{data['need_id']}/complaints", BODY, key="c-1")
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert Complaint.objects.count() == 1
    assert AuditEntry.objects.filter(code="needs.complaint.filed").count() == 1
    assert Notification.objects.filter(code="needs.complaint.filed").count() == 1


def test_file_needs_a_key_and_valid_input(client: Client, cast: Any) -> None:
    need = served(cast)
    url = f"{V1}/{need.pk}/complaints"
    with at(T1):
        c = as_(client, cast.resident)
        r = post_json(c, url, BODY)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "api.idempotency_key.required"
        r = post_json(c, url, {**BODY, "category": "bad"}, key="x")
        assert r.status_code == 400
        assert r.json()["error"]["details"] == {"field": "category"}
        r = post_json(c, url, {"category": "quality"}, key="x")
        assert r.status_code == 422
        # Not before the service: 409.
        other = served_need_not_started(cast)
        r = post_json(c, f"{V1}/{other.pk}/complaints", BODY, key="y")
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "needs.complaint.bad_state"


def served_need_not_started(cast: Any) -> Any:
    from huzhu.needs.tests.support import approved

    return approved(cast)


def test_list_filters_and_scope(client: Client, cast: Any) -> None:
    complaint_id = _file(client, cast).json()["id"]
    with at(T1 + 30 * dt.timedelta(minutes=1)):
        r = as_(client, cast.branch_head).get(f"{V1}/complaints")
        assert r.status_code == 200
        assert [i["id"] for i in r.json()["items"]] == [complaint_id]
        assert r.json()["meta"]["total"] == 1
        assert client.get(f"{V1}/complaints", {"state": "overdue"}).json()["items"] == []
        assert client.get(f"{V1}/complaints", {"state": "pending"}).json()["meta"]["total"] == 1
        assert client.get(f"{V1}/complaints", {"category": "safety"}).json()["items"] == []
        r = client.get(f"{V1}/complaints", {"state": "nonsense"})
        assert r.status_code == 400 and r.json()["error"]["details"] == {"field": "state"}
        r = as_(client, cast.outsider).get(f"{V1}/complaints")
        assert r.json()["items"] == []
        r = as_(client, cast.group_member).get(f"{V1}/complaints")
        assert r.json()["items"] == []
        r = as_(client, cast.volunteer).get(f"{V1}/complaints")
        assert [i["id"] for i in r.json()["items"]] == [complaint_id]
    with at(T1 + H):
        sweep()
        r = as_(client, cast.branch_head).get(f"{V1}/complaints", {"state": "escalated"})
        assert [i["id"] for i in r.json()["items"]] == [complaint_id]
        assert r.json()["items"][0]["overdue"] is True
        assert r.json()["items"][0]["escalation_level"] == 1


def test_detail_for_sides_and_handlers_only(client: Client, cast: Any) -> None:
    complaint_id = _file(client, cast).json()["id"]
    url = f"{V1}/complaints/{complaint_id}"
    with at(T1):
        r = as_(client, cast.building_manager).get(url)
        assert r.status_code == 200 and [e["action"] for e in r.json()["events"]] == ["file"]
        r = as_(client, cast.resident).get(url)
        assert r.status_code == 200 and r.json()["events"] == []
        assert as_(client, cast.broker).get(url).status_code == 403
        assert as_(client, cast.outsider).get(url).status_code == 404


def test_contact_resolve_with_a_deduction_and_replays(
    client: Client, cast: Any, world: Any
) -> None:
    complaint_id = _file(client, cast).json()["id"]
    give_points(cast.volunteer, world, 10, "seed")
    before = balance(cast.volunteer)
    base = f"{V1}/complaints/{complaint_id}"
    with at(T1 + 20 * dt.timedelta(minutes=1)):
        c = as_(client, cast.resident)
        r = post_json(c, f"{base}/contact", {"note": "x"}, key="n-1")
        assert r.status_code == 403
        c = as_(client, cast.branch_head)
        r = post_json(c, f"{base}/resolve", {"decision": "upheld", "reason": "x"}, key="r-0")
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "needs.complaint.not_contacted"
        r = post_json(c, f"{base}/contact", {"note": "已联系双方"}, key="n-1")
        assert r.status_code == 200 and r.json()["state"] == "contacted"
        assert r.json()["contact_note"] == "已联系双方"
        again = post_json(c, f"{base}/contact", {"note": "已联系双方"}, key="n-1")
        assert again.status_code == 200
    assert AuditEntry.objects.filter(code="needs.complaint.contacted").count() == 1
    body = {"decision": "upheld", "reason": "属实", "deduct_points": 300}
    with at(T1 + 2 * H):
        r = post_json(c, f"{base}/resolve", {**body, "deduct_points": 5000}, key="r-1")
        assert r.status_code == 400
        assert r.json()["error"]["details"]["field"] == "deduct_points"
        r = post_json(c, f"{base}/resolve", body, key="r-1")
        assert r.status_code == 200, r.content
        data = r.json()
        assert data["state"] == ComplaintState.RESOLVED and data["points_deducted"] == 300
        again = post_json(c, f"{base}/resolve", body, key="r-1")
        assert again.status_code == 200
    assert balance(cast.volunteer) == before - 300
    assert Transaction.objects.filter(reference=f"complaint:{complaint_id}").count() == 1
    assert AuditEntry.objects.filter(code="needs.complaint.resolved").count() == 1
    assert Notification.objects.filter(code="needs.complaint.resolved").count() == 2
    # Another handler resolving it again is refused (409), not replayed.
    with at(T1 + 3 * H):
        r = post_json(as_(client, cast.building_manager), f"{base}/resolve", body, key="r-2")
    assert r.status_code == 409


def test_resolve_as_malicious_freezes_through_the_api(client: Client, cast: Any) -> None:
    complaint_id = _file(client, cast).json()["id"]
    base = f"{V1}/complaints/{complaint_id}"
    with at(T1 + H):
        c = as_(client, cast.building_manager)
        post_json(c, f"{base}/contact", {"note": "已联系"}, key="n")
        r = post_json(
            c, f"{base}/resolve", {"decision": "malicious", "reason": "捏造事实"}, key="r"
        )
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "dismissed"
    assert r.json()["complainant_frozen_until"] is not None
    cast.resident.refresh_from_db()
    assert cast.resident.status == "frozen"
    assert cast.resident.status_until > T0
