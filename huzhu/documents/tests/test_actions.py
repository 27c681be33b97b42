"""Living documents (acceptance 4): versions 1.0, 2.0 … with who changed what and when, the
optimistic check against overwriting a newer version, a resident's suggestion accepted into a
new version (credited to them) or rejected with a note, idempotent writes, one audit entry per
action, append-only versions (ORM here, the PostgreSQL trigger below)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.http import Http404

from huzhu.audit.models import AuditEntry
from huzhu.core.errors import ConflictError, DomainError
from huzhu.core.models import AppendOnlyError
from huzhu.documents import actions
from huzhu.documents.models import DocumentVersion, SuggestionState, Visibility
from huzhu.documents.tests.support import SOP_V1, SOP_V2, plain_resident, png_bytes, sop, upload
from huzhu.notify.models import Notification

pytestmark = pytest.mark.django_db


def _codes(document: Any) -> list[str]:
    return list(
        AuditEntry.objects.filter(target_type="documents.document", target_id=str(document.pk))
        .order_by("pk")
        .values_list("code", flat=True)
    )


def test_versions_are_numbered_and_record_who_changed_what(world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    assert doc.current_version == 1 and doc.version_label == "1.0"
    v1 = doc.versions.get()
    assert (v1.label, v1.body, v1.author, v1.published_by) == (
        "1.0",
        SOP_V1,
        cast.group_leader,
        cast.group_leader,
    )
    v2 = actions.publish_version(
        actor=cast.branch_head,
        document=doc,
        based_on=1,
        body=SOP_V2,
        summary="测温后上报；增加出入登记",
        key="v2",
    )
    doc.refresh_from_db()
    assert doc.current_version == 2 and v2.label == "2.0"
    assert v2.based_on == v1 and v2.author == cast.branch_head
    assert v2.summary == "测温后上报；增加出入登记"
    assert [v.number for v in doc.versions.all()] == [2, 1]
    assert DocumentVersion.objects.get(pk=v1.pk).body == SOP_V1  # the old text is kept
    assert _codes(doc) == ["documents.document.created", "documents.version.published"]


def test_a_stale_save_is_refused_not_overwritten(world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    actions.publish_version(
        actor=cast.group_leader, document=doc, based_on=1, body=SOP_V2, summary="a", key="a"
    )
    with pytest.raises(ConflictError) as exc:
        actions.publish_version(
            actor=cast.branch_head,
            document=doc,
            based_on=1,
            body=SOP_V1 + "\n6. 其他",
            summary="b",
            key="b",
        )
    assert exc.value.code == "documents.version.stale"
    assert "2.0" in str(exc.value.message)
    doc.refresh_from_db()
    assert doc.current_version == 2
    assert doc.versions.get(number=2).body == SOP_V2


def test_writes_are_idempotent_by_key(world: Any, cast: Any) -> None:
    doc = sop(world, cast, key="k")
    assert sop(world, cast, key="k") == doc
    v2 = actions.publish_version(
        actor=cast.group_leader, document=doc, based_on=1, body=SOP_V2, summary="a", key="v"
    )
    again = actions.publish_version(
        actor=cast.group_leader, document=doc, based_on=1, body=SOP_V2, summary="a", key="v"
    )
    assert again == v2 and doc.versions.count() == 2
    s = actions.suggest_change(
        actor=cast.resident, document=doc, base_version=2, body=SOP_V1, reason="r", key="s"
    )
    assert (
        actions.suggest_change(
            actor=cast.resident, document=doc, base_version=2, body=SOP_V1, reason="r", key="s"
        )
        == s
    )
    assert _codes(doc).count("documents.suggestion.created") == 1


def test_validation_messages(world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    with pytest.raises(DomainError) as exc:
        actions.publish_version(
            actor=cast.group_leader, document=doc, based_on=1, body=SOP_V1, summary="x", key="x"
        )
    assert exc.value.code == "documents.version.unchanged"
    with pytest.raises(DomainError) as exc:
        actions.publish_version(
            actor=cast.group_leader, document=doc, based_on=1, body=SOP_V2, summary=" ", key="y"
        )
    assert exc.value.details == {"field": "summary"}
    with pytest.raises(DomainError) as exc:
        actions.create_document(
            actor=cast.branch_head,
            community=world.community,
            kind="sop_testing",
            title="核酸检测流程",
            visibility=Visibility.GROUP,
            body="x",
            key="g",
        )
    assert exc.value.code == "documents.visibility.needs_group"
    with pytest.raises(DomainError) as exc:
        actions.create_document(
            actor=cast.branch_head,
            community=world.community,
            group=world.other_group,
            kind="sop_testing",
            title="核酸检测流程",
            body="x",
            key="o",
        )
    assert exc.value.code == "documents.group.community"


def test_who_may_write(world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    with pytest.raises(PermissionDenied):  # can read it, may not edit it
        actions.publish_version(
            actor=cast.resident, document=doc, based_on=1, body=SOP_V2, summary="a", key="a"
        )
    with pytest.raises(Http404):  # another community's branch head does not see it
        actions.publish_version(
            actor=cast.outsider, document=doc, based_on=1, body=SOP_V2, summary="a", key="a"
        )
    with pytest.raises(PermissionDenied):  # a group member is no leader
        actions.create_document(
            actor=cast.group_member,
            community=world.community,
            group=world.group,
            kind="other",
            title="t",
            body="b",
            key="m",
        )
    # The leader of the group leads its sub-groups' documents too.
    sub = actions.create_document(
        actor=cast.branch_head,
        community=world.community,
        group=world.subgroup,
        kind="job_description",
        title="电话回访员岗位说明书",
        body="职责：每周回访独居老人",
        key="sub",
    )
    v2 = actions.publish_version(
        actor=cast.group_leader,
        document=sub,
        based_on=1,
        body="职责：每周两次回访",
        summary="频次",
        key="s2",
    )
    assert v2.number == 2


def test_a_residents_suggestion_accepted_into_a_new_version(world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    resident = plain_resident(world)  # no role at all: living there is enough to suggest
    s = actions.suggest_change(
        actor=resident,
        document=doc,
        base_version=1,
        body=SOP_V2,
        reason="测温结果应上报楼长；快递点人多，需要出入登记",
        key="s1",
    )
    assert s.state == SuggestionState.OPEN
    with pytest.raises(PermissionDenied):  # a resident cannot accept their own suggestion
        actions.accept_suggestion(actor=resident, suggestion=s)
    version = actions.accept_suggestion(actor=cast.group_leader, suggestion=s, note="很好")
    doc.refresh_from_db()
    s.refresh_from_db()
    assert doc.current_version == 2 and version.label == "2.0"
    assert version.body == SOP_V2
    assert version.author == resident  # credited
    assert version.published_by == cast.group_leader
    assert version.summary.startswith("测温结果应上报楼长")
    assert (s.state, s.decided_by, s.decision_note, s.resulting_version) == (
        SuggestionState.ACCEPTED,
        cast.group_leader,
        "很好",
        version,
    )
    # The resident is told, once.
    note = Notification.objects.get(person=resident)
    assert note.code == "documents.suggestion.accepted" and "2.0" in note.body
    assert note.link == f"/documents/suggestions/{s.pk}/"
    # Accepting again answers the same version (idempotent); rejecting now is a conflict.
    assert actions.accept_suggestion(actor=cast.group_leader, suggestion=s) == version
    assert Notification.objects.filter(person=resident).count() == 1
    assert doc.versions.count() == 2
    with pytest.raises(ConflictError):
        actions.reject_suggestion(actor=cast.group_leader, suggestion=s, note="x")
    assert _codes(doc) == [
        "documents.document.created",
        "documents.suggestion.created",
        "documents.suggestion.accepted",
    ]


def test_a_suggestion_on_an_old_version_needs_the_reviewer_to_confirm(
    world: Any, cast: Any
) -> None:
    doc = sop(world, cast)
    s = actions.suggest_change(
        actor=cast.resident,
        document=doc,
        base_version=1,
        body=SOP_V1 + "\n5. 出入登记",
        reason="r",
        key="s",
    )
    actions.publish_version(
        actor=cast.group_leader, document=doc, based_on=1, body=SOP_V2, summary="a", key="v2"
    )
    with pytest.raises(ConflictError) as exc:
        actions.accept_suggestion(actor=cast.group_leader, suggestion=s)
    assert exc.value.code == "documents.version.stale"
    # Having compared it with 2.0, the leader confirms against 2.0: it becomes 3.0.
    v3 = actions.accept_suggestion(actor=cast.group_leader, suggestion=s, based_on=2)
    assert v3.number == 3 and v3.based_on is not None and v3.based_on.number == 2


def test_rejected_with_a_note(world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    s = actions.suggest_change(
        actor=cast.resident, document=doc, base_version=1, body="全部取消", reason="太麻烦", key="s"
    )
    with pytest.raises(DomainError) as exc:
        actions.reject_suggestion(actor=cast.branch_head, suggestion=s, note="")
    assert exc.value.details == {"field": "note"}
    actions.reject_suggestion(actor=cast.branch_head, suggestion=s, note="防疫要求不能取消")
    s.refresh_from_db()
    assert s.state == SuggestionState.REJECTED and s.decided_by == cast.branch_head
    assert s.decision_note == "防疫要求不能取消"
    told = Notification.objects.get(person=cast.resident)
    assert told.code == "documents.suggestion.rejected" and "防疫要求不能取消" in told.body
    doc.refresh_from_db()
    assert doc.current_version == 1
    with pytest.raises(ConflictError):
        actions.accept_suggestion(actor=cast.branch_head, suggestion=s)


def test_a_suggestion_must_change_something(world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    with pytest.raises(DomainError) as exc:
        actions.suggest_change(
            actor=cast.resident, document=doc, base_version=1, body=SOP_V1, reason="r", key="s"
        )
    assert exc.value.code == "documents.suggestion.unchanged"
    with pytest.raises(DomainError) as exc:
        actions.suggest_change(
            actor=cast.resident, document=doc, base_version=9, body="x", reason="r", key="t"
        )
    assert exc.value.code == "documents.version.unknown"


def test_flowchart_is_kept_with_the_version_and_carried_forward(world: Any, cast: Any) -> None:
    doc = sop(world, cast, flowchart=upload(png_bytes()))
    v1 = doc.versions.get()
    assert v1.flowchart and v1.flowchart_type == "image/png"
    assert v1.flowchart.name.endswith(".png")
    v2 = actions.publish_version(
        actor=cast.group_leader, document=doc, based_on=1, body=SOP_V2, summary="a", key="a"
    )
    assert v2.flowchart.name == v1.flowchart.name
    v3 = actions.publish_version(
        actor=cast.group_leader,
        document=doc,
        based_on=2,
        body=SOP_V2,
        summary="删除流程图",
        remove_flowchart=True,
        key="b",
    )
    assert not v3.flowchart
    with pytest.raises(DomainError) as exc:
        actions.publish_version(
            actor=cast.group_leader,
            document=doc,
            based_on=3,
            body=SOP_V1,
            summary="c",
            flowchart=upload(b"<svg onload='alert(1)'/>", "x.png"),
            key="c",
        )
    assert exc.value.code == "documents.flowchart.not_image"
    doc.refresh_from_db()
    assert doc.current_version == 3


def test_versions_are_append_only(world: Any, cast: Any) -> None:
    v1 = sop(world, cast).versions.get()
    v1.body = "改写历史"
    with pytest.raises(AppendOnlyError):
        v1.save()
    with pytest.raises(AppendOnlyError):
        v1.delete()
    with pytest.raises(AppendOnlyError):
        DocumentVersion.objects.filter(pk=v1.pk).update(body="改写历史")
    assert DocumentVersion.objects.get(pk=v1.pk).body == SOP_V1


@pytest.mark.postgres
def test_database_refuses_changing_a_version(world: Any, cast: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the append-only trigger exists only on PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    v1 = sop(world, cast).versions.get()
    table = DocumentVersion._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET body = %s WHERE id = %s", ["x", v1.pk])  # noqa: S608
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [v1.pk])  # noqa: S608
    assert DocumentVersion.objects.get(pk=v1.pk).body == SOP_V1
