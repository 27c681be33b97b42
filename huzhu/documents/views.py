"""Document pages: the list (search, kind filter, paging; public documents also without
signing in), a document with its current text, flowchart and history, the diff between two
versions, editing (a new version), suggesting a change, the suggestions and their review.

A document one may not see is 404 (without signing in: the login page); inside it, a missing
permission is 403. A broken rule becomes a message on the form it came from."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.documents import actions, diff, queries
from huzhu.documents.forms import DecisionForm, DocumentForm, SuggestionForm, VersionForm
from huzhu.documents.models import (
    Document,
    DocumentKind,
    DocumentVersion,
    Suggestion,
    SuggestionState,
    Visibility,
)
from huzhu.orgs.forms import add_domain_error
from huzhu.orgs.models import Group

app_name = "documents"

_VIS_BADGE = {Visibility.PUBLIC: "ok", Visibility.COMMUNITY: "", Visibility.GROUP: "warn"}
_STATE_BADGE = {
    SuggestionState.OPEN: "warn",
    SuggestionState.ACCEPTED: "ok",
    SuggestionState.REJECTED: "err",
}


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _document_or_login(request: HttpRequest, pk: int) -> Document | HttpResponse:
    """The document when the visitor may read it; without signing in the login page (for any
    document that is not public), else 404."""
    try:
        return queries.get_document(request.user, pk)
    except Http404:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise


def _raise_forbidden(exc: DomainError) -> None:
    if exc.status == 403:
        raise PermissionDenied(exc.code) from None


def _int(value: Any) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if 1 <= n <= 1_000_000 else None


@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    """文档: the SOPs and job descriptions one may read, the last changed first."""
    user = request.user
    text = request.GET.get("q", "")[:100]
    kind = request.GET.get("kind", "")
    if kind not in DocumentKind.values:
        kind = ""
    qs = queries.search(queries.visible_documents(user), text=text, kind=kind)
    qs = (
        qs.select_related("community", "group")
        .annotate(open_suggestions=Count("suggestions", filter=Q(suggestions__state="open")))
        .order_by("-updated_at", "-pk")
    )
    page = Paginator(qs, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "doc": d,
            "kind": DocumentKind(d.kind).label,
            "visibility": Visibility(d.visibility).label,
            "badge": _VIS_BADGE[Visibility(d.visibility)],
        }
        for d in page.object_list
    ]
    return render(
        request,
        "documents/list.html",
        {
            "page": page,
            "rows": rows,
            "q": text,
            "kind": kind,
            "kinds": DocumentKind.choices,
            "may_create": policy.can_anywhere(user, queries.EDIT),
        },
    )


@login_required
def document_create(request: HttpRequest) -> HttpResponse:
    """新建文档: a group leader for their group, a branch head for their community."""
    actor = _actor(request)
    if not policy.can_anywhere(actor, queries.EDIT):
        raise PermissionDenied(queries.EDIT)
    groups = policy.visible_to(actor, queries.EDIT, Group.objects.all())
    communities = policy.communities_for(actor, queries.EDIT)
    if request.method == "POST":
        form = DocumentForm(request.POST, request.FILES, groups=groups, communities=communities)
        if form.is_valid():
            data = form.cleaned_data
            try:
                document = actions.create_document(
                    actor=actor,
                    community=data["community"],
                    group=data["group"],
                    kind=data["kind"],
                    title=data["title"],
                    visibility=data["visibility"],
                    body=data["body"],
                    flowchart=data["flowchart"] or None,
                    key=data["key"],
                )
            except DomainError as exc:
                _raise_forbidden(exc)
                add_domain_error(form, exc)
            else:
                messages.success(request, _("文档已创建（1.0 版）。"))
                return redirect(reverse("documents:detail", kwargs={"pk": document.pk}))
    else:
        form = DocumentForm(
            initial={"key": uuid.uuid4().hex}, groups=groups, communities=communities
        )
    return render(request, "documents/form.html", {"form": form})


@require_GET
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One document: the current text (or ``?version=N``), its flowchart, who changed what and
    when, the choice of two versions to compare, the open suggestions."""
    found = _document_or_login(request, pk)
    if isinstance(found, HttpResponse):
        return found
    document = found
    user = request.user
    history = DocumentVersion.objects.filter(document=document).select_related(
        "author", "published_by", "accepted_suggestion"
    )
    wanted = _int(request.GET.get("version")) or document.current_version
    shown = history.filter(number=wanted).first()
    if shown is None:
        raise Http404
    page = Paginator(history.order_by("-number"), settings.HUZHU_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    numbers = list(range(document.current_version, 0, -1))
    signed_in = user.is_authenticated
    return render(
        request,
        "documents/detail.html",
        {
            "doc": document,
            "kind": DocumentKind(document.kind).label,
            "visibility": Visibility(document.visibility).label,
            "badge": _VIS_BADGE[Visibility(document.visibility)],
            "shown": shown,
            "is_current": shown.number == document.current_version,
            "page": page,
            "numbers": numbers,
            "diff_from": max(1, document.current_version - 1),
            "open_suggestions": document.suggestions.filter(state=SuggestionState.OPEN).count(),
            "may_edit": signed_in and queries.may_edit(user, document),
            "may_suggest": signed_in and queries.may_suggest(user, document),
        },
    )


@require_GET
def flowchart(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    """The flowchart image of a version, for those who may read the document."""
    version = DocumentVersion.objects.filter(pk=pk).only("document_id").first()
    found = _document_or_login(request, version.document_id if version else 0)
    if not isinstance(found, Document):
        return found
    assert version is not None
    version = DocumentVersion.objects.get(pk=pk)
    if not version.flowchart:
        raise Http404
    try:
        handle = version.flowchart.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=version.flowchart_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@require_GET
def document_diff(request: HttpRequest, pk: int) -> HttpResponse:
    """The changes between two versions (``?from=1&to=2``; by default the last change)."""
    found = _document_or_login(request, pk)
    if isinstance(found, HttpResponse):
        return found
    document = found
    current = document.current_version
    a = _int(request.GET.get("from")) or max(1, current - 1)
    b = _int(request.GET.get("to")) or current
    try:
        old, new = queries.versions_to_compare(document, a, b)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(reverse("documents:detail", kwargs={"pk": document.pk}))
    return render(
        request,
        "documents/diff.html",
        {
            "doc": document,
            "old": old,
            "new": new,
            "diff": diff.side_by_side(old.body, new.body),
            "numbers": list(range(current, 0, -1)),
        },
    )


@login_required
def document_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """修订: a new version from the current one ("documents.edit")."""
    actor = _actor(request)
    document = queries.get_document(actor, pk)
    if not policy.can(actor, queries.EDIT, document):
        raise PermissionDenied(queries.EDIT)
    current = DocumentVersion.objects.get(document=document, number=document.current_version)
    if request.method == "POST":
        form = VersionForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                version = actions.publish_version(
                    actor=actor,
                    document=document,
                    based_on=data["based_on"],
                    body=data["body"],
                    summary=data["summary"],
                    flowchart=data["flowchart"] or None,
                    remove_flowchart=data["remove_flowchart"],
                    key=data["key"],
                )
            except DomainError as exc:
                _raise_forbidden(exc)
                add_domain_error(form, exc)
            else:
                messages.success(
                    request, _("已保存为 %(version)s 版。") % {"version": version.label}
                )
                return redirect(reverse("documents:detail", kwargs={"pk": document.pk}))
    else:
        form = VersionForm(
            initial={
                "body": current.body,
                "based_on": current.number,
                "key": uuid.uuid4().hex,
            }
        )
    return render(
        request, "documents/edit.html", {"doc": document, "form": form, "current": current}
    )


@login_required
def document_suggest(request: HttpRequest, pk: int) -> HttpResponse:
    """提建议: a resident proposes a new text with a reason."""
    actor = _actor(request)
    document = queries.get_document(actor, pk)
    if not queries.may_suggest(actor, document):
        raise PermissionDenied(queries.SUGGEST)
    current = DocumentVersion.objects.get(document=document, number=document.current_version)
    if request.method == "POST":
        form = SuggestionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                suggestion = actions.suggest_change(
                    actor=actor,
                    document=document,
                    base_version=data["base_version"],
                    body=data["body"],
                    reason=data["reason"],
                    key=data["key"],
                )
            except DomainError as exc:
                _raise_forbidden(exc)
                add_domain_error(form, exc)
            else:
                messages.success(request, _("建议已提交，组长处理后会在这里显示结果。"))
                return redirect(reverse("documents:suggestion", kwargs={"pk": suggestion.pk}))
    else:
        form = SuggestionForm(
            initial={"body": current.body, "base_version": current.number, "key": uuid.uuid4().hex}
        )
    return render(
        request, "documents/suggest.html", {"doc": document, "form": form, "current": current}
    )


@login_required
@require_GET
def suggestion_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The suggestions on a document, the open ones first (``?state=`` filters)."""
    actor = _actor(request)
    document = queries.get_document(actor, pk)
    state = request.GET.get("state", "")
    if state not in SuggestionState.values:
        state = ""
    qs = Suggestion.objects.filter(document=document).select_related(
        "author", "decided_by", "base_version", "resulting_version"
    )
    if state:
        qs = qs.filter(state=state)
    page = Paginator(qs.order_by("-created_at", "-pk"), settings.HUZHU_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [{"s": s, "badge": _STATE_BADGE[SuggestionState(s.state)]} for s in page.object_list]
    return render(
        request,
        "documents/suggestions.html",
        {
            "doc": document,
            "page": page,
            "rows": rows,
            "state": state,
            "states": SuggestionState.choices,
        },
    )


def _suggestion_context(actor: Person, suggestion: Suggestion) -> dict[str, Any]:
    document = suggestion.document
    base = suggestion.base_version
    context: dict[str, Any] = {
        "s": suggestion,
        "doc": document,
        "badge": _STATE_BADGE[SuggestionState(suggestion.state)],
        "diff": diff.side_by_side(base.body, suggestion.body),
        "stale": base.number != document.current_version,
        "may_review": suggestion.state == SuggestionState.OPEN
        and queries.may_review(actor, document),
    }
    if context["stale"]:
        current = DocumentVersion.objects.get(document=document, number=document.current_version)
        context["current"] = current
        context["against_current"] = diff.side_by_side(current.body, suggestion.body)
    return context


@login_required
@require_GET
def suggestion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One suggestion: what it changes, why, its state; the leader's accept / reject."""
    actor = _actor(request)
    suggestion = queries.get_suggestion(actor, pk)
    context = _suggestion_context(actor, suggestion)
    context["form"] = DecisionForm(initial={"based_on": suggestion.document.current_version})
    return render(request, "documents/suggestion.html", context)


@login_required
@require_POST
def suggestion_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept (a new version, the resident credited) or reject (with a note)."""
    actor = _actor(request)
    suggestion = queries.get_suggestion(actor, pk)
    if not policy.can(actor, queries.REVIEW, suggestion.document):
        raise PermissionDenied(queries.REVIEW)
    form = DecisionForm(request.POST)
    decision = request.POST.get("decision", "")
    if decision not in ("accept", "reject"):
        form.add_error(None, _("请选择采纳或不采纳。"))
    if form.is_valid():
        data = form.cleaned_data
        try:
            if decision == "accept":
                version = actions.accept_suggestion(
                    actor=actor,
                    suggestion=suggestion,
                    based_on=data["based_on"],
                    note=data["note"],
                )
                messages.success(
                    request,
                    _("已采纳，文档更新为 %(version)s 版。") % {"version": version.label},
                )
            else:
                actions.reject_suggestion(actor=actor, suggestion=suggestion, note=data["note"])
                messages.success(request, _("已标记为不采纳。"))
        except DomainError as exc:
            _raise_forbidden(exc)
            add_domain_error(form, exc)
        else:
            return redirect(reverse("documents:suggestion", kwargs={"pk": suggestion.pk}))
    suggestion = queries.get_suggestion(actor, pk)
    context = _suggestion_context(actor, suggestion)
    context["form"] = form
    return render(request, "documents/suggestion.html", context, status=400)


urlpatterns = [
    path("", document_list, name="list"),
    path("new/", document_create, name="create"),
    path("<int:pk>/", document_detail, name="detail"),
    path("<int:pk>/diff/", document_diff, name="diff"),
    path("<int:pk>/edit/", document_edit, name="edit"),
    path("<int:pk>/suggest/", document_suggest, name="suggest"),
    path("<int:pk>/suggestions/", suggestion_list, name="suggestions"),
    path("suggestions/<int:pk>/", suggestion_detail, name="suggestion"),
    path("suggestions/<int:pk>/decide/", suggestion_decide, name="suggestion_decide"),
    path("versions/<int:pk>/flowchart/", flowchart, name="flowchart"),
]
