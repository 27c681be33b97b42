"""Tracking a service through its actions (DOMAIN.md "The core loop" 4.–6.): the tracking
thread (跟踪群) and who may use it, notifications sent once, evidence recognized by its first
bytes and limited in size by a community setting, the manager's spot checks, and the records
being append-only (on PostgreSQL in the database too)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.http import Http404

from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.core.models import AppendOnlyError
from huzhu.needs import actions
from huzhu.needs.actions.tracking import sniff
from huzhu.needs.models import Evidence, Need, SpotCheck, ThreadMessage
from huzhu.needs.tests.support import (
    T0,
    accepted,
    assignment_of,
    at,
    offered,
    override,
    publish,
    volunteer,
)
from huzhu.notify.models import Notification

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def png_bytes(padding: int = 0) -> bytes:
    """A real 1×1 PNG (valid chunks and CRCs), with ``padding`` bytes of a text chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00\x00")
    text = [chunk(b"tEXt", b"c\x00" + b"x" * padding)] if padding else []
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + b"".join(text)
        + chunk(b"IEND", b"")
    )


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """Evidence files go to a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _notes(person: Any) -> int:
    return Notification.objects.filter(person=person, code="needs.thread.message").count()


# --- the thread ------------------------------------------------------------------------------


def test_thread_members_write_and_the_others_hear_of_it(cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast)
        m1 = actions.post_message(actor=cast.resident, need=need, body="  请带上推子  ")
        assert m1.body == "请带上推子" and m1.community_id == need.community_id
        # The volunteer and the manager who reviewed the need hear of it; the author does not.
        assert _notes(cast.volunteer) == 1 and _notes(cast.building_manager) == 1
        assert _notes(cast.resident) == 0
        # The volunteer serving it answers; a branch head ("needs.view") joins in.
        actions.post_message(actor=cast.volunteer, need=need, body="好的，九点到")
        actions.post_message(actor=cast.branch_head, need=need, body="我会电话回访")
        assert _notes(cast.resident) == 2
        # Having written, the branch head is told of later messages too.
        actions.post_message(actor=cast.resident, need=need, body="谢谢")
        assert _notes(cast.branch_head) == 1
        assert _notes(cast.volunteer) == 3 and _notes(cast.building_manager) == 4
        # A broker and the district admin hold "needs.view": members too.
        actions.post_message(actor=cast.broker, need=need, body="已知悉")
        actions.post_message(actor=cast.district_admin, need=need, body="已知悉")
    assert ThreadMessage.objects.filter(need=need).count() == 6
    entry = AuditEntry.objects.filter(code="needs.thread.posted").order_by("id").first()
    assert entry is not None and entry.actor_id == cast.resident.pk
    note = Notification.objects.filter(person=cast.volunteer).order_by("id").last()
    assert note is not None and "District Admin：已知悉" in note.body and f"#{need.pk}" in note.body


def test_thread_is_closed_to_everyone_else(cast: Any, world: Any) -> None:
    with at(T0):
        other = volunteer(world, "另一位志愿者", phone="13900000501")
        need = offered(cast, volunteers=[cast.volunteer, other])
        actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer)
        )
        # In scope without a place in the thread: 403 with a clear message.
        for person in (other, cast.group_member, cast.finance_officer, cast.merchant):
            with pytest.raises(DomainError) as err:
                actions.post_message(actor=person, need=need, body="你好")
            assert err.value.code == "needs.thread.not_member"
            assert err.value.status == 403
            assert str(err.value.message) == "你不是该需求跟踪群的成员。"
        # Outside the community: as if the need did not exist.
        with pytest.raises(Http404):
            actions.post_message(actor=cast.outsider, need=need, body="你好")
        assert actions.thread_role(other, need) is None
        assert actions.thread_role(cast.volunteer, need) == "volunteer"
    assert not ThreadMessage.objects.exists()


def test_a_message_needs_words_and_not_too_many(cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        with pytest.raises(DomainError) as err:
            actions.post_message(actor=cast.resident, need=need, body="   ")
        assert err.value.code == "needs.body.required"
        with pytest.raises(DomainError) as err:
            actions.post_message(actor=cast.resident, need=need, body="字" * 2001)
        assert err.value.code == "needs.body.too_long"


def test_a_retried_message_is_written_and_notified_once(cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        first = actions.post_message(actor=cast.resident, need=need, body="几点到？", key="k-1")
        again = actions.post_message(actor=cast.resident, need=need, body="几点到？", key="k-1")
        assert again.pk == first.pk
        # The same key from another person is another message.
        other = actions.post_message(actor=cast.volunteer, need=need, body="九点", key="k-1")
        assert other.pk != first.pk
    assert ThreadMessage.objects.count() == 2
    assert AuditEntry.objects.filter(code="needs.thread.posted").count() == 2
    assert _notes(cast.volunteer) == 1 and _notes(cast.resident) == 1


def test_the_thread_is_append_only(cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        message = actions.post_message(actor=cast.resident, need=need, body="你好")
    message.body = "改过"
    with pytest.raises(AppendOnlyError):
        message.save()
    with pytest.raises(AppendOnlyError):
        ThreadMessage.objects.filter(pk=message.pk).update(body="改过")
    with pytest.raises(AppendOnlyError):
        message.delete()
    assert ThreadMessage.objects.get(pk=message.pk).body == "你好"


# --- evidence --------------------------------------------------------------------------------


def test_sniff_reads_magic_numbers() -> None:
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") == "image/jpeg"
    assert sniff(png_bytes()[:16]) == "image/png"
    assert sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00") == "video/mp4"
    assert sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00") == "video/quicktime"
    assert sniff(b"\x00\x00\x00\x08wide\x00\x00\x00\x00") == "video/quicktime"
    # An HEIC photo, an M4A song, a GIF, a PDF and text are not accepted.
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") is None
    assert sniff(b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00") is None
    assert sniff(b"GIF89a\x01\x00\x01\x00") is None
    assert sniff(b"%PDF-1.7\n") is None
    assert sniff(b"hello") is None
    assert sniff(b"") is None


def test_volunteer_uploads_a_real_photo(cast: Any, media: Path) -> None:
    with at(T0):
        need = accepted(cast)
        # Declared as a video, named .mp4: what counts is the content.
        evidence = actions.upload_evidence(
            actor=cast.volunteer, need=need, file=upload("x.mp4", png_bytes(), "video/mp4")
        )
    assert evidence.content_type == "image/png" and evidence.kind == "photo"
    assert evidence.size == len(png_bytes())
    assert evidence.uploaded_by_id == cast.volunteer.pk
    assert evidence.file.name.startswith(f"needs/evidence/{need.pk}/")
    assert evidence.file.name.endswith(".png")
    assert (media / evidence.file.name).read_bytes() == png_bytes()
    entry = AuditEntry.objects.get(code="needs.evidence.uploaded")
    assert entry.new_values["content_type"] == "image/png"


def test_a_video_is_accepted_in_service(cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        actions.check_in(actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer))
        mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 200
        evidence = actions.upload_evidence(
            actor=cast.volunteer, need=need, file=upload("v.mov", mp4, "video/quicktime")
        )
    assert evidence.kind == "video" and evidence.content_type == "video/mp4"
    assert evidence.file.name.endswith(".mp4")


def test_a_text_file_named_jpg_is_refused(cast: Any, media: Path) -> None:
    with at(T0):
        need = accepted(cast)
        for data in (b"just some text, not a photo", b"GIF89a\x01\x00\x01\x00\x00\x00"):
            with pytest.raises(DomainError) as err:
                actions.upload_evidence(
                    actor=cast.volunteer, need=need, file=upload("photo.jpg", data, "image/jpeg")
                )
            assert err.value.code == "needs.evidence.type"
            assert "JPEG" in str(err.value.message) and "MP4" in str(err.value.message)
            assert err.value.details == {"field": "file"}
        with pytest.raises(DomainError) as err:
            actions.upload_evidence(actor=cast.volunteer, need=need, file=upload("e.jpg", b""))
        assert err.value.code == "needs.evidence.empty"
    assert not Evidence.objects.exists()
    assert not list(media.rglob("*.*"))


def test_size_limits_come_from_community_settings(cast: Any, world: Any) -> None:
    with at(T0):
        need = accepted(cast)
        # The default limit for a photo is 10 MB.
        big = png_bytes(padding=10 * MB + 1)
        with pytest.raises(DomainError) as err:
            actions.upload_evidence(actor=cast.volunteer, need=need, file=upload("a.png", big))
        assert err.value.code == "needs.evidence.too_large"
        assert str(err.value.message) == "照片不能超过 10 MB，请压缩后再上传。"
        assert err.value.details["max_mb"] == 10
        # The community lowers it to 1 MB: a 1.5 MB photo is refused …
        override(cast.branch_head, world, "needs.evidence_photo_max_mb", 1)
        photo = png_bytes(padding=MB + MB // 2)
        with pytest.raises(DomainError) as err:
            actions.upload_evidence(actor=cast.volunteer, need=need, file=upload("b.png", photo))
        assert str(err.value.message) == "照片不能超过 1 MB，请压缩后再上传。"
        # … and raised to 2 MB, the same photo is accepted.
        override(cast.branch_head, world, "needs.evidence_photo_max_mb", 2)
        ok = actions.upload_evidence(actor=cast.volunteer, need=need, file=upload("b.png", photo))
        assert ok.size == len(photo)
        # Videos have their own limit.
        override(cast.branch_head, world, "needs.evidence_video_max_mb", 1)
        video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00" + b"\x00" * (MB + 1)
        with pytest.raises(DomainError) as err:
            actions.upload_evidence(actor=cast.volunteer, need=need, file=upload("c.mp4", video))
        assert str(err.value.message) == "视频不能超过 1 MB，请剪短或压缩后再上传。"
    assert Evidence.objects.count() == 1


def test_who_may_upload_evidence_and_when(cast: Any, world: Any) -> None:
    with at(T0):
        other = volunteer(world, "另一位志愿者", phone="13900000502")
        need = offered(cast, volunteers=[cast.volunteer, other])
        # Nobody serves it yet: not even a manager may upload.
        with pytest.raises(DomainError) as err:
            actions.upload_evidence(
                actor=cast.building_manager, need=need, file=upload("a.png", png_bytes())
            )
        assert err.value.code == "needs.evidence.bad_state" and err.value.status == 409
        actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer)
        )
        for person in (other, cast.resident, cast.broker, cast.district_admin):
            with pytest.raises((PermissionDenied, DomainError)) as denied:
                actions.upload_evidence(actor=person, need=need, file=upload("a.png", png_bytes()))
            if isinstance(denied.value, DomainError):
                assert denied.value.status == 403
        with pytest.raises(Http404):
            actions.upload_evidence(
                actor=cast.outsider, need=need, file=upload("a.png", png_bytes())
            )
        # A manager ("needs.manage") may upload, e.g. a photo of the paper slip.
        actions.upload_evidence(
            actor=cast.building_manager, need=need, file=upload("a.png", png_bytes())
        )
        # After confirmation too; not once it is rated.
        actions.confirm_need(actor=cast.resident, need=need)
        actions.upload_evidence(actor=cast.volunteer, need=need, file=upload("b.png", png_bytes()))
        actions.rate_need(actor=cast.resident, need=need, stars=5)
        with pytest.raises(DomainError) as err:
            actions.upload_evidence(
                actor=cast.volunteer, need=need, file=upload("c.png", png_bytes())
            )
        assert err.value.code == "needs.evidence.bad_state"
    assert Evidence.objects.filter(need=need).count() == 2


def test_a_retried_upload_stores_once(cast: Any, media: Path) -> None:
    with at(T0):
        need = accepted(cast)
        first = actions.upload_evidence(
            actor=cast.volunteer, need=need, file=upload("a.png", png_bytes()), key="u-1"
        )
        again = actions.upload_evidence(
            actor=cast.volunteer, need=need, file=upload("a.png", png_bytes()), key="u-1"
        )
    assert again.pk == first.pk
    assert Evidence.objects.count() == 1
    assert AuditEntry.objects.filter(code="needs.evidence.uploaded").count() == 1
    assert len([p for p in media.rglob("*") if p.is_file()]) == 1


# --- spot checks -----------------------------------------------------------------------------


def test_manager_records_spot_checks(cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        check = actions.record_spot_check(
            actor=cast.building_manager, need=need, method="phone", result="ok"
        )
        assert (check.method, check.result, check.note) == ("phone", "ok", "")
        actions.check_in(actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer))
        problem = actions.record_spot_check(
            actor=cast.branch_head,
            need=need,
            method="on_site",
            result="problem",
            note=" 志愿者迟到半小时 ",
        )
        assert problem.note == "志愿者迟到半小时" and problem.manager_id == cast.branch_head.pk
    assert SpotCheck.objects.filter(need=need).count() == 2
    entry = AuditEntry.objects.filter(code="needs.spot_check.recorded").order_by("id").last()
    assert entry is not None and entry.new_values["result"] == "problem"


def test_spot_check_rules(cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        with pytest.raises(DomainError) as err:
            actions.record_spot_check(
                actor=cast.building_manager, need=need, method="email", result="ok"
            )
        assert err.value.code == "needs.spot_check.method"
        assert str(err.value.message) == "抽查方式只能是电话抽查或上门抽查。"
        with pytest.raises(DomainError) as err:
            actions.record_spot_check(
                actor=cast.building_manager, need=need, method="phone", result="bad"
            )
        assert err.value.code == "needs.spot_check.result"
        # A problem needs a note saying what it was.
        with pytest.raises(DomainError) as err:
            actions.record_spot_check(
                actor=cast.building_manager, need=need, method="phone", result="problem"
            )
        assert err.value.code == "needs.note.required"
        for person in (cast.volunteer, cast.resident, cast.broker, cast.district_admin):
            with pytest.raises(PermissionDenied):
                actions.record_spot_check(actor=person, need=need, method="phone", result="ok")
        with pytest.raises(Http404):
            actions.record_spot_check(actor=cast.outsider, need=need, method="phone", result="ok")
        # Nothing to check before a volunteer has accepted.
        fresh = publish(cast)
        with pytest.raises(DomainError) as err:
            actions.record_spot_check(
                actor=cast.building_manager, need=fresh, method="phone", result="ok"
            )
        assert err.value.code == "needs.spot_check.bad_state" and err.value.status == 409
        # A retry with the same key records once.
        a = actions.record_spot_check(
            actor=cast.building_manager, need=need, method="phone", result="ok", key="s-1"
        )
        b = actions.record_spot_check(
            actor=cast.building_manager, need=need, method="phone", result="ok", key="s-1"
        )
        assert a.pk == b.pk
    assert SpotCheck.objects.count() == 1
    assert AuditEntry.objects.filter(code="needs.spot_check.recorded").count() == 1


# --- the database refuses changes (PostgreSQL) -----------------------------------------------


@pytest.mark.postgres
def test_database_refuses_updates_of_tracking_records(cast: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the append-only trigger exists only on PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    with at(T0):
        need = accepted(cast)
        message = actions.post_message(actor=cast.resident, need=need, body="你好")
        evidence = actions.upload_evidence(
            actor=cast.volunteer, need=need, file=upload("a.png", png_bytes())
        )
        check = actions.record_spot_check(
            actor=cast.building_manager, need=need, method="phone", result="ok"
        )
    statements = [
        (f"UPDATE {ThreadMessage._meta.db_table} SET body = 'x' WHERE id = %s", message.pk),  # noqa: S608
        (f"UPDATE {Evidence._meta.db_table} SET size = 1 WHERE id = %s", evidence.pk),  # noqa: S608
        (f"UPDATE {SpotCheck._meta.db_table} SET note = 'x' WHERE id = %s", check.pk),  # noqa: S608
        (f"DELETE FROM {ThreadMessage._meta.db_table} WHERE id = %s", message.pk),  # noqa: S608
        (f"DELETE FROM {Evidence._meta.db_table} WHERE id = %s", evidence.pk),  # noqa: S608
        (f"DELETE FROM {SpotCheck._meta.db_table} WHERE id = %s", check.pk),  # noqa: S608
    ]
    for sql, pk in statements:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [pk])
    assert ThreadMessage.objects.get(pk=message.pk).body == "你好"
    assert Need.objects.filter(pk=need.pk).exists()
