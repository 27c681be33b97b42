"""The notify pages: inbox, reading and answering, composing with a preview, the tally,
re-send to the silent, export, preferences and the public notices (issue 3, acceptance 1 and
the pages part of acceptance 3)."""

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
from django.utils import timezone

from huzhu.accounts.models import Household, Person, RoleGrant
from huzhu.audit.models import AuditEntry
from huzhu.notify import actions
from huzhu.notify.models import (
    Broadcast,
    BroadcastStatus,
    Notification,
    Preference,
    Receipt,
    SavedAudience,
)

pytestmark = pytest.mark.django_db


# --- helpers -------------------------------------------------------------------------------


def _person(
    world: Any, name: str, phone: str, household: Any = None, role: str = "volunteer"
) -> Person:
    p = Person(name=name, community=world.community, household=household)
    p.set_phone(phone)
    p.set_unusable_password()
    p.save()
    RoleGrant.objects.create(person=p, role=role, scope_kind="community", community=world.community)
    return p


def _volunteers(world: Any) -> list[Person]:
    """Two in building 1, one in building 2, one without a household."""
    room201 = Household.objects.get(community=world.community, room="201")
    return [
        _person(world, "甲", "13500000001", world.household),
        _person(world, "乙", "13500000002", world.household),
        _person(world, "丙", "13500000003", room201),
        _person(world, "丁", "13500000004"),
    ]


def _future(days: int = 1) -> str:
    when = timezone.localtime(timezone.now() + dt.timedelta(days=days))
    return when.strftime("%Y-%m-%dT%H:%M")


def _compose_data(world: Any, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "root": f"c{world.community.pk}",
        "roles": ["volunteer"],
        "title": "明早核酸检测",
        "body": "明早 7 点在 1 号楼门口集合，请回复能否到岗。",
        "visibility": "internal",
        "reply_kind": "yes_no",
        "reply_deadline": _future(),
    }
    data.update(extra)
    return data


def _send(client: Any, capture: Any, data: dict[str, Any]) -> Any:
    with capture(execute=True):
        return client.post(reverse("notify:broadcast_create"), {**data, "send": "1"})


def _direct(cast: Any, world: Any, capture: Any, **kw: Any) -> Broadcast:
    """A broadcast sent through the action (for tests that are not about composing)."""
    fields: dict[str, Any] = {
        "actor": cast.branch_head,
        "audience": {"community": world.community.pk, "roles": ["volunteer"]},
        "title": "通知",
        "body": "内容",
    }
    fields.update(kw)
    with capture(execute=True):
        b = actions.create_broadcast(**fields)
    b.refresh_from_db()
    return b


def _receipt(b: Broadcast, person: Person) -> Receipt:
    return Receipt.objects.get(broadcast=b, person=person)


def _badge(html: str) -> int:
    m = re.search(r'id="unread-count">(\d+)<', html)
    return int(m.group(1)) if m else 0


