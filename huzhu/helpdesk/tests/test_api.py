"""The helpdesk API end to end: ask (replay by key), FAQ suggestions, the queue, take, answer,
reassign, publish, close; rules; validation errors and the other community's 404."""

from __future__ import annotations

import json
from typing import Any

import pytest

from huzhu.helpdesk.models import Question
from huzhu.helpdesk.tests.support import audits, nat_group

pytestmark = pytest.mark.django_db

API = "/api/v1/helpdesk"


def _post(client: Any, url: str, body: dict[str, Any], key: str | None = "k") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_question_life_cycle_through_the_api(client: Any, world: Any, cast: Any) -> None:
    group, _rule, member, leader = nat_group(world, cast)
    client.force_login(cast.resident)
    resp = _post(client, f"{API}/questions", {"text": "明天核酸检测几点开始？"}, key="ask-1")
    assert resp.status_code == 201, resp.content
    q = resp.json()
    assert q["routed_to_id"] == group.pk
    assert q["routed_by"] == "keyword"
    assert q["matched_keywords"] == ["核酸"]
    assert q["state"] == "new"
    replay = _post(client, f"{API}/questions", {"text": "明天核酸检测几点开始？"}, key="ask-1")
    assert replay.status_code == 200 and replay.json()["id"] == q["id"]
    mine = client.get(f"{API}/questions/mine").json()
    assert [x["id"] for x in mine["items"]] == [q["id"]]
    # The resident cannot take it.
    assert _post(client, f"{API}/questions/{q['id']}/take", {}).status_code == 403

    client.force_login(member)
    queue = client.get(f"{API}/questions", {"state": "new"}).json()
    assert [x["id"] for x in queue["items"]] == [q["id"]]
    assert queue["meta"]["total"] == 1
    took = _post(client, f"{API}/questions/{q['id']}/take", {})
    assert took.json()["owner_id"] == member.pk
    answered = _post(client, f"{API}/questions/{q['id']}/answer", {"answer": "7点"}, key="a")
    assert answered.json()["state"] == "answered"
    again = _post(client, f"{API}/questions/{q['id']}/answer", {"answer": "7点"}, key="b")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "helpdesk.question.bad_state"

    client.force_login(leader)
    pub = _post(client, f"{API}/questions/{q['id']}/publish", {"question": "几点做核酸？"})
    assert pub.status_code == 201
    faq = pub.json()
    assert faq["source_question_id"] == q["id"] and faq["question"] == "几点做核酸？"
    assert _post(client, f"{API}/questions/{q['id']}/publish", {}).status_code == 200

    client.force_login(cast.resident)
    sugg = client.get(f"{API}/faq/suggest", {"text": "核酸几点做"}).json()
    assert [f["id"] for f in sugg] == [faq["id"]]
    helped = _post(client, f"{API}/faq/{faq['id']}/helped", {})
    assert helped.json()["helpful_count"] == 1
    closed = _post(client, f"{API}/questions/{q['id']}/close", {})
    assert closed.json()["state"] == "closed"
    assert client.get(f"{API}/faq", {"q": "核酸"}).json()["meta"]["total"] == 1
    for code in (
        "helpdesk.question.asked",
        "helpdesk.question.taken",
        "helpdesk.question.answered",
        "helpdesk.faq.published",
        "helpdesk.faq.helped",
        "helpdesk.question.closed",
    ):
        assert audits(code) == 1, code


def test_reassign_and_validation(client: Any, world: Any, cast: Any) -> None:
    group, _rule, member, _leader = nat_group(world, cast)
    client.force_login(cast.resident)
    assert _post(client, f"{API}/questions", {"text": ""}).status_code == 422
    resp = _post(client, f"{API}/questions", {"text": "你好"}, key=None)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "api.idempotency_key.required"
    q = _post(client, f"{API}/questions", {"text": "大米到了吗"}).json()
    assert q["routed_by"] == "default" and q["routed_to_id"] == world.group.pk

    client.force_login(cast.group_member)
    bad = _post(
        client,
        f"{API}/questions/{q['id']}/reassign",
        {"group_id": world.other_group.pk, "reason": "x"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"field": "group_id"}
    ok = _post(
        client, f"{API}/questions/{q['id']}/reassign", {"group_id": group.pk, "reason": "核酸"}
    )
    assert ok.json()["routed_to_id"] == group.pk and ok.json()["routed_by"] == "manual"
    # Now out of the 客服关爱 group's reach.
    assert client.get(f"{API}/questions/{q['id']}").status_code == 403
    client.force_login(cast.outsider)
    assert client.get(f"{API}/questions/{q['id']}").status_code == 404
    assert client.get(f"{API}/questions").json()["meta"]["total"] == 0
    client.force_login(member)
    assert client.get(f"{API}/questions/{q['id']}").status_code == 200
    assert audits("helpdesk.question.reassigned") == 1


def test_rules_api(client: Any, world: Any, cast: Any) -> None:
    client.force_login(cast.branch_head)
    body = {
        "community_id": world.community.pk,
        "category": "团购配送",
        "keywords": ["团购", "蔬菜"],
        "group_id": world.subgroup.pk,
    }
    created = _post(client, f"{API}/rules", body)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["keywords"] == ["团购", "蔬菜"]
    assert _post(client, f"{API}/rules", body).status_code == 200  # replay
    clash = _post(client, f"{API}/rules", {**body, "keywords": ["大米"]})
    assert clash.status_code == 409
    changed = _post(
        client,
        f"{API}/rules/{rule['id']}",
        {"category": "团购配送", "keywords": ["大米"], "group_id": world.subgroup.pk},
    )
    assert changed.json()["keywords"] == ["大米"]
    listed = client.get(f"{API}/rules").json()
    assert [r["id"] for r in listed["items"]] == [rule["id"]]
    assert client.get(f"{API}/rules", {"community_id": world.other_community.pk}).status_code == 404
    client.force_login(cast.resident)
    assert client.get(f"{API}/rules").status_code == 403
    client.force_login(cast.resident)
    q = _post(client, f"{API}/questions", {"text": "大米什么时候到"}).json()
    assert q["routed_to_id"] == world.subgroup.pk
    assert Question.objects.count() == 1
    assert audits("helpdesk.rule.created") == 1
    assert audits("helpdesk.rule.changed") == 1
