"""Needs API, tracking a service: the tracking thread (跟踪群) of a need, the volunteer's
photo/video evidence, the manager's spot checks (抽查).

- The thread is read and written by its members only: the requester and whoever published
  for them, the volunteer serving the need, managers with "needs.view" (404 outside the
  actor's scope, 403 inside it).
- Evidence is uploaded (multipart, field ``file``) by the serving volunteer or a manager
  ("needs.manage"); its list is metadata for whoever may see the need, with a download URL
  only for the thread's members, who alone may download the file.
- Spot checks are recorded by managers ("needs.manage") and read with "needs.view".

Every write takes an idempotency key (header ``Idempotency-Key``, or the body/form field
``idempotency_key``); a replay by the same person answers 200 with what the first call made
and does nothing else (no second row, audit entry or notification).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.db.models import Model, QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, File, Form, Query, Schema, UploadedFile
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import NO_NUL, PathId
from huzhu.core.api import ERRORS, PageIn, PageMeta, paginate
from huzhu.needs import actions, states
from huzhu.needs.actions.tracking import MANAGER, holding_assignment
from huzhu.needs.api.common import VIEW, actor_of, key_of, load_need, router, visible_need
from huzhu.needs.api.schemas import KEY_FIELD
from huzhu.needs.models import (
    Evidence,
    EvidenceKind,
    Need,
    SpotCheck,
    SpotCheckMethod,
    SpotCheckResult,
    ThreadMessage,
)

# --- schemas ---------------------------------------------------------------------------------

Body = Annotated[str, Field(max_length=4000, pattern=NO_NUL)]


class MessageIn(Schema):
    body: Body = Field(..., description="消息内容（不超过 2000 字）")
    idempotency_key: str | None = KEY_FIELD


class MessageOut(Schema):
    id: int
    need_id: int
    author_id: int
    author_role: str = Field(..., description="发言人身份：requester、volunteer、manager")
    body: str
    created_at: dt.datetime
    mine: bool = Field(..., description="是否我发的")


class ThreadPage(Schema):
    items: list[MessageOut]
    meta: PageMeta


class EvidenceOut(Schema):
    id: int
    need_id: int
    kind: str = Field(..., description="photo 照片 / video 视频")
    kind_label: str
    content_type: str = Field(..., description="按文件内容识别的类型")
    size: int = Field(..., description="字节数")
    uploaded_by_id: int
    created_at: dt.datetime
    download_url: str | None = Field(None, description="下载地址（仅跟踪群成员可见）")


class EvidenceList(Schema):
    items: list[EvidenceOut]


class SpotCheckIn(Schema):
    method: str = Field(..., max_length=10, description="phone 电话抽查 / on_site 上门抽查")
    result: str = Field(..., max_length=10, description="ok 正常 / problem 有问题")
    note: Annotated[str, Field(max_length=2000, pattern=NO_NUL)] = Field(
        "", description="说明（发现问题时必填）"
    )
    idempotency_key: str | None = KEY_FIELD


class SpotCheckOut(Schema):
    id: int
    need_id: int
    manager_id: int
    method: str
    method_label: str
    result: str
    result_label: str
    note: str
    created_at: dt.datetime


class SpotCheckList(Schema):
    items: list[SpotCheckOut]


# --- output ----------------------------------------------------------------------------------


def _roles(need: Need) -> dict[int, str]:
    """Who is who in the thread, for labelling messages (anyone else writing is a manager)."""
    roles: dict[int, str] = {}
    a = holding_assignment(need)
    if a is not None:
        roles[a.volunteer_id] = states.VOLUNTEER
    for pk in (need.published_by_id, need.requester_id):
        if pk is not None:
            roles[pk] = states.REQUESTER
    return roles


def _message_out(m: ThreadMessage, roles: dict[int, str], actor_id: int) -> MessageOut:
    return MessageOut(
        id=m.pk,
        need_id=m.need_id,
        author_id=m.author_id,
        author_role=roles.get(m.author_id, MANAGER),
        body=m.body,
        created_at=m.created_at,
        mine=m.author_id == actor_id,
    )


def _evidence_out(e: Evidence, member: bool) -> EvidenceOut:
    return EvidenceOut(
        id=e.pk,
        need_id=e.need_id,
        kind=e.kind,
        kind_label=str(EvidenceKind(e.kind).label),
        content_type=e.content_type,
        size=e.size,
        uploaded_by_id=e.uploaded_by_id,
        created_at=e.created_at,
        download_url=(
            reverse("api:huzhu_needs_api_evidence_file", kwargs={"evidence_id": e.pk})
            if member
            else None
        ),
    )


def _spot_check_out(c: SpotCheck) -> SpotCheckOut:
    return SpotCheckOut(
        id=c.pk,
        need_id=c.need_id,
        manager_id=c.manager_id,
        method=c.method,
        method_label=str(SpotCheckMethod(c.method).label),
        result=c.result,
        result_label=str(SpotCheckResult(c.result).label),
        note=c.note,
        created_at=c.created_at,
    )


def _replayed(qs: QuerySet[Model], key: str) -> bool:
    return qs.filter(idempotency_key=key[:128]).exists()


# --- the thread ------------------------------------------------------------------------------


@router.get(
    "needs/{int:need_id}/thread",
    response={200: ThreadPage, **ERRORS},
    operation_id="huzhu_needs_api_thread",
)
def thread(request: HttpRequest, need_id: PathId, q: Query[PageIn]) -> ThreadPage:
    """The need's tracking thread (跟踪群), oldest message first; for its members only."""
    actor = actor_of(request)
    need = load_need(need_id)
    actions.require_member(actor, need)
    rows, meta = paginate(ThreadMessage.objects.filter(need=need).order_by("created_at", "id"), q)
    roles = _roles(need)
    return ThreadPage(items=[_message_out(m, roles, actor.pk) for m in rows], meta=meta)


