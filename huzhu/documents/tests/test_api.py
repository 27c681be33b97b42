"""The documents API: create (201, a replayed key 200), versions, the 409 of a stale save, the
diff, a suggestion accepted and another rejected, the error envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest

from huzhu.documents.tests.support import SOP_V1, SOP_V2

pytestmark = pytest.mark.django_db


def _post(client: Any, url: str, body: dict[str, Any], key: str = "") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_the_flow_through_the_api(client: Any, world: Any, cast: Any) -> None:
    client.force_login(cast.group_leader)
    body = {
        "community_id": world.community.pk,
        "group_id": world.group.pk,
        "kind": "sop_testing",
        "title": "核酸检测 SOP",
        "body": SOP_V1,
    }
    created = _post(client, "/api/v1/documents", body, key="c1")
    assert created.status_code == 201, created.json()
    doc = created.json()
    assert (doc["version_label"], doc["visibility"], doc["body"]) == ("1.0", "community", SOP_V1)
    assert doc["version"]["author_id"] == cast.group_leader.pk and doc["may_edit"]
    replay = _post(client, "/api/v1/documents", body, key="c1")
    assert replay.status_code == 200 and replay.json()["id"] == doc["id"]
    base = f"/api/v1/documents/{doc['id']}"

    v2 = _post(client, f"{base}/versions", {"based_on": 1, "body": SOP_V2, "summary": "上报"}, "v2")
    assert v2.status_code == 201 and v2.json()["version"]["label"] == "2.0"
    stale = _post(client, f"{base}/versions", {"based_on": 1, "body": "x", "summary": "y"}, "v3")
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "documents.version.stale"
    assert stale.json()["error"]["details"]["current_version"] == 2

    d = client.get(f"{base}/diff", {"from": 1, "to": 2}).json()
    assert (d["from_version"], d["to_version"], d["added"], d["removed"]) == (1, 2, 2, 1)
    assert "+5. 出入登记" in d["unified"].splitlines()
    assert client.get(f"{base}/diff", {"from": 1, "to": 9}).status_code == 400
    versions = client.get(f"{base}/versions").json()
    assert [v["label"] for v in versions["items"]] == ["2.0", "1.0"]
    old = client.get(base, {"version": 1}).json()
    assert old["body"] == SOP_V1 and old["current_version"] == 2

    # A resident suggests twice; the leader accepts one and rejects the other.
    client.force_login(cast.resident)
    me = client.get(base).json()
    assert not me["may_edit"] and me["may_suggest"]
    s1 = _post(
        client,
        f"{base}/suggestions",
        {"base_version": 2, "body": SOP_V2 + "\n6. 保持社交距离", "reason": "补充"},
        "s1",
    )
    assert s1.status_code == 201 and s1.json()["state"] == "open"
    s2 = _post(
        client, f"{base}/suggestions", {"base_version": 2, "body": "取消", "reason": "烦"}, "s2"
    )
    assert (
        _post(
            client, f"/api/v1/documents/suggestions/{s1.json()['id']}/accept", {}, "a"
        ).status_code
        == 403
    )
    client.force_login(cast.group_leader)
    accepted = _post(client, f"/api/v1/documents/suggestions/{s1.json()['id']}/accept", {}, "a")
    assert accepted.status_code == 200
    assert (accepted.json()["state"], accepted.json()["resulting_version"]) == ("accepted", 3)
    rejected = _post(
        client, f"/api/v1/documents/suggestions/{s2.json()['id']}/reject", {"note": "不能取消"}, "r"
    )
    assert rejected.json()["state"] == "rejected" and rejected.json()["decision_note"] == "不能取消"
    now = client.get(base).json()
    assert now["current_version"] == 3 and now["version"]["author_id"] == cast.resident.pk
    assert now["version"]["from_suggestion_id"] == s1.json()["id"]
    opened = client.get(f"{base}/suggestions", {"state": "open"}).json()
    assert opened["meta"]["total"] == 0
    assert client.get(f"{base}/suggestions", {"state": "nope"}).status_code == 400


def test_errors(client: Any, world: Any, cast: Any) -> None:
    client.force_login(cast.branch_head)
    body = {"community_id": world.community.pk, "kind": "bad", "title": "t", "body": "b"}
    resp = _post(client, "/api/v1/documents", body, "k")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "documents.kind.invalid"
    resp = _post(client, "/api/v1/documents", {**body, "kind": "other"})
    assert resp.json()["error"]["code"] == "api.idempotency_key.required"
    other = {**body, "kind": "other", "group_id": world.other_group.pk}
    resp = _post(client, "/api/v1/documents", other, "k2")
    assert resp.json()["error"]["code"] == "documents.reference.unknown"
    assert client.get("/api/v1/documents", {"kind": "bad"}).status_code == 400
