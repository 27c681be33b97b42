"""Who sees which document, and the lists of the pages and the API.

Visibility (``Document.visibility``):
- public: everybody, also without signing in;
- community: the members of its community — people living there or holding any role there —
  and the district admins of its alliance (``policy.in_scope``);
- group: whoever holds "documents.view_group" on its owning group: the group's members and
  leaders (a grant on a group covers its sub-groups), the branch head, the district admin.

A document one may not see answers 404 everywhere (its existence is not disclosed).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import RoleGrant
from huzhu.core.errors import DomainError
from huzhu.documents.models import Document, DocumentVersion, Suggestion, Visibility
from huzhu.orgs.models import Community

VIEW_GROUP = "documents.view_group"
EDIT = "documents.edit"
SUGGEST = "documents.suggest"
REVIEW = "documents.review_suggestion"


def _signed_in(actor: Any) -> bool:
    return bool(
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and getattr(actor, "is_active", False)
    )


def member_community_ids(actor: Any) -> set[int]:
    """The communities a person belongs to: where they live, where they hold a role, and
    every community of an alliance they hold a role on."""
    ids: set[int] = set()
    if actor.community_id is not None:
        ids.add(actor.community_id)
    alliances: set[int] = set()
    for g in RoleGrant.objects.active().filter(person=actor):
        if g.community_id is not None:
            ids.add(g.community_id)
        if g.scope_kind == "alliance" and g.alliance_id is not None:
            alliances.add(g.alliance_id)
    if alliances:
        ids |= set(Community.objects.filter(alliance_id__in=alliances).values_list("pk", flat=True))
    return ids


def may_view(actor: Any, document: Document) -> bool:
    if document.visibility == Visibility.PUBLIC:
        return True
    if not _signed_in(actor):
        return False
    if actor.is_superuser:
        return True
    if document.visibility == Visibility.COMMUNITY:
        return policy.in_scope(actor, document)
    return policy.can(actor, VIEW_GROUP, document)


def may_edit(actor: Any, document: Document) -> bool:
    return may_view(actor, document) and policy.can(actor, EDIT, document)


def may_review(actor: Any, document: Document) -> bool:
    return may_view(actor, document) and policy.can(actor, REVIEW, document)


def may_suggest(actor: Any, document: Document) -> bool:
    """Anybody of the community who can see the document (a resident needs no role grant)."""
    if not _signed_in(actor) or not may_view(actor, document):
        return False
    return actor.community_id == document.community_id or policy.can(actor, SUGGEST, document)


def visible_documents(actor: Any) -> QuerySet[Document]:
    """Every document the actor may read (public ones for everybody)."""
    qs = Document.objects.all()
    if not _signed_in(actor):
        return qs.filter(visibility=Visibility.PUBLIC)
    if actor.is_superuser:
        return qs
    group_docs = policy.visible_to(
        actor, VIEW_GROUP, Document.objects.filter(visibility=Visibility.GROUP)
    ).values("pk")
    return qs.filter(
        Q(visibility=Visibility.PUBLIC)
        | Q(visibility=Visibility.COMMUNITY, community_id__in=member_community_ids(actor))
        | Q(visibility=Visibility.GROUP, pk__in=group_docs)
    )


def get_document(actor: Any, pk: int) -> Document:
    """A document the actor may read, or 404."""
    document = (
        Document.objects.select_related("community", "group", "job_description")
        .filter(pk=pk)
        .first()
    )
    if document is None or not may_view(actor, document):
        raise Http404
    return document


def get_suggestion(actor: Any, pk: int) -> Suggestion:
    """A suggestion on a document the actor may read, or 404."""
    suggestion = (
        Suggestion.objects.select_related(
            "document",
            "document__community",
            "document__group",
            "base_version",
            "author",
            "decided_by",
            "resulting_version",
        )
        .filter(pk=pk)
        .first()
    )
    if suggestion is None or not may_view(actor, suggestion.document):
        raise Http404
    return suggestion


def search(
    qs: QuerySet[Document], *, text: str = "", kind: str = "", community_id: int | None = None
) -> QuerySet[Document]:
    """Filter a list by a word of the title or the current text, kind and community."""
    text = text.strip()
    if text:
        in_body = DocumentVersion.objects.filter(
            document=OuterRef("pk"), number=OuterRef("current_version"), body__icontains=text
        )
        qs = qs.filter(Q(title__icontains=text) | Exists(in_body))
    if kind:
        qs = qs.filter(kind=kind)
    if community_id:
        qs = qs.filter(community_id=community_id)
    return qs


def versions_to_compare(
    document: Document, a: int, b: int
) -> tuple[DocumentVersion, DocumentVersion]:
    """The two versions of a document to compare (a DomainError for a number it lacks)."""
    found = {
        v.number: v
        for v in DocumentVersion.objects.filter(
            document=document, number__in=(a, b)
        ).select_related("author", "published_by")
    }
    for n, field in ((a, "from"), (b, "to")):
        if n not in found:
            raise DomainError(
                "documents.version.unknown", _("没有这个版本。"), details={"field": field}
            )
    return found[a], found[b]