@router.post(
    "needs/{int:need_id}/thread",
    response={200: MessageOut, 201: MessageOut, **ERRORS},
    operation_id="huzhu_needs_api_post_message",
)
def post_message(request: HttpRequest, need_id: PathId, payload: MessageIn) -> Reply[MessageOut]:
    """Write in the need's tracking thread; the other members are notified. 201 with the
    message; a replay answers 200 with the first one."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    replay = _replayed(ThreadMessage.objects.filter(need=need, author=actor), key)
    message = actions.post_message(actor=actor, need=need, body=payload.body, key=key)
    return Reply(200 if replay else 201, _message_out(message, _roles(need), actor.pk))


# --- evidence --------------------------------------------------------------------------------


@router.post(
    "needs/{int:need_id}/evidence",
    response={200: EvidenceOut, 201: EvidenceOut, **ERRORS},
    operation_id="huzhu_needs_api_upload_evidence",
)
def upload_evidence(
    request: HttpRequest,
    need_id: PathId,
    file: File[UploadedFile],
    idempotency_key: Form[str | None] = None,
) -> Reply[EvidenceOut]:
    """Upload a photo (JPEG, PNG, WebP) or video (MP4, MOV) of the service (multipart, field
    ``file``): the serving volunteer, or a manager ("needs.manage"), while the need is
    accepted, in service or completed. The type is read from the file's content; the size
    limits are community settings. 201 with the evidence; a replay answers 200."""
    actor = actor_of(request)
    key = key_of(request, idempotency_key)
    need = load_need(need_id)
    replay = _replayed(Evidence.objects.filter(need=need, uploaded_by=actor), key)
    evidence = actions.upload_evidence(actor=actor, need=need, file=file, key=key)
    return Reply(200 if replay else 201, _evidence_out(evidence, True))


@router.get(
    "needs/{int:need_id}/evidence",
    response={200: EvidenceList, **ERRORS},
    operation_id="huzhu_needs_api_list_evidence",
)
def list_evidence(request: HttpRequest, need_id: PathId) -> EvidenceList:
    """The need's evidence, oldest first, for whoever may see the need: metadata only, with
    a download URL for the members of its tracking thread."""
    actor = actor_of(request)
    need = visible_need(actor, need_id)
    member = actions.thread_role(actor, need) is not None
    rows = Evidence.objects.filter(need=need).order_by("created_at", "id")
    return EvidenceList(items=[_evidence_out(e, member) for e in rows])


@router.get(
    "needs/evidence/{int:evidence_id}/file",
    response={**ERRORS},
    operation_id="huzhu_needs_api_evidence_file",
    url_name="huzhu_needs_api_evidence_file",
    openapi_extra={
        "responses": {
            200: {
                "description": "文件内容（照片或视频）",
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}}
                    for t in (
                        "image/jpeg",
                        "image/png",
                        "image/webp",
                        "video/mp4",
                        "video/quicktime",
                    )
                },
            }
        }
    },
)
def evidence_file(request: HttpRequest, evidence_id: PathId) -> FileResponse:
    """Download an evidence file; for the members of the need's tracking thread only."""
    actor = actor_of(request)
    evidence = get_object_or_404(Evidence.objects.select_related("need"), pk=evidence_id)
    need = load_need(evidence.need_id)
    actions.require_member(actor, need)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        content_type=evidence.content_type,
        filename=f"evidence-{evidence.pk}{evidence.extension}",
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- spot checks -----------------------------------------------------------------------------


@router.post(
    "needs/{int:need_id}/spot-checks",
    response={200: SpotCheckOut, 201: SpotCheckOut, **ERRORS},
    operation_id="huzhu_needs_api_record_spot_check",
)
def record_spot_check(
    request: HttpRequest, need_id: PathId, payload: SpotCheckIn
) -> Reply[SpotCheckOut]:
    """Record a spot check (抽查) of a service by phone or on site and its result
    ("needs.manage": building manager, branch head); a problem needs a note. 201 with the
    record; a replay answers 200."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    need = load_need(need_id)
    replay = _replayed(SpotCheck.objects.filter(need=need, manager=actor), key)
    check = actions.record_spot_check(
        actor=actor,
        need=need,
        method=payload.method,
        result=payload.result,
        note=payload.note,
        key=key,
    )
    return Reply(200 if replay else 201, _spot_check_out(check))


@router.get(
    "needs/{int:need_id}/spot-checks",
    response={200: SpotCheckList, **ERRORS},
    operation_id="huzhu_needs_api_list_spot_checks",
)
def list_spot_checks(request: HttpRequest, need_id: PathId) -> SpotCheckList:
    """The need's spot checks, oldest first ("needs.view")."""
    actor = actor_of(request)
    need = load_need(need_id)
    policy.require(actor, VIEW, need.scope_node())
    rows = SpotCheck.objects.filter(need=need).order_by("created_at", "id")
    return SpotCheckList(items=[_spot_check_out(c) for c in rows])
