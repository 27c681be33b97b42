"""Every change to a living document (DOMAIN.md "Lockdown operations": SOPs and the org chart
are living documents, versioned, residents suggest changes, "1.0, 2.0, 3.0").

Each action: one transaction, the permission checked (a document one may not see is 404), a
DomainError with a localized message for a broken rule, an audit entry, and an idempotency key
on every write (a replay answers what the first call made); accepting and rejecting a
suggestion are idempotent by its state.
"""

from __future__ import annotations

from typing import IO

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.documents import images
from huzhu.documents.models import (
    Document,
    DocumentKind,
    DocumentVersion,
    Suggestion,
    SuggestionState,
    Visibility,
    version_label,
)
from huzhu.documents.queries import EDIT, REVIEW, may_suggest, may_view
from huzhu.orgs.models import Community, Group, JobDescription

KEY_MAX = 128
TITLE_MAX = 100
BODY_MAX = 100_000
SUMMARY_MAX = 200
NOTE_MAX = 500


def _key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > KEY_MAX:
        raise DomainError(
            "documents.key.invalid",
            _("缺少幂等键，或幂等键超过 128 个字符。"),
            details={"field": "idempotency_key"},
        )
    return key


def _text(value: str, field: str, limit: int, *, required: bool) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if required and not value:
        raise DomainError("documents.field.required", _("此项为必填项。"), details={"field": field})
    if len(value) > limit or "\x00" in value:
        raise DomainError(
            "documents.field.too_long",
            _("内容过长（最多 %(limit)s 个字）。") % {"limit": limit},
            details={"field": field},
        )
    return value


def _require_view(actor: Person, document: Document) -> None:
    if not may_view(actor, document):
        raise Http404


def _require(actor: Person, perm: str, document: Document) -> None:
    """404 for a document the actor may not see; 403 without the permission."""
    _require_view(actor, document)
    if not policy.can(actor, perm, document):
        raise PermissionDenied(perm)


def _lock(document: Document) -> Document:
    return (
        Document.objects.select_for_update(of=("self",))
        .select_related("community", "group")
        .get(pk=document.pk)
    )


def _current(document: Document) -> DocumentVersion:
    return DocumentVersion.objects.get(document=document, number=document.current_version)


def _store_flowchart(version: DocumentVersion, file: IO[bytes] | None) -> str:
    """Check an uploaded flowchart by its content and write it to storage; the stored name."""
    if file is None:
        return ""
    info = images.check_flowchart(file)
    version.flowchart_type = info.content_type
    field = DocumentVersion._meta.get_field("flowchart")
    return str(field.storage.save(field.generate_filename(version, "flowchart"), file))


def _discard(name: str) -> None:
    if name:
        DocumentVersion._meta.get_field("flowchart").storage.delete(name)


def _stale(current: int) -> ConflictError:
    return ConflictError(
        "documents.version.stale",
        _("有人已保存了更新的版本（%(version)s），请查看最新内容后再修改。")
        % {"version": version_label(current)},
        details={"field": "based_on", "current_version": current},
    )


@transaction.atomic
def create_document(
    *,
    actor: Person,
    community: Community,
    title: str,
    kind: str,
    body: str,
    key: str,
    visibility: str = Visibility.COMMUNITY,
    group: Group | None = None,
    job_description: JobDescription | None = None,
    summary: str = "",
    flowchart: IO[bytes] | None = None,
) -> Document:
    """A new document with its first version 1.0: "documents.edit" on the owning group (its
    leader) or on the community (the branch head). Idempotent by the creator's key."""
    key = _key(key)
    existing = Document.objects.filter(created_by=actor, create_key=key).first()
    if existing is not None:
        _require_view(actor, existing)
        return existing
    if group is not None and group.community_id != community.pk:
        raise DomainError(
            "documents.group.community", _("小组不属于该社区。"), details={"field": "group"}
        )
    if job_description is not None and job_description.community_id != community.pk:
        raise DomainError(
            "documents.job.community",
            _("岗位说明书不属于该社区。"),
            details={"field": "job_description"},
        )
    policy.require(actor, EDIT, group if group is not None else community)
    if kind not in DocumentKind.values:
        raise DomainError("documents.kind.invalid", _("文档类别无效。"), details={"field": "kind"})
    if visibility not in Visibility.values:
        raise DomainError(
            "documents.visibility.invalid", _("可见范围无效。"), details={"field": "visibility"}
        )
    if visibility == Visibility.GROUP and group is None:
        raise DomainError(
            "documents.visibility.needs_group",
            _("“仅本小组”可见的文档必须指定负责小组。"),
            details={"field": "visibility"},
        )
    title = _text(title, "title", TITLE_MAX, required=True)
    body = _text(body, "body", BODY_MAX, required=True)
    summary = _text(summary, "summary", SUMMARY_MAX, required=False) or str(_("初版"))
    version = DocumentVersion(author=actor, published_by=actor, number=1, summary=summary)
    name = _store_flowchart(version, flowchart)
    try:
        with transaction.atomic():
            document = Document.objects.create(
                community=community,
                group=group,
                job_description=job_description,
                kind=kind,
                title=title,
                visibility=visibility,
                current_version=1,
                created_by=actor,
                create_key=key,
            )
            version.document = document
            version.community = community
            version.body = body
            version.flowchart = name
            version.created_at = clock.now()
            version.save()
    except IntegrityError:
        _discard(name)
        existing = Document.objects.filter(created_by=actor, create_key=key).first()
        if existing is None:
            raise
        return existing
    except BaseException:
        _discard(name)
        raise
    record(
        "documents.document.created",
        actor=actor,
        target=document,
        community=community,
        new={
            "title": title,
            "kind": kind,
            "visibility": visibility,
            "group": group.pk if group is not None else None,
            "version": version.label,
            "flowchart": bool(name),
        },
    )
    return document


