"""Tracking a need on its page (issue 5): the tracking thread (跟踪群), the photos and videos of
the service and the manager's spot checks, with the Django test client and each role logged
in; and the points a need paid with points holds, shown on the resident's page from accept
(held) to confirmation (settled) or cancellation (released).

A refused file (wrong type by its first bytes, too large, empty) and a broken rule show on the
form in Chinese; a non-member neither sees the thread nor may post or download (403 inside the
scope, 404 outside it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from huzhu.audit.models import AuditEntry
from huzhu.needs import actions
from huzhu.needs.models import Evidence, NeedState, SpotCheck, ThreadMessage
from huzhu.needs.tests.support import (
    T0,
    accepted,
    assignment_of,
    at,
    give_points,
    offered,
    override,
    publish,
)
from huzhu.timebank import queries

pytestmark = pytest.mark.django_db

S = NeedState

# A 1×1 PNG: the smallest real photo.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


def _text(resp: Any) -> str:
    return resp.content.decode()


def _upload(client: Client, need_id: int, data: bytes, name: str = "photo.png") -> Any:
    return client.post(
        f"/needs/{need_id}/evidence/",
        {"file": SimpleUploadedFile(name, data, content_type="image/png"), "key": ""},
    )


def _held(person: Any) -> tuple[int, int, int]:
    return queries.held_of(queries.own_account(person))


def test_thread_and_evidence_between_volunteer_resident_and_manager(
    client: Client, cast: Any
) -> None:
    with at(T0):
        need = accepted(cast)
        client.force_login(cast.volunteer)
        page = _text(client.get(f"/needs/{need.pk}/"))
        assert 'id="thread"' in page and 'id="evidence-form"' in page
        assert 'enctype="multipart/form-data"' in page and 'id="spot-check-form"' not in page

        # The volunteer uploads a photo and writes; a double press writes once.
        resp = client.post(f"/needs/{need.pk}/evidence/", {"file": _png(), "key": "k1"})
        assert resp.status_code == 302 and resp["Location"] == f"/needs/{need.pk}/#evidence"
        client.post(f"/needs/{need.pk}/evidence/", {"file": _png(), "key": "k1"})
        evidence = Evidence.objects.get()
        assert evidence.kind == "photo" and evidence.content_type == "image/png"
        for _ in range(2):
            resp = client.post(f"/needs/{need.pk}/thread/", {"body": "已到楼下", "key": "m1"})
            assert resp.status_code == 302
        assert ThreadMessage.objects.count() == 1
        assert AuditEntry.objects.filter(code="needs.thread.posted").count() == 1

        # The resident sees both, and the photo opens for them.
        client.force_login(cast.resident)
        page = _text(client.get(f"/needs/{need.pk}/"))
        assert "已到楼下" in page and f'href="/needs/evidence/{evidence.pk}/"' in page
        assert 'id="evidence-form"' not in page and 'id="spot-check-form"' not in page
        photo = client.get(f"/needs/evidence/{evidence.pk}/")
        assert photo.status_code == 200 and photo["Content-Type"] == "image/png"
        assert b"".join(photo.streaming_content) == PNG
        assert photo["Cache-Control"] == "private, no-store"
        saved = client.get(f"/needs/evidence/{evidence.pk}/?download=1")
        assert "attachment" in saved["Content-Disposition"]

        # The resident answers; the manager reads both and writes too.
        client.post(f"/needs/{need.pk}/thread/", {"body": "好的，谢谢", "key": "m2"})
        client.force_login(cast.building_manager)
        page = _text(client.get(f"/needs/{need.pk}/"))
        assert "已到楼下" in page and "好的，谢谢" in page and 'id="spot-check-form"' in page
        assert 'id="evidence-form"' in page  # a manager may upload as well
        client.post(f"/needs/{need.pk}/thread/", {"body": "我会电话回访", "key": "m3"})
    roles = [m.author_id for m in ThreadMessage.objects.order_by("id")]
    assert roles == [cast.volunteer.pk, cast.resident.pk, cast.building_manager.pk]


def _png() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.png", PNG, content_type="image/png")


def test_upload_refusals_show_on_the_form(client: Client, cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast)
        client.force_login(cast.volunteer)

        # Not a photo or video by its first bytes, whatever its name and declared type.
        resp = client.post(
            f"/needs/{need.pk}/evidence/",
            {"file": SimpleUploadedFile("photo.png", b"%PDF-1.4 hello", "image/png")},
        )
        assert resp.status_code == 200
        assert "只能上传 JPEG、PNG、WebP 格式的照片或 MP4、MOV 格式的视频。" in _text(resp)

        # Larger than the community's limit for photos.
        override(cast.branch_head, world, "needs.evidence_photo_max_mb", 1)
        big = PNG + b"\0" * (1024 * 1024)
        resp = _upload(client, need.pk, big)
        assert resp.status_code == 200
        assert "照片不能超过 1 MB，请压缩后再上传。" in _text(resp)

        # No file at all, and an empty one.
        resp = client.post(f"/needs/{need.pk}/evidence/", {"key": ""})
        assert "请选择要上传的照片或视频。" in _text(resp)
        resp = _upload(client, need.pk, b"")
        assert "文件是空的，请重新选择。" in _text(resp)

        # An empty message.
        resp = client.post(f"/needs/{need.pk}/thread/", {"body": "  "})
        assert resp.status_code == 200 and "请输入消息内容。" in _text(resp)
    assert not Evidence.objects.exists() and not ThreadMessage.objects.exists()


def test_no_evidence_before_the_volunteer_accepts(client: Client, cast: Any) -> None:
    with at(T0):
        need = offered(cast)
        client.force_login(cast.building_manager)
        page = _text(client.get(f"/needs/{need.pk}/"))
        assert 'id="evidence-form"' not in page and 'id="spot-check-form"' not in page
        resp = _upload(client, need.pk, PNG)
        assert resp.status_code == 200 and "不能上传服务凭证" in _text(resp)
        # The volunteer who was only asked is not in the thread yet.
        client.force_login(cast.volunteer)
        page = _text(client.get(f"/needs/{need.pk}/"))
        assert 'id="thread"' not in page
        assert client.post(f"/needs/{need.pk}/thread/", {"body": "你好"}).status_code == 403
        assert _upload(client, need.pk, PNG).status_code == 403
    assert not Evidence.objects.exists() and not ThreadMessage.objects.exists()


def test_non_members_neither_see_nor_post_nor_download(client: Client, cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        evidence = actions.upload_evidence(actor=cast.volunteer, need=need, file=_png())
        actions.post_message(actor=cast.volunteer, need=need, body="已出发")
    for role, status in (("group_member", 403), ("merchant", 403), ("outsider", 404)):
        client.force_login(cast[role])
        with at(T0):
            assert client.post(f"/needs/{need.pk}/thread/", {"body": "插话"}).status_code == status
            assert client.get(f"/needs/evidence/{evidence.pk}/").status_code == status
            assert _upload(client, need.pk, PNG).status_code == status
            resp = client.post(
                f"/needs/{need.pk}/spot-checks/", {"method": "phone", "result": "ok"}
            )
            assert resp.status_code == status, role
    # The resident and a broker are in the thread, but neither may upload nor spot-check.
    for role in ("resident", "broker"):
        client.force_login(cast[role])
        with at(T0):
            assert _upload(client, need.pk, PNG).status_code == 403, role
            resp = client.post(
                f"/needs/{need.pk}/spot-checks/", {"method": "phone", "result": "ok"}
            )
            assert resp.status_code == 403, role
    assert ThreadMessage.objects.count() == 1 and Evidence.objects.count() == 1
    assert not SpotCheck.objects.exists()


def test_manager_records_a_spot_check(client: Client, cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        client.force_login(cast.building_manager)
        # A problem needs a note; an unknown method is refused; both on the form.
        resp = client.post(
            f"/needs/{need.pk}/spot-checks/", {"method": "phone", "result": "problem"}
        )
        assert resp.status_code == 200 and 'id="spot-check-form"' in _text(resp)
        assert "errorlist" in _text(resp)
        resp = client.post(f"/needs/{need.pk}/spot-checks/", {"method": "fax", "result": "ok"})
        assert "抽查方式只能是电话抽查或上门抽查。" in _text(resp)
        assert not SpotCheck.objects.exists()

        data = {"method": "on_site", "result": "problem", "note": "未带工具", "key": "s1"}
        resp = client.post(f"/needs/{need.pk}/spot-checks/", data)
        assert resp.status_code == 302 and resp["Location"].endswith("#spot-checks")
        client.post(f"/needs/{need.pk}/spot-checks/", data)  # pressed twice
        check = SpotCheck.objects.get()
        assert (check.manager, check.method, check.result, check.note) == (
            cast.building_manager,
            "on_site",
            "problem",
            "未带工具",
        )
        assert AuditEntry.objects.filter(code="needs.spot_check.recorded").count() == 1
        page = _text(client.get(f"/needs/{need.pk}/"))
        assert "上门抽查" in page and "有问题" in page and "未带工具" in page
        # The resident does not see the spot checks.
        client.force_login(cast.resident)
        assert "未带工具" not in _text(client.get(f"/needs/{need.pk}/"))


def test_the_hold_from_publish_to_settled_and_to_released(
    client: Client, cast: Any, world: Any
) -> None:
    with at(T0):
        give_points(cast.resident, world, 5, "seed")
        client.force_login(cast.resident)
        form = _text(client.get("/needs/new/"))
        assert "用积分支付" in form and "冻结" in form and "您现在可用的积分：5.00" in form

        paid = offered(cast, pay_with_points=True, points=200)
        page = _text(client.get(f"/needs/{paid.pk}/"))
        assert 'data-state="none"' in page and "志愿者接单时从服务对象账户冻结" in page
        assert _held(cast.resident) == (500, 0, 500)

        actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(paid, cast.volunteer)
        )
        page = _text(client.get(f"/needs/{paid.pk}/"))
        assert 'data-state="held"' in page and "2.00 分 · 已冻结" in page
        assert "您的可用积分：3.00" in page
        assert _held(cast.resident) == (500, 200, 300)

        # A second one is cancelled after accept: its hold goes back.
        other = offered(cast, starts_in=dt.timedelta(days=2), pay_with_points=True, points=100)
        actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(other, cast.volunteer)
        )
        assert _held(cast.resident) == (500, 300, 200)
        resp = client.post(f"/needs/{other.pk}/cancel/", {"reason": "家人回来了"})
        assert resp.status_code == 302
        page = _text(client.get(f"/needs/{other.pk}/"))
        assert 'data-state="released"' in page and "已退回服务对象账户" in page
        assert _held(cast.resident) == (500, 200, 300)

        # The first is served and confirmed: the hold is paid to the volunteer.
    with at(paid.starts_at):
        a = assignment_of(paid, cast.volunteer)
        actions.check_in(actor=cast.volunteer, assignment=a)
        actions.check_out(actor=cast.volunteer, assignment=a)
        assert client.post(f"/needs/{paid.pk}/confirm/", {}).status_code == 302
        page = _text(client.get(f"/needs/{paid.pk}/"))
        assert 'data-state="settled"' in page and "已支付给志愿者" in page
    assert _held(cast.resident) == (300, 0, 300)
    # The volunteer: the 2 points paid plus the hour served.
    assert _held(cast.volunteer)[0] == 200 + 100


def test_publish_without_points_shows_no_hold(client: Client, cast: Any) -> None:
    with at(T0):
        need = publish(cast)
        client.force_login(cast.resident)
        page = _text(client.get(f"/needs/{need.pk}/"))
    assert 'id="need-hold"' not in page and 'id="thread"' in page
