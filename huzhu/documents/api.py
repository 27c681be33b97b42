"""Living documents API (SOPs and job descriptions; DOMAIN.md "Lockdown operations").

Who: a document is read by whoever its visibility admits (public / community / group, see
huzhu.documents.queries; 404 otherwise); "documents.edit" (the leader of the owning group, the
branch head) creates documents and saves versions; everyone of the community who can read a
document suggests changes; "documents.review_suggestion" accepts or rejects them.

Every write takes an idempotency key (header ``Idempotency-Key``, or the body field
``idempotency_key``): creating a document, saving a version and suggesting are idempotent by
it (a replay answers 200 with what the first call made); accepting and rejecting are
idempotent by the suggestion's state. Saving a version names the version it was based on: a
newer one saved meanwhile answers 409 ``documents.version.stale``. Flowcharts are uploaded on
the pages (multipart); the API reports whether a version has one and where to fetch it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status as Reply

from huzhu.accounts.api.schemas import KEY_FIELD, NO_NUL, Key, PathId
from huzhu.core.api import ERRORS, PageIn, PageMeta, actor_of, idempotency_key, paginate
from huzhu.core.errors import DomainError
from huzhu.documents import actions, diff, queries
from huzhu.documents.models import (
    Document,
    DocumentKind,
    DocumentVersion,
    Suggestion,
    SuggestionState,
    Visibility,
)
from huzhu.orgs.models import Community, Group, JobDescription

router = Router(tags=["documents"])

Body = Field(..., min_length=1, max_length=100_000, pattern=NO_NUL)


# --- schemas ---------------------------------------------------------------------------------


class DocumentIn(Schema):
    community_id: int = Field(..., ge=1)
    group_id: int | None = Field(None, ge=1, description="负责小组（其组长维护此文档）")
    job_description_id: int | None = Field(None, ge=1, description="对应的岗位说明书")
    kind: str = Field(..., max_length=20, description=" / ".join(DocumentKind.values))
    title: str = Field(..., min_length=1, max_length=100, pattern=NO_NUL)
    visibility: str = Field(
        Visibility.COMMUNITY, max_length=10, description="public / community / group"
    )
    body: str = Body
    summary: str = Field("", max_length=200, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class DocumentOut(Schema):
    id: int
    community_id: int
    group_id: int | None
    job_description_id: int | None
    kind: str
    title: str
    visibility: str
    current_version: int
    version_label: str
    updated_at: dt.datetime


class VersionOut(Schema):
    number: int
    label: str
    summary: str
    author_id: int
    author: str
    published_by_id: int
    published_by: str
    based_on: int | None
    created_at: dt.datetime
    flowchart_url: str | None
    from_suggestion_id: int | None


class DocumentDetailOut(DocumentOut):
    version: VersionOut
    body: str
    may_edit: bool
    may_suggest: bool
    open_suggestions: int


class DocumentPage(Schema):
    items: list[DocumentOut]
    meta: PageMeta


class DocumentQuery(PageIn):
    q: str = Field("", max_length=100, description="标题或正文中的文字")
    kind: str = Field("", max_length=20)
    community_id: int | None = Field(None, ge=1)


class DetailQuery(Schema):
    version: int | None = Field(None, ge=1, le=1_000_000, description="版本号；不填为当前版本")


class VersionPage(Schema):
    items: list[VersionOut]
    meta: PageMeta


class VersionIn(Schema):
    based_on: int = Field(..., ge=1, description="修改所基于的版本号（须为当前版本）")
    body: str = Body
    summary: str = Field(..., min_length=1, max_length=200, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class DiffQuery(Schema):
    from_version: int | None = Field(None, alias="from", ge=1, le=1_000_000)
    to_version: int | None = Field(None, alias="to", ge=1, le=1_000_000)


class DiffOut(Schema):
    from_version: int
    to_version: int
    added: int
    removed: int
    unified: str


class SuggestionIn(Schema):
    base_version: int = Field(..., ge=1, description="建议所基于的版本号")
    body: str = Body
    reason: str = Field(..., min_length=1, max_length=500, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class SuggestionOut(Schema):
    id: int
    document_id: int
    base_version: int
    body: str
    reason: str
    author_id: int
    author: str
    state: str
    state_label: str
    decided_by_id: int | None
    decided_at: dt.datetime | None
    decision_note: str
    resulting_version: int | None
    created_at: dt.datetime


class SuggestionPage(Schema):
    items: list[SuggestionOut]
    meta: PageMeta


class SuggestionQuery(PageIn):
    state: str = Field("", max_length=10, description="open / accepted / rejected")


class AcceptIn(Schema):
    based_on: int | None = Field(
        None, ge=1, description="审阅时对照的版本号；不填为建议所基于的版本"
    )
    note: str = Field("", max_length=500, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class RejectIn(Schema):
    note: str = Field(..., min_length=1, max_length=500, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


# --- output ----------------------------------------------------------------------------------


def _doc_fields(d: Document) -> dict[str, Any]:
    return {
        "id": d.pk,
        "community_id": d.community_id,
        "group_id": d.group_id,
        "job_description_id": d.job_description_id,
        "kind": d.kind,
        "title": d.title,
        "visibility": d.visibility,
        "current_version": d.current_version,
        "version_label": d.version_label,
        "updated_at": d.updated_at,
    }


def _version_out(v: DocumentVersion) -> VersionOut:
    try:
        from_suggestion: int | None = v.accepted_suggestion.pk
    except Suggestion.DoesNotExist:
        from_suggestion = None
    return VersionOut(
        number=v.number,
        label=v.label,
        summary=v.summary,
        author_id=v.author_id,
        author=v.author.name,
        published_by_id=v.published_by_id,
        published_by=v.published_by.name,
        based_on=v.based_on.number if v.based_on is not None else None,
        created_at=v.created_at,
        flowchart_url=reverse("documents:flowchart", kwargs={"pk": v.pk}) if v.flowchart else None,
        from_suggestion_id=from_suggestion,
    )


def _versions() -> Any:
    return DocumentVersion.objects.select_related(
        "author", "published_by", "based_on", "accepted_suggestion"
    )


def _detail(actor: Any, d: Document, number: int | None = None) -> DocumentDetailOut:
    v = _versions().filter(document=d, number=number or d.current_version).first()
    if v is None:
        raise DomainError(
            "documents.version.unknown", _("没有这个版本。"), details={"field": "version"}
        )
    return DocumentDetailOut(
        **_doc_fields(d),
        version=_version_out(v),
        body=v.body,
        may_edit=queries.may_edit(actor, d),
        may_suggest=queries.may_suggest(actor, d),
        open_suggestions=d.suggestions.filter(state=SuggestionState.OPEN).count(),
    )


def _suggestion_out(s: Suggestion) -> SuggestionOut:
    return SuggestionOut(
        id=s.pk,
        document_id=s.document_id,
        base_version=s.base_version.number,
        body=s.body,
        reason=s.reason,
        author_id=s.author_id,
        author=s.author.name,
        state=s.state,
        state_label=s.state_label,
        decided_by_id=s.decided_by_id,
        decided_at=s.decided_at,
        decision_note=s.decision_note,
        resulting_version=s.resulting_version.number if s.resulting_version else None,
        created_at=s.created_at,
    )


def _in_community(model: type[Any], pk: int | None, community_id: int, field: str) -> Any:
    if pk is None:
        return None
    obj = model.objects.filter(pk=pk, community_id=community_id).first()
    if obj is None:
        raise DomainError(
            "documents.reference.unknown",
            _("引用的对象不存在或不属于该社区。"),
            details={"field": field},
        )
    return obj


# --- documents -------------------------------------------------------------------------------


@router.get(
    "documents",
    response={200: DocumentPage, **ERRORS},
    operation_id="huzhu_documents_api_list_documents",
)
def list_documents(request: HttpRequest, q: Query[DocumentQuery]) -> DocumentPage:
    """The documents I may read, the last changed first; search, kind and community filters."""
    actor = actor_of(request)
    if q.kind and q.kind not in DocumentKind.values:
        raise DomainError("documents.kind.invalid", _("文档类别无效。"), details={"field": "kind"})
    qs = queries.search(
        queries.visible_documents(actor), text=q.q, kind=q.kind, community_id=q.community_id
    )
    rows, meta = paginate(qs.order_by("-updated_at", "-pk"), q)
    return DocumentPage(items=[DocumentOut(**_doc_fields(d)) for d in rows], meta=meta)


@router.post(
    "documents",
    response={200: DocumentDetailOut, 201: DocumentDetailOut, **ERRORS},
    operation_id="huzhu_documents_api_create_document",
)
def create_document(request: HttpRequest, payload: DocumentIn) -> Reply[DocumentDetailOut]:
    """A new document with its version 1.0 ("documents.edit" on its group or community). 201;
    a replay of the key answers 200 with the same document."""
    actor = actor_of(request)
    key = idempotency_key(request, payload.idempotency_key)
    community = get_object_or_404(Community, pk=payload.community_id)
    replay = Document.objects.filter(created_by=actor, create_key=key).exists()
    d = actions.create_document(
        actor=actor,
        community=community,
        group=_in_community(Group, payload.group_id, community.pk, "group_id"),
        job_description=_in_community(
            JobDescription, payload.job_description_id, community.pk, "job_description_id"
        ),
        kind=payload.kind,
        title=payload.title,
        visibility=payload.visibility,
        body=payload.body,
        summary=payload.summary,
        key=key,
    )
    return Reply(200 if replay else 201, _detail(actor, d))


@router.get(
    "documents/{int:document_id}",
    response={200: DocumentDetailOut, **ERRORS},
    operation_id="huzhu_documents_api_get_document",
)
def get_document(
    request: HttpRequest, document_id: PathId, q: Query[DetailQuery]
) -> DocumentDetailOut:
    """A document with the text of its current version (or ``?version=N``)."""
    actor = actor_of(request)
    return _detail(actor, queries.get_document(actor, document_id), q.version)


@router.get(
    "documents/{int:document_id}/versions",
    response={200: VersionPage, **ERRORS},
    operation_id="huzhu_documents_api_list_versions",
)
def list_versions(request: HttpRequest, document_id: PathId, q: Query[PageIn]) -> VersionPage:
    """Who changed what and when: the versions, the newest first."""
    actor = actor_of(request)
    d = queries.get_document(actor, document_id)
    rows, meta = paginate(_versions().filter(document=d).order_by("-number"), q)
    return VersionPage(items=[_version_out(v) for v in rows], meta=meta)


@router.post(
    "documents/{int:document_id}/versions",
    response={200: DocumentDetailOut, 201: DocumentDetailOut, **ERRORS},
    operation_id="huzhu_documents_api_publish_version",
)
def publish_version(
    request: HttpRequest, document_id: PathId, payload: VersionIn
) -> Reply[DocumentDetailOut]:
    """Save a new version ("documents.edit"); 409 when ``based_on`` is no longer current."""
    actor = actor_of(request)
    key = idempotency_key(request, payload.idempotency_key)
    d = queries.get_document(actor, document_id)
    replay = DocumentVersion.objects.filter(document=d, key=key).exists()
    v = actions.publish_version(
        actor=actor,
        document=d,
        based_on=payload.based_on,
        body=payload.body,
        summary=payload.summary,
        key=key,
    )
    d.refresh_from_db()
    return Reply(200 if replay else 201, _detail(actor, d, v.number))


@router.get(
    "documents/{int:document_id}/diff",
    response={200: DiffOut, **ERRORS},
    operation_id="huzhu_documents_api_diff",
)
def diff_versions(request: HttpRequest, document_id: PathId, q: Query[DiffQuery]) -> DiffOut:
    """The line-by-line changes between two versions (``?from=1&to=2``; by default the last
    change), as a unified diff."""
    actor = actor_of(request)
    d = queries.get_document(actor, document_id)
    a = q.from_version or max(1, d.current_version - 1)
    b = q.to_version or d.current_version
    old, new = queries.versions_to_compare(d, a, b)
    rows = diff.side_by_side(old.body, new.body)
    return DiffOut(
        from_version=a,
        to_version=b,
        added=rows.added,
        removed=rows.removed,
        unified=diff.unified(old.body, new.body, old.label, new.label),
    )


# --- suggestions -----------------------------------------------------------------------------


def _suggestions() -> Any:
    return Suggestion.objects.select_related("base_version", "author", "resulting_version")


@router.get(
    "documents/{int:document_id}/suggestions",
    response={200: SuggestionPage, **ERRORS},
    operation_id="huzhu_documents_api_list_suggestions",
)
def list_suggestions(
    request: HttpRequest, document_id: PathId, q: Query[SuggestionQuery]
) -> SuggestionPage:
    """The suggestions on a document, the newest first (``state`` filters)."""
    actor = actor_of(request)
    d = queries.get_document(actor, document_id)
    qs = _suggestions().filter(document=d)
    if q.state:
        if q.state not in SuggestionState.values:
            raise DomainError(
                "documents.filter.state", _("状态筛选条件无效。"), details={"field": "state"}
            )
        qs = qs.filter(state=q.state)
    rows, meta = paginate(qs.order_by("-created_at", "-pk"), q)
    return SuggestionPage(items=[_suggestion_out(s) for s in rows], meta=meta)


@router.post(
    "documents/{int:document_id}/suggestions",
    response={200: SuggestionOut, 201: SuggestionOut, **ERRORS},
    operation_id="huzhu_documents_api_suggest_change",
)
def suggest_change(
    request: HttpRequest, document_id: PathId, payload: SuggestionIn
) -> Reply[SuggestionOut]:
    """Suggest a new text with a reason (everyone of the community who can read it)."""
    actor = actor_of(request)
    key = idempotency_key(request, payload.idempotency_key)
    d = queries.get_document(actor, document_id)
    replay = Suggestion.objects.filter(author=actor, key=key).exists()
    s = actions.suggest_change(
        actor=actor,
        document=d,
        base_version=payload.base_version,
        body=payload.body,
        reason=payload.reason,
        key=key,
    )
    return Reply(200 if replay else 201, _suggestion_out(s))


@router.get(
    "documents/suggestions/{int:suggestion_id}",
    response={200: SuggestionOut, **ERRORS},
    operation_id="huzhu_documents_api_get_suggestion",
)
def get_suggestion(request: HttpRequest, suggestion_id: PathId) -> SuggestionOut:
    actor = actor_of(request)
    return _suggestion_out(queries.get_suggestion(actor, suggestion_id))


def _reviewable(actor: Any, suggestion_id: int) -> Suggestion:
    s = queries.get_suggestion(actor, suggestion_id)
    if not queries.may_review(actor, s.document):
        raise PermissionDenied(queries.REVIEW)
    return s


@router.post(
    "documents/suggestions/{int:suggestion_id}/accept",
    response={200: SuggestionOut, **ERRORS},
    operation_id="huzhu_documents_api_accept_suggestion",
)
def accept_suggestion(
    request: HttpRequest, suggestion_id: PathId, payload: AcceptIn
) -> SuggestionOut:
    """Accept: the suggested text becomes the next version, its author credited. 409 when
    the document moved on since ``based_on`` (default: the suggestion's version)."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    s = _reviewable(actor, suggestion_id)
    actions.accept_suggestion(
        actor=actor, suggestion=s, based_on=payload.based_on, note=payload.note
    )
    return _suggestion_out(_suggestions().get(pk=s.pk))


@router.post(
    "documents/suggestions/{int:suggestion_id}/reject",
    response={200: SuggestionOut, **ERRORS},
    operation_id="huzhu_documents_api_reject_suggestion",
)
def reject_suggestion(
    request: HttpRequest, suggestion_id: PathId, payload: RejectIn
) -> SuggestionOut:
    """Reject with a note for the author."""
    actor = actor_of(request)
    idempotency_key(request, payload.idempotency_key)
    s = _reviewable(actor, suggestion_id)
    actions.reject_suggestion(actor=actor, suggestion=s, note=payload.note)
    return _suggestion_out(_suggestions().get(pk=s.pk))