def _count(fetch: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = fetch()
    assert resp.status_code == 200, resp.content[:300]
    return len(ctx.captured_queries)


# --- acceptance 1 through the pages --------------------------------------------------------


def test_branch_head_broadcast_with_required_reply_end_to_end(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vols = _volunteers(world)
    everyone = [*vols, cast.volunteer]

    # Compose, preview the count, send.
    client.force_login(cast.branch_head)
    assert client.get(reverse("notify:broadcast_create")).status_code == 200
    resp = client.post(reverse("notify:broadcast_create"), {**_compose_data(world), "preview": "1"})
    assert resp.status_code == 200
    assert resp.context["preview"]["count"] == 5
    assert 'id="preview-count">5<' in resp.content.decode()
    assert not Broadcast.objects.exists()  # a preview sends nothing
    resp = _send(client, django_capture_on_commit_callbacks, _compose_data(world))
    b = Broadcast.objects.get()
    assert resp.status_code == 302
    assert resp["Location"] == reverse("notify:broadcast_detail", args=[b.pk])
    assert b.status == BroadcastStatus.SENT and b.recipient_count == 5
    assert b.reply_kind == "yes_no" and b.author == cast.branch_head
    assert set(Receipt.objects.filter(broadcast=b).values_list("person_id", flat=True)) == {
        p.pk for p in everyone
    }

    # Recipients see the badge, open and answer through the pages.
    def answer(person: Person, value: str | None) -> None:
        client.force_login(person)
        home = client.get(reverse("home")).content.decode()
        assert _badge(home) == 1
        inbox = client.get(reverse("notify:inbox")).content.decode()
        r = _receipt(b, person)
        url = reverse("notify:receipt_detail", args=[r.pk])
        assert url in inbox and "明早核酸检测" in inbox
        page = client.get(url)
        assert page.status_code == 200 and 'id="reply-yes"' in page.content.decode()
        assert _badge(page.content.decode()) == 0  # opening read it
        if value is not None:
            resp = client.post(reverse("notify:receipt_reply", args=[r.pk]), {"value": value})
            assert resp.status_code == 302 and resp["Location"] == url
            page = client.get(url).content.decode()
            assert 'id="my-answer"' in page

    answer(vols[0], "yes")  # building 1, replied
    answer(vols[1], None)  # building 1, read only
    answer(vols[2], "no")  # building 2, replied
    assert _receipt(b, vols[0]).reply == "yes" and _receipt(b, vols[2]).reply == "no"
    assert _receipt(b, vols[1]).read_at is not None and _receipt(b, vols[1]).replied_at is None

    # A changed answer before the deadline replaces the first one.
    client.force_login(vols[2])
    r2 = _receipt(b, vols[2])
    client.post(reverse("notify:receipt_reply", args=[r2.pk]), {"value": "yes"})
    client.post(reverse("notify:receipt_reply", args=[r2.pk]), {"value": "no"})
    assert _receipt(b, vols[2]).reply == "no"

    # The tally is exact, per building.
    client.force_login(cast.branch_head)
    resp = client.get(reverse("notify:broadcast_detail", args=[b.pk]))
    assert resp.status_code == 200
    assert resp.context["totals"] == {"delivered": 5, "read": 3, "replied": 2}
    rows = {
        r["building_id"]: (r["delivered"], r["read"], r["replied"])
        for r in resp.context["by_building"]
    }
    building2 = vols[2].household.building_id
    assert rows == {world.building.pk: (2, 2, 1), building2: (1, 1, 1), None: (2, 0, 0)}
    assert dict(resp.context["replies"]) == {"是": 1, "否": 1}
    html = resp.content.decode()
    assert 'id="total-delivered">5<' in html and 'id="total-replied">2<' in html
    # Silent people are listed with masked phones only.
    silent = {r.person_id for r in resp.context["page"].object_list}
    assert silent == {vols[1].pk, vols[3].pk, cast.volunteer.pk}
    assert "135****0004" in html and "13500000004" not in html

    # Re-send to the unread reaches only them.
    resp = client.post(reverse("notify:broadcast_resend", args=[b.pk]), {"which": "unread"})
    assert resp.status_code == 302
    counts = dict(Receipt.objects.filter(broadcast=b).values_list("person_id", "resend_count"))
    assert counts == {
        vols[0].pk: 0,
        vols[1].pk: 0,
        vols[2].pk: 0,
        vols[3].pk: 1,
        cast.volunteer.pk: 1,
    }
    msg = client.get(resp["Location"]).content.decode()
    assert "已重发给 2 位未读者" in msg
    # …then to the unreplied: the reader who did not answer too.
    client.post(reverse("notify:broadcast_resend", args=[b.pk]), {"which": "unreplied"})
    counts = dict(Receipt.objects.filter(broadcast=b).values_list("person_id", "resend_count"))
    assert counts == {
        vols[0].pk: 0,
        vols[1].pk: 1,
        vols[2].pk: 0,
        vols[3].pk: 2,
        cast.volunteer.pk: 2,
    }

    # The replies export to .xlsx with masked phones, and the export is audited.
    resp = client.get(reverse("notify:broadcast_export", args=[b.pk]))
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(resp.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("姓名", "手机号", "楼栋", "房号", "已读时间", "回复时间", "回复")
    by_name = {row[0]: row for row in values[1:]}
    assert len(by_name) == 5
    assert by_name["甲"][1] == "135****0001" and by_name["甲"][2] == "1号楼"
    assert by_name["甲"][3] == "101" and by_name["甲"][6] == "是" and by_name["甲"][5]
    assert by_name["丙"][2] == "2号楼" and by_name["丙"][6] == "否"
    assert by_name["乙"][4] and not by_name["乙"][5] and not by_name["乙"][6]
    assert not any("1350000000" in str(c) for row in values for c in row)
    assert AuditEntry.objects.filter(code="notify.broadcast.exported").count() == 1


def test_export_neutralises_formulas(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    evil = _person(world, '=HYPERLINK("http://x")', "13500000009", world.household)
    b = _direct(cast, world, django_capture_on_commit_callbacks, reply_kind="text")
    client.force_login(evil)
    r = _receipt(b, evil)
    client.post(reverse("notify:receipt_reply", args=[r.pk]), {"value": "+1+cmd|' /C calc'!A0"})
    client.force_login(cast.branch_head)
    from openpyxl import load_workbook

    resp = client.get(reverse("notify:broadcast_export", args=[b.pk]))
    rows = list(load_workbook(io.BytesIO(resp.content)).active.iter_rows(values_only=True))
    row = next(r for r in rows if r[0] and "HYPERLINK" in r[0])
    assert row[0].startswith("'=") and row[6].startswith("'+")
    for cells in rows:
        for cell in cells:
            assert not (isinstance(cell, str) and cell[:1] in "=+-@")


def test_reply_kinds_and_deadline(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vol = cast.volunteer
    client.force_login(vol)
    choice = _direct(
        cast,
        world,
        django_capture_on_commit_callbacks,
        reply_kind="choice",
        reply_choices=["上午", "下午"],
    )
    r = _receipt(choice, vol)
    html = client.get(reverse("notify:receipt_detail", args=[r.pk])).content.decode()
    assert 'type="radio"' in html and "上午" in html
    bad = client.post(reverse("notify:receipt_reply", args=[r.pk]), {"value": "晚上"})
    assert bad.status_code == 400 and _receipt(choice, vol).replied_at is None
    client.post(reverse("notify:receipt_reply", args=[r.pk]), {"value": "下午"})
    assert _receipt(choice, vol).reply == "下午"

    number = _direct(cast, world, django_capture_on_commit_callbacks, reply_kind="number")
    r = _receipt(number, vol)
    assert (
        'type="number"'
        in client.get(reverse("notify:receipt_detail", args=[r.pk])).content.decode()
    )
    assert (
        client.post(reverse("notify:receipt_reply", args=[r.pk]), {"value": "abc"}).status_code
        == 400
    )
    client.post(reverse("notify:receipt_reply", args=[r.pk]), {"value": "3.50"})
    assert _receipt(number, vol).reply == "3.5"

    deadline = timezone.now() + dt.timedelta(hours=2)
    late = _direct(
        cast,
        world,
        django_capture_on_commit_callbacks,
        reply_kind="yes_no",
        reply_deadline=deadline,
    )
    r = _receipt(late, vol)
    with time_machine.travel(deadline + dt.timedelta(minutes=1)):
        page = client.get(reverse("notify:receipt_detail", args=[r.pk])).content.decode()
        assert 'id="reply-form"' not in page and "已停止回复" in page
        resp = client.post(reverse("notify:receipt_reply", args=[r.pk]), {"value": "yes"})
        assert resp.status_code == 400 and "回复已截止" in resp.content.decode()
    assert _receipt(late, vol).replied_at is None

    plain = _direct(cast, world, django_capture_on_commit_callbacks)
    r = _receipt(plain, vol)
    assert (
        'id="reply"'
        not in client.get(reverse("notify:receipt_detail", args=[r.pk])).content.decode()
    )


def test_inbox_merges_filters_and_marks_all_read(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vol = cast.volunteer
    client.force_login(vol)
    empty = client.get(reverse("notify:inbox")).content.decode()
    assert "还没有消息" in empty and 'id="unread-count"' not in empty
    b = _direct(cast, world, django_capture_on_commit_callbacks, title="停水通知")
    with django_capture_on_commit_callbacks(execute=True):
        note = actions.notify(
            person=vol,
            code="needs.offered",
            title="有新的求助",
            body="3 号楼需要买药",
            link="/",
            key="t:1",
        )
        read_note = actions.notify(person=vol, code="needs.done", title="已完成的求助", key="t:2")
    actions.mark_read(actor=vol, notification=read_note)
    html = client.get(reverse("notify:inbox")).content.decode()
    assert _badge(html) == 2
    for text in ("停水通知", "有新的求助", "已完成的求助"):
        assert text in html
    assert reverse("notify:notification_detail", args=[note.pk]) in html
    assert reverse("notify:receipt_detail", args=[_receipt(b, vol).pk]) in html
    unread = client.get(reverse("notify:inbox"), {"unread": "1"}).content.decode()
    assert "停水通知" in unread and "已完成的求助" not in unread
    # Opening a notification reads it; its link is shown.
    page = client.get(reverse("notify:notification_detail", args=[note.pk])).content.decode()
    assert "3 号楼需要买药" in page and _badge(page) == 1
    resp = client.post(reverse("notify:inbox_read_all"))
    assert resp.status_code == 302
    assert Receipt.objects.filter(person=vol, read_at__isnull=True).count() == 0
    assert Notification.objects.filter(person=vol, read_at__isnull=True).count() == 0
    assert "没有未读消息" in client.get(reverse("notify:inbox"), {"unread": "1"}).content.decode()
    assert client.get(reverse("notify:inbox_read_all")).status_code == 405


def test_inbox_paginates(client: Any, cast: Any, world: Any, settings: Any) -> None:
    settings.HUZHU_PAGE_SIZE = 5
    vol = cast.volunteer
    for i in range(12):
        actions.notify(person=vol, code="t", title=f"消息{i:02d}", key=f"p:{i}")
    client.force_login(vol)
    first = client.get(reverse("notify:inbox")).content.decode()
    assert "消息11" in first and "消息06" not in first and 'rel="next"' in first
    last = client.get(reverse("notify:inbox"), {"page": 3}).content.decode()
    assert "消息00" in last and "消息11" not in last


def test_scheduled_broadcast_can_be_cancelled(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(cast.branch_head)
    resp = _send(
        client,
        django_capture_on_commit_callbacks,
        _compose_data(world, reply_kind="none", reply_deadline="", scheduled_at=_future(2)),
    )
    b = Broadcast.objects.get()
    assert resp.status_code == 302 and b.status == BroadcastStatus.SCHEDULED
    assert not Receipt.objects.exists()
    page = client.get(reverse("notify:broadcast_detail", args=[b.pk])).content.decode()
    assert 'id="cancel"' in page and 'id="resend-unread"' not in page
    client.post(reverse("notify:broadcast_cancel", args=[b.pk]))
    b.refresh_from_db()
    assert b.status == BroadcastStatus.CANCELLED
    # A second cancel is refused with a message, not an error page.
    resp = client.post(reverse("notify:broadcast_cancel", args=[b.pk]), follow=True)
    assert "只有尚未发送的定时广播可以取消" in resp.content.decode()


def test_compose_errors_land_on_the_form(client: Any, cast: Any, world: Any) -> None:
    client.force_login(cast.branch_head)
    url = reverse("notify:broadcast_create")
    resp = client.post(url, _compose_data(world, reply_kind="choice", reply_choices="只有一个"))
    assert resp.status_code == 400
    assert "单选须有 2 到" in str(resp.context["form"].errors["reply_choices"])
    resp = client.post(url, _compose_data(world, title=""))
    assert resp.status_code == 400 and "title" in resp.context["form"].errors
    resp = client.post(url, _compose_data(world, weekday="2", time_from="10:00"))
    assert resp.status_code == 400
    resp = client.post(url, _compose_data(world, root=""))
    assert resp.status_code == 400 and "root" in resp.context["form"].errors
    assert not Broadcast.objects.exists()


def test_saved_audience_is_saved_and_reused(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _volunteers(world)
    client.force_login(cast.branch_head)
    url = reverse("notify:broadcast_create")
    data = _compose_data(world, buildings=[world.building.pk], save_as="1号楼志愿者")
    resp = client.post(url, {**data, "save_audience": "1"})
    assert resp.status_code == 200
    saved = SavedAudience.objects.get()
    assert saved.name == "1号楼志愿者" and saved.spec["buildings"] == [world.building.pk]
    assert not Broadcast.objects.exists()
    # Reusing it: the typed conditions are ignored, the saved ones preview and send.
    reuse = _compose_data(world, saved_audience=str(saved.pk))
    resp = client.post(url, {**reuse, "preview": "1"})
    assert resp.context["preview"]["count"] == 2
    _send(client, django_capture_on_commit_callbacks, reuse)
    assert Broadcast.objects.get().recipient_count == 2


def test_alliance_wide_broadcast_by_district_admin(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(cast.district_admin)
    page = client.get(reverse("notify:broadcast_create")).content.decode()
    assert f'value="a{world.alliance.pk}"' in page
    data = _compose_data(
        world,
        root=f"a{world.alliance.pk}",
        roles=["branch_head"],
        reply_kind="none",
        reply_deadline="",
    )
    resp = client.post(reverse("notify:broadcast_create"), {**data, "preview": "1"})
    assert resp.context["preview"]["count"] == 2  # both communities' branch heads
    _send(client, django_capture_on_commit_callbacks, data)
    b = Broadcast.objects.get()
    assert b.community is None and b.recipient_count == 2
    listing = client.get(reverse("notify:broadcast_list")).content.decode()
    assert reverse("notify:broadcast_detail", args=[b.pk]) in listing
    # A branch head of one community may not open the alliance-wide tally (the alliance
    # node lies outside a community grant's scope: 404).
    client.force_login(cast.branch_head)
    assert client.get(reverse("notify:broadcast_detail", args=[b.pk])).status_code == 404


# --- acceptance 3: permissions through the pages -------------------------------------------


def test_building_manager_broadcasts_only_to_own_building(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vols = _volunteers(world)
    bm = cast.building_manager
    client.force_login(bm)
    url = reverse("notify:broadcast_create")
    page = client.get(url).content.decode()
    assert f'value="{world.building.pk}"' in page
    room201 = Household.objects.get(community=world.community, room="201")
    # Another building of the same community: inside the scope, without the permission.
    other = _compose_data(world, buildings=[room201.building_id])
    assert _send(client, django_capture_on_commit_callbacks, other).status_code == 403
    # Another community: outside the scope.
    far = _compose_data(
        world, root=f"c{world.other_community.pk}", buildings=[world.other_building.pk]
    )
    assert _send(client, django_capture_on_commit_callbacks, far).status_code == 404
    assert client.post(url, {**far, "preview": "1"}).status_code == 404
    # The whole community: asked to narrow to their building.
    whole = client.post(url, {**_compose_data(world), "preview": "1"})
    assert whole.status_code == 400 and "buildings" in whole.context["form"].errors
    assert not Broadcast.objects.exists()
    # Their building: allowed, and they manage their own broadcast.
    own = _compose_data(world, buildings=[world.building.pk])
    assert _send(client, django_capture_on_commit_callbacks, own).status_code == 302
    b = Broadcast.objects.get()
    assert b.recipient_count == 2
    assert client.get(reverse("notify:broadcast_detail", args=[b.pk])).status_code == 200
    listing = client.get(reverse("notify:broadcast_list")).content.decode()
    assert reverse("notify:broadcast_detail", args=[b.pk]) in listing
    resp = client.post(reverse("notify:broadcast_resend", args=[b.pk]), {"which": "unread"})
    assert resp.status_code == 302
    assert set(Receipt.objects.filter(resend_count=1).values_list("person_id", flat=True)) == {
        vols[0].pk,
        vols[1].pk,
    }
    # A community-wide broadcast of the branch head is not theirs to see.
    wide = _direct(cast, world, django_capture_on_commit_callbacks)
    assert client.get(reverse("notify:broadcast_detail", args=[wide.pk])).status_code == 403
    assert client.get(reverse("notify:broadcast_export", args=[wide.pk])).status_code == 403
    assert (
        client.post(
            reverse("notify:broadcast_resend", args=[wide.pk]), {"which": "unread"}
        ).status_code
        == 403
    )
    listing = client.get(reverse("notify:broadcast_list")).content.decode()
    assert reverse("notify:broadcast_detail", args=[wide.pk]) not in listing


@pytest.mark.parametrize("role", ["volunteer", "resident", "group_member", "finance_officer"])
def test_without_the_permission_nobody_composes(
    client: Any, cast: Any, world: Any, role: str
) -> None:
    client.force_login(cast[role])
    assert client.get(reverse("notify:broadcast_create")).status_code == 403
    assert (
        client.post(
            reverse("notify:broadcast_create"), {**_compose_data(world), "send": "1"}
        ).status_code
        == 403
    )
    assert client.get(reverse("notify:broadcast_list")).status_code == 403
    assert not Broadcast.objects.exists()


def test_other_community_and_other_roles_cannot_open_a_tally(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    b = _direct(cast, world, django_capture_on_commit_callbacks)
    for role, code in (("outsider", 404), ("volunteer", 403), ("group_leader", 403)):
        client.force_login(cast[role])
        for name in ("broadcast_detail", "broadcast_export"):
            assert client.get(reverse(f"notify:{name}", args=[b.pk])).status_code == code
        resp = client.post(reverse("notify:broadcast_resend", args=[b.pk]), {"which": "unread"})
        assert resp.status_code == code
    client.force_login(cast.district_admin)
    assert client.get(reverse("notify:broadcast_detail", args=[b.pk])).status_code == 200
    assert Receipt.objects.filter(resend_count__gt=0).count() == 0


def test_nobody_opens_another_persons_receipt_or_notification(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vols = _volunteers(world)
    b = _direct(cast, world, django_capture_on_commit_callbacks, reply_kind="yes_no")
    theirs = _receipt(b, vols[0])
    note = actions.notify(person=vols[0], code="t", title="私信", key="n:1")
    for intruder in (vols[1], cast.branch_head, cast.district_admin, cast.outsider):
        client.force_login(intruder)
        assert client.get(reverse("notify:receipt_detail", args=[theirs.pk])).status_code == 404
        assert (
            client.post(
                reverse("notify:receipt_reply", args=[theirs.pk]), {"value": "yes"}
            ).status_code
            == 404
        )
        assert client.get(reverse("notify:notification_detail", args=[note.pk])).status_code == 404
    theirs.refresh_from_db()
    note.refresh_from_db()
    assert theirs.read_at is None and theirs.replied_at is None and note.read_at is None
    client.logout()
    resp = client.get(reverse("notify:receipt_detail", args=[theirs.pk]))
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


def test_public_notices_never_show_internal_or_partners(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    public = _direct(
        cast, world, django_capture_on_commit_callbacks, title="公开：停电通知", visibility="public"
    )
    internal = _direct(
        cast,
        world,
        django_capture_on_commit_callbacks,
        title="内部：值班安排",
        visibility="internal",
    )
    partners = _direct(
        cast,
        world,
        django_capture_on_commit_callbacks,
        title="伙伴：物资对接",
        visibility="partners",
    )
    scheduled = _direct(
        cast,
        world,
        django_capture_on_commit_callbacks,
        title="公开：明日预告",
        visibility="public",
        scheduled_at=timezone.now() + dt.timedelta(days=1),
    )
    client.logout()
    url = reverse("notify:public_notices", args=[world.community.pk])
    html = client.get(url).content.decode()
    assert "公开：停电通知" in html
    for title in ("内部：值班安排", "伙伴：物资对接", "公开：明日预告"):
        assert title not in html
    detail = reverse("notify:public_notice", args=[world.community.pk, public.pk])
    assert client.get(detail).status_code == 200
    for hidden in (internal, partners, scheduled):
        assert (
            client.get(
                reverse("notify:public_notice", args=[world.community.pk, hidden.pk])
            ).status_code
            == 404
        )
    # Another community's page does not show it, nor its detail.
    other = client.get(reverse("notify:public_notices", args=[world.other_community.pk]))
    assert "公开：停电通知" not in other.content.decode()
    assert (
        client.get(
            reverse("notify:public_notice", args=[world.other_community.pk, public.pk])
        ).status_code
        == 404
    )
    assert client.get(reverse("notify:public_notices", args=[99999])).status_code == 404


# --- preferences ---------------------------------------------------------------------------


def test_preferences_validation_and_order(client: Any, cast: Any, world: Any) -> None:
    client.force_login(cast.volunteer)
    url = reverse("notify:preferences")
    assert client.get(url).status_code == 200
    resp = client.post(url, {"rank_email": "1"})
    assert resp.status_code == 400 and "email" in resp.context["form"].errors
    resp = client.post(url, {"rank_sms": "1", "rank_email": "1", "email": "a@example.com"})
    assert resp.status_code == 400 and resp.context["form"].non_field_errors()
    resp = client.post(url, {"rank_sms": "1", "quiet_start": "22:00"})
    assert resp.status_code == 400 and "quiet_start" in resp.context["form"].errors
    resp = client.post(url, {"email": "not-an-email"})
    assert resp.status_code == 400 and "email" in resp.context["form"].errors
    assert not Preference.objects.exists()
    resp = client.post(
        url,
        {
            "rank_sms": "2",
            "rank_email": "1",
            "email": "vol@example.com",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    assert resp.status_code == 302
    pref = Preference.objects.get(person=cast.volunteer)
    assert pref.channels == ["email", "sms"] and pref.email == "vol@example.com"
    assert pref.quiet_start == dt.time(22) and pref.quiet_end == dt.time(7)
    form = client.get(url).context["form"]
    assert form.initial["rank_email"] == 1 and form.initial["rank_sms"] == 2
    assert form.initial["rank_webpush"] is None


# --- pinned query counts -------------------------------------------------------------------


def test_inbox_query_count_is_pinned(
    client: Any,
    cast: Any,
    world: Any,
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    vol = cast.volunteer
    client.force_login(vol)
    url = reverse("notify:inbox")
    _direct(cast, world, django_capture_on_commit_callbacks)
    actions.notify(person=vol, code="t", title="一", key="q:0")
    few = _count(lambda: client.get(url))
    for i in range(8):
        _direct(cast, world, django_capture_on_commit_callbacks, title=f"广播{i}")
        actions.notify(person=vol, code="t", title=f"通知{i}", key=f"q:{i + 1}")
    assert _count(lambda: client.get(url)) == few
    with django_assert_max_num_queries(7):
        client.get(url)


def test_broadcast_list_query_count_is_pinned(
    client: Any,
    cast: Any,
    world: Any,
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    _volunteers(world)
    client.force_login(cast.branch_head)
    url = reverse("notify:broadcast_list")
    _direct(cast, world, django_capture_on_commit_callbacks)
    few = _count(lambda: client.get(url))
    for i in range(8):
        b = _direct(
            cast, world, django_capture_on_commit_callbacks, title=f"广播{i}", reply_kind="yes_no"
        )
        actions.mark_read(actor=cast.volunteer, receipt=_receipt(b, cast.volunteer))
    resp = client.get(url)
    assert _count(lambda: client.get(url)) == few
    assert len(resp.context["page"].object_list) == 9
    assert all(b.read_count == 1 for b in resp.context["page"].object_list[:8])
    with django_assert_max_num_queries(8):
        client.get(url)