@transaction.atomic
def publish_version(
    *,
    actor: Person,
    document: Document,
    based_on: int,
    body: str,
    summary: str,
    key: str,
    flowchart: IO[bytes] | None = None,
    remove_flowchart: bool = False,
) -> DocumentVersion:
    """Save a new version ("documents.edit"). ``based_on`` is the version the editor started
    from: when someone saved a newer one meanwhile, nothing is overwritten (409). The
    flowchart is carried over from the previous version unless a new one is uploaded or it is
    removed. Idempotent by key."""
    key = _key(key)
    earlier: DocumentVersion | None = DocumentVersion.objects.filter(
        document_id=document.pk, key=key
    ).first()
    if earlier is not None:
        _require_view(actor, document)
        return earlier
    document = _lock(document)
    _require(actor, EDIT, document)
    if based_on != document.current_version:
        raise _stale(document.current_version)
    body = _text(body, "body", BODY_MAX, required=True)
    summary = _text(summary, "summary", SUMMARY_MAX, required=True)
    previous = _current(document)
    if (
        body == previous.body
        and flowchart is None
        and not (remove_flowchart and previous.flowchart)
    ):
        raise DomainError(
            "documents.version.unchanged",
            _("内容没有变化，无需保存新版本。"),
            details={"field": "body"},
        )
    number = document.current_version + 1
    version = DocumentVersion(
        document=document,
        community_id=document.community_id,
        number=number,
        body=body,
        summary=summary,
        author=actor,
        published_by=actor,
        based_on=previous,
        key=key,
    )
    name = _store_flowchart(version, flowchart)
    if not name and not remove_flowchart and previous.flowchart:
        version.flowchart = previous.flowchart.name
        version.flowchart_type = previous.flowchart_type
    else:
        version.flowchart = name
    try:
        with transaction.atomic():
            version.created_at = clock.now()
            version.save()
            document.current_version = number
            document.save(update_fields=["current_version", "updated_at"])
    except BaseException:
        _discard(name)
        raise
    record(
        "documents.version.published",
        actor=actor,
        target=document,
        community=document.community,
        old={"version": previous.label},
        new={"version": version.label, "summary": summary, "flowchart": bool(version.flowchart)},
    )
    return version


@transaction.atomic
def suggest_change(
    *,
    actor: Person,
    document: Document,
    base_version: int,
    body: str,
    reason: str,
    key: str,
) -> Suggestion:
    """A resident who can see the document proposes a new text against the version they read,
    with a reason ("documents.suggest"; living in the community is enough). Idempotent by the
    author's key."""
    key = _key(key)
    earlier = Suggestion.objects.filter(author=actor, key=key).first()
    if earlier is not None:
        _require_view(actor, earlier.document)
        return earlier
    document = Document.objects.select_related("community", "group").get(pk=document.pk)
    _require_view(actor, document)
    if not may_suggest(actor, document):
        raise PermissionDenied("documents.suggest")
    base = DocumentVersion.objects.filter(document=document, number=base_version).first()
    if base is None:
        raise DomainError(
            "documents.version.unknown",
            _("没有这个版本。"),
            details={"field": "base_version"},
        )
    body = _text(body, "body", BODY_MAX, required=True)
    reason = _text(reason, "reason", NOTE_MAX, required=True)
    if body == base.body:
        raise DomainError(
            "documents.suggestion.unchanged",
            _("建议的内容与原文相同，请先修改正文。"),
            details={"field": "body"},
        )
    try:
        with transaction.atomic():
            suggestion = Suggestion.objects.create(
                document=document,
                community_id=document.community_id,
                base_version=base,
                body=body,
                reason=reason,
                author=actor,
                key=key,
            )
    except IntegrityError:
        return Suggestion.objects.get(author=actor, key=key)
    record(
        "documents.suggestion.created",
        actor=actor,
        target=document,
        community=document.community,
        new={"suggestion": suggestion.pk, "base_version": base.label, "reason": reason},
    )
    return suggestion


