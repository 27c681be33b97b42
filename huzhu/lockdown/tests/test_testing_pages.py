"""Mass testing through the pages and the API: the staff console (call, check in by code and
by search, absent, close), a resident's view and household code, the big screen's JSON, the
board, the follow-up list and its .xlsx; validation on the form; the API's idempotent call."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse

from huzhu.lockdown import household_code
from huzhu.lockdown import models as m
from huzhu.lockdown.tests.testing_support import label, populate, session
from huzhu.notify.models import Notification

pytestmark = pytest.mark.django_db


def _url(name: str, s: Any) -> str:
    return reverse(f"lockdown:{name}", kwargs={"pk": s.pk})


def test_console_workflow(world: Any, cast: Any, client: Any) -> None:
    hh = populate(world)
    s = session(world, cast, batch_size=3)
    client.force_login(cast.group_member)
    page = client.get(_url("testing_session", s))
    assert page.status_code == 200 and "叫下一批" in page.text and "尚未叫号" in page.text

    resp = client.post(_url("testing_call", s), {"key": "page-call-1"}, follow=True)
    assert "已叫第 1 批，共 3 户。" in resp.text
    assert set(
        m.QueueEntry.objects.filter(session=s, batch=1).values_list("household_id", flat=True)
    ) == {hh["1号楼-101"].pk, hh["1号楼-102"].pk, hh["1号楼-201"].pk}
    # The same form posted twice (a double tap): still one batch.
    client.post(_url("testing_call", s), {"key": "page-call-1"})
    assert m.TestingBatch.objects.filter(session=s).count() == 1

    # Check in by the scanned household code, by search, and mark one absent.
    token = household_code.make_code(hh["1号楼-101"])
    resp = client.post(_url("testing_check_in", s), {"token": token}, follow=True)
    assert "已签到。" in resp.text
    found = client.get(_url("testing_session", s), {"q": "1号楼 102"})
    assert f'id="check-in-{hh["1号楼-102"].pk}"' in found.text
    client.post(_url("testing_check_in", s), {"household": hh["1号楼-102"].pk})
    missing = client.get(_url("testing_session", s), {"q": "9号楼 999"})
    assert 'id="search-empty"' in missing.text
    client.post(_url("testing_absent", s), {"household": hh["1号楼-201"].pk})
    bad = client.post(_url("testing_check_in", s), {"token": "nonsense"}, follow=True)
    assert "住户码无效" in bad.text
    empty = client.post(_url("testing_check_in", s), {}, follow=True)
    assert "请扫描住户码" in empty.text

    board = client.get(_url("testing_board", s))
    row = board.text.split(f'data-building="{world.building.pk}"')[1].split("</tr>")[0]
    assert '<td class="tested">2</td>' in row and '<td class="absent">1</td>' in row

    follow = client.get(_url("testing_follow_up", s))
    listed = {int(x.split('"')[0]) for x in follow.text.split('data-household="')[1:]}
    tested = {hh["1号楼-101"].pk, hh["1号楼-102"].pk}
    assert listed == {h.pk for h in hh.values()} - tested
    one = client.get(_url("testing_follow_up", s), {"building": world.building.pk})
    assert one.text.count('data-household="') == 3
    xlsx = client.get(_url("testing_follow_up", s), {"format": "xlsx"})
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + len(listed)
    assert {f"{r[0]}-{r[1]}" for r in rows[1:]} == {
        label(h) for h in hh.values() if h.pk not in tested
    }

    data = client.get(_url("testing_screen_data", s)).json()
    assert data["batch"] == 1 and data["households"] == ["1号楼 101", "1号楼 102", "1号楼 201"]
    assert (data["tested"], data["absent"]) == (2, 1)

    resp = client.post(_url("testing_step", s), {"step": "close"}, follow=True)
    assert "检测场次已结束。" in resp.text
    s.refresh_from_db()
    assert s.state == m.TestingState.CLOSED


def test_create_form(world: Any, cast: Any, client: Any) -> None:
    client.force_login(cast.group_leader)
    form = client.get(reverse("lockdown:testing_create"))
    assert form.status_code == 200 and 'value="10"' in form.text  # the registered default
    data = {
        "group": world.group.pk,
        "kind": "antigen",
        "title": "抗原发放",
        "place": "2号楼门口",
        "starts_at": "2026-03-02T09:00",
        "batch_size": "0",
        "buildings": [world.building.pk],
        "key": "form-1",
    }
    bad = client.post(reverse("lockdown:testing_create"), data)
    assert bad.status_code == 200 and not m.TestingSession.objects.exists()
    resp = client.post(reverse("lockdown:testing_create"), {**data, "batch_size": "4"})
    s = m.TestingSession.objects.get()
    assert resp.status_code == 302 and resp["Location"] == _url("testing_session", s)
    assert (s.kind, s.batch_size, s.state) == ("antigen", 4, m.TestingState.OPEN)
    assert m.QueueEntry.objects.filter(session=s).count() == 1  # 1号楼 has one household
    listing = client.get(reverse("lockdown:testing_sessions"), {"q": "抗原"})
    assert "抗原发放" in listing.text
    none = client.get(reverse("lockdown:testing_sessions"), {"q": "不存在"})
    assert 'id="testing-empty"' in none.text


def test_a_resident_sees_their_batch_and_code(world: Any, cast: Any, client: Any) -> None:
    populate(world)
    s = session(world, cast)
    client.force_login(cast.resident)
    assert s.title in client.get(reverse("lockdown:testing_sessions")).text
    page = client.get(_url("testing_session", s))
    assert "尚未叫号，叫到时会通知您。" in page.text and "叫下一批" not in page.text
    client.force_login(cast.group_leader)
    client.post(_url("testing_call", s), {"key": "r-1"})
    client.force_login(cast.resident)
    page = client.get(_url("testing_session", s))
    assert "第 1 批已叫号，请下楼。" in page.text
    note = Notification.objects.get(person=cast.resident, code="lockdown.testing.called")
    assert note.link == _url("testing_session", s)
    code = client.get(reverse("lockdown:household_code"))
    token = household_code.make_code(world.household)
    assert token in code.text and "<svg" in code.text
    # Residents do not reach the console's reads.
    assert client.get(_url("testing_board", s)).status_code == 403
    assert client.post(_url("testing_call", s), {"key": "r-2"}).status_code == 403
    # Someone without a household sees the empty state.
    client.force_login(cast.volunteer)
    assert 'id="household-code-empty"' in client.get(reverse("lockdown:household_code")).text


def test_api_flow(world: Any, cast: Any, client: Any) -> None:
    hh = populate(world)
    client.force_login(cast.group_leader)
    body = {
        "community_id": world.community.pk,
        "group_id": world.group.pk,
        "title": "全员核酸",
        "place": "东门",
        "starts_at": "2026-03-02T09:00:00+08:00",
        "batch_size": 3,
        "building_ids": [b.pk for b in world.community.buildings.all()],
    }
    base = "/api/v1/lockdown/testing-sessions"
    created = client.post(base, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="a")
    assert created.status_code == 201
    replay = client.post(base, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="a")
    assert replay.status_code == 200 and replay.json()["id"] == created.json()["id"]
    sid = created.json()["id"]
    call = client.post(
        f"{base}/{sid}/call-next", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    assert call.status_code == 201
    assert call.json()["household_ids"] == [
        hh["1号楼-101"].pk,
        hh["1号楼-102"].pk,
        hh["1号楼-201"].pk,
    ]
    again = client.post(
        f"{base}/{sid}/call-next", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    assert again.status_code == 200 and again.json()["number"] == 1
    token = household_code.make_code(hh["1号楼-102"])
    checked = client.post(
        f"{base}/{sid}/check-in",
        {"token": token},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert checked.status_code == 200 and checked.json()["status"] == "tested"
    absent = client.post(
        f"{base}/{sid}/absent",
        {"household_id": hh["1号楼-201"].pk},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )
    assert absent.json()["status"] == "absent"
    counts = client.get(f"{base}/{sid}/counts").json()
    assert (counts["tested"], counts["absent"], counts["pending"]) == (1, 1, 6)
    follow = client.get(f"{base}/{sid}/follow-up", {"page_size": 50}).json()
    assert follow["meta"]["total"] == 7
    assert hh["1号楼-102"].pk not in [e["household_id"] for e in follow["items"]]
    found = client.get(f"{base}/{sid}/search", {"q": "2号楼 1001"}).json()
    assert [(e["building"], e["room"], e["status"]) for e in found] == [
        ("2号楼", "1001", "pending")
    ]
    screen = client.get(f"{base}/{sid}/screen").json()
    assert (screen["batch"], screen["first"], screen["last"]) == (1, 1, 3)
    bad = client.post(
        f"{base}/{sid}/absent",
        {"household_id": hh["2号楼-1001"].pk},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k3",
    )
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "lockdown.testing.not_called"
