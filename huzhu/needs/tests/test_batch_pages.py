"""批量派单 through the pages (issue 5 "Batch mode"): a building manager sees the plan of the
approved needs in their building with the reasons and the needs it cannot place, leaves one
row out, approves; exactly the kept pairs are offered, a second post of the same form does
nothing more, an altered digest is refused; filters, the empty state, 403 without the right."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from huzhu.audit.models import AuditEntry
from huzhu.needs.models import Assignment, Need, NeedState
from huzhu.needs.tests.support import T0, at
from huzhu.needs.tests.test_batch_plan import approved_need, building2_need, crew

pytestmark = pytest.mark.django_db


def _text(resp: Any) -> str:
    return resp.content.decode()


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def test_plan_approve_and_replay_through_the_page(client: Client, world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        needs = [approved_need(cast, h) for h in (0, 2, 4)]
        strong = approved_need(cast, 6, needs_strength=True)
        client.force_login(cast.building_manager)
        home = _text(client.get("/"))
        assert 'href="/needs/batch/"' in home  # the navigation entry
        resp = client.get("/needs/batch/")
        assert resp.status_code == 200
        html = _text(resp)
        rows = re.findall(r'class="plan-row" data-need="(\d+)" data-volunteer="(\d+)"', html)
        assert {int(n) for n, _ in rows} == {n.pk for n in needs}
        assert "米" in html  # the reasons, in words
        assert f'data-need="{strong.pk}" data-code="no_eligible"' in html
        assert "无法安排" in html
        digest, key = _hidden(html, "digest"), _hidden(html, "key")
        left_out = needs[1].pk
        resp = client.post(
            "/needs/batch/approve/", {"digest": digest, "key": key, "leave_out": [left_out]}
        )
        assert resp.status_code == 302 and resp["Location"] == "/needs/batch/"
        page = _text(client.get("/needs/batch/"))
        assert "已按方案派单 2 项" in page
        kept = {(int(n), int(v)) for n, v in rows if int(n) != left_out}
        assert set(Assignment.objects.values_list("need_id", "volunteer_id")) == kept
        assert Need.objects.get(pk=left_out).state == NeedState.APPROVED
        # The left-out need is planned again next time; the offered ones are not.
        assert re.findall(r'class="plan-row" data-need="(\d+)"', page) == [str(left_out)]
        # The same form posted again: the first approval's answer, nothing new.
        again = client.post(
            "/needs/batch/approve/", {"digest": digest, "key": key, "leave_out": [left_out]}
        )
        assert again.status_code == 302
        assert Assignment.objects.count() == 2
        assert AuditEntry.objects.filter(code="needs.batch.approved").count() == 1


def test_stale_rows_are_reported_after_approval(client: Client, world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        need = approved_need(cast, 0)
        client.force_login(cast.building_manager)
        html = _text(client.get("/needs/batch/"))
        from huzhu.needs import actions

        actions.cancel_need(actor=cast.resident, need=need, reason="不需要了")
        resp = client.post(
            "/needs/batch/approve/",
            {"digest": _hidden(html, "digest"), "key": _hidden(html, "key")},
            follow=True,
        )
        text = _text(resp)
        assert f"需求 #{need.pk} 未派单" in text and "已取消" in text
        assert not Assignment.objects.exists()


def test_an_altered_digest_is_refused(client: Client, world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        approved_need(cast, 0)
        client.force_login(cast.building_manager)
        html = _text(client.get("/needs/batch/"))
        resp = client.post(
            "/needs/batch/approve/",
            {"digest": _hidden(html, "digest") + "x", "key": "k"},
            follow=True,
        )
        assert "派单方案无效或已被改动" in _text(resp)
        assert not Assignment.objects.exists()


def test_filters_empty_state_and_permissions(client: Client, world: Any, cast: Any) -> None:
    with at(T0):
        client.force_login(cast.branch_head)
        assert "没有待派单的求助" in _text(client.get("/needs/batch/"))
        crew(world, cast)
        mine = approved_need(cast, 0)
        there = building2_need(world, cast)
        html = _text(client.get("/needs/batch/"))
        assert f'data-need="{mine.pk}"' in html and f'data-need="{there.pk}"' in html
        only2 = _text(client.get("/needs/batch/", {"building": there.building_id}))
        assert f'data-need="{there.pk}"' in only2 and f'data-need="{mine.pk}"' not in only2
        tomorrow = (T0 + dt.timedelta(days=2)).date().isoformat()
        assert "没有符合条件的待派单求助" in _text(client.get("/needs/batch/", {"day": tomorrow}))
        client.force_login(cast.building_manager)
        html = _text(client.get("/needs/batch/"))
        assert f'data-need="{there.pk}"' not in html  # building 2 is not theirs
        # A building outside their scope in the filter is ignored, not shown.
        assert f'data-need="{there.pk}"' not in _text(
            client.get("/needs/batch/", {"building": there.building_id})
        )
        for who in ("volunteer", "broker", "resident"):
            client.force_login(cast[who])
            assert client.get("/needs/batch/").status_code == 403
            assert (
                client.post("/needs/batch/approve/", {"digest": "", "key": "k"}).status_code == 403
            )
            assert 'href="/needs/batch/"' not in _text(client.get("/"))


def test_the_same_through_the_api(client: Client, world: Any, cast: Any) -> None:
    import json

    with at(T0):
        crew(world, cast)
        needs = [approved_need(cast, h) for h in (0, 2)]
        client.force_login(cast.building_manager)
        resp = client.get("/api/v1/needs/batch/plan")
        assert resp.status_code == 200
        plan = resp.json()
        assert {i["need"]["id"] for i in plan["items"]} == {n.pk for n in needs}
        assert all(i["reasons"] for i in plan["items"]) and plan["method"] == "assignment"
        body = json.dumps({"digest": plan["digest"], "leave_out": [needs[0].pk]})

        def approve(key: str | None) -> Any:
            headers = {"Idempotency-Key": key} if key else {}
            return client.post(
                "/api/v1/needs/batch/approve",
                body,
                content_type="application/json",
                headers=headers,
            )

        assert approve(None).status_code == 400  # the key is required
        first = approve("api-1")
        assert first.status_code == 201
        kept = [(i["need"]["id"], i["volunteer_id"]) for i in plan["items"]]
        kept = [p for p in kept if p[0] != needs[0].pk]
        assert [(o["need_id"], o["volunteer_id"]) for o in first.json()["offered"]] == kept
        again = approve("api-1")
        assert again.status_code == 200 and again.json()["replay"] is True
        assert again.json()["offered"] == first.json()["offered"]
        assert Assignment.objects.count() == 1
        bad = client.post(
            "/api/v1/needs/batch/approve",
            json.dumps({"digest": "x", "idempotency_key": "k"}),
            content_type="application/json",
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "needs.batch.digest"
        assert client.get("/api/v1/needs/batch/plan", {"building_id": 999999}).status_code == 404
        client.force_login(cast.volunteer)
        assert client.get("/api/v1/needs/batch/plan").status_code == 403