def _tell_author(actor: Person, suggestion: Suggestion, document: Document, **context: str) -> None:
    """Tell the resident what became of their suggestion (once: the key names it)."""
    from huzhu.notify.actions import notify
    from huzhu.notify.render import render_event

    author = suggestion.author
    if author.pk == actor.pk or not author.is_active:
        return
    code = f"documents.suggestion.{suggestion.state}"
    title, body = render_event(
        code,
        author,
        actor=actor.name,
        title=document.title,
        note=suggestion.decision_note,
        **context,
    )
    notify(
        person=author,
        code=code,
        title=title,
        body=body,
        link=reverse("documents:suggestion", kwargs={"pk": suggestion.pk}),
        key=f"documents.suggestion:{suggestion.pk}:{suggestion.state}",
        community=document.community,
    )


def _lock_suggestion(suggestion: Suggestion) -> tuple[Suggestion, Document]:
    document = _lock(suggestion.document)
    locked = (
        Suggestion.objects.select_for_update(of=("self",))
        .select_related("base_version", "resulting_version", "author")
        .get(pk=suggestion.pk)
    )
    return locked, document


def _decided(suggestion: Suggestion) -> ConflictError:
    return ConflictError(
        "documents.suggestion.decided",
        _("该建议已处理（%(state)s）。") % {"state": suggestion.state_label},
        details={"state": suggestion.state},
    )


@transaction.atomic
def accept_suggestion(
    *,
    actor: Person,
    suggestion: Suggestion,
    based_on: int | None = None,
    note: str = "",
) -> DocumentVersion:
    """A group leader ("documents.review_suggestion") accepts a suggestion: its text becomes
    the next version, the resident credited as its author, the leader as who published it.

    ``based_on`` is the version the reviewer compared the suggestion with; it defaults to the
    version the suggestion was made on. When the document has moved on since (409), the
    reviewer compares the suggestion with the current text and confirms with its number, so
    that a later change is never dropped unseen. Idempotent: accepting twice answers the same
    version."""
    suggestion, document = _lock_suggestion(suggestion)
    _require(actor, REVIEW, document)
    if suggestion.state == SuggestionState.ACCEPTED:
        assert suggestion.resulting_version is not None
        return suggestion.resulting_version
    if suggestion.state != SuggestionState.OPEN:
        raise _decided(suggestion)
    note = _text(note, "note", NOTE_MAX, required=False)
    seen = suggestion.base_version.number if based_on is None else based_on
    if seen != document.current_version:
        raise _stale(document.current_version)
    previous = _current(document)
    if suggestion.body == previous.body:
        raise DomainError(
            "documents.version.unchanged",
            _("内容没有变化，无需保存新版本。"),
            details={"field": "body"},
        )
    number = document.current_version + 1
    version = DocumentVersion.objects.create(
        document=document,
        community_id=document.community_id,
        number=number,
        body=suggestion.body,
        summary=suggestion.reason[:SUMMARY_MAX],
        author_id=suggestion.author_id,
        published_by=actor,
        based_on=previous,
        flowchart=previous.flowchart.name if previous.flowchart else "",
        flowchart_type=previous.flowchart_type,
        created_at=clock.now(),
        key=f"suggestion:{suggestion.pk}",
    )
    document.current_version = number
    document.save(update_fields=["current_version", "updated_at"])
    suggestion.state = SuggestionState.ACCEPTED
    suggestion.decided_by = actor
    suggestion.decided_at = clock.now()
    suggestion.decision_note = note
    suggestion.resulting_version = version
    suggestion.save(
        update_fields=[
            "state",
            "decided_by",
            "decided_at",
            "decision_note",
            "resulting_version",
            "updated_at",
        ]
    )
    record(
        "documents.suggestion.accepted",
        actor=actor,
        target=document,
        community=document.community,
        old={"version": previous.label},
        new={
            "suggestion": suggestion.pk,
            "version": version.label,
            "author": suggestion.author_id,
            "note": note,
        },
    )
    _tell_author(actor, suggestion, document, version=version.label)
    return version


@transaction.atomic
def reject_suggestion(*, actor: Person, suggestion: Suggestion, note: str) -> Suggestion:
    """A group leader declines a suggestion with a note for its author. Idempotent."""
    suggestion, document = _lock_suggestion(suggestion)
    _require(actor, REVIEW, document)
    if suggestion.state == SuggestionState.REJECTED:
        return suggestion
    if suggestion.state != SuggestionState.OPEN:
        raise _decided(suggestion)
    note = _text(note, "note", NOTE_MAX, required=True)
    suggestion.state = SuggestionState.REJECTED
    suggestion.decided_by = actor
    suggestion.decided_at = clock.now()
    suggestion.decision_note = note
    suggestion.save(
        update_fields=["state", "decided_by", "decided_at", "decision_note", "updated_at"]
    )
    record(
        "documents.suggestion.rejected",
        actor=actor,
        target=document,
        community=document.community,
        new={"suggestion": suggestion.pk, "note": note},
    )
    _tell_author(actor, suggestion, document)
    return suggestion
