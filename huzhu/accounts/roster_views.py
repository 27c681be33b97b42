"""Pages of the roster: upload → preview (bad rows, column mapping) → confirm; template; export.

Nothing is written before the confirm step. Between the steps the uploaded file is kept under
``MEDIA_ROOT/imports/<token>``; the random token lives in the uploader's session only, and the
file is deleted after the import, on cancel, or after a day.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from huzhu.accounts import policy, roster
from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Building, Community

SESSION_KEY = "roster_uploads"
PENDING_MAX_AGE = 24 * 3600
PENDING_PER_SESSION = 5
ERRORS_SHOWN = 500


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=roster.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _person(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _object_or_404(model: type[Community] | type[Building], raw: str | None) -> Any:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise Http404
    obj = model.objects.filter(pk=int(raw)).first()
    if obj is None:
        raise Http404
    return obj


# --------------------------------------------------------------------------- pending uploads


def _imports_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _file_for(token: str) -> Path:
    return _imports_dir() / f"{token}.upload"


def _valid_token(token: str) -> bool:
    return 20 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def _sweep_stale() -> None:
    """Delete uploads abandoned for more than a day (any session)."""
    cutoff = time.time() - PENDING_MAX_AGE
    for path in _imports_dir().glob("*.upload"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue


def _pending_all(request: HttpRequest) -> dict[str, dict[str, Any]]:
    value = request.session.get(SESSION_KEY)
    return value if isinstance(value, dict) else {}


def _store(request: HttpRequest, data: bytes, community: Community, filename: str) -> str:
    _sweep_stale()
    pending = _pending_all(request)
    while len(pending) >= PENDING_PER_SESSION:
        oldest = next(iter(pending))
        _discard(request, oldest, pending)
    token = secrets.token_urlsafe(24)
    path = _file_for(token)
    path.write_bytes(data)
    path.chmod(0o600)
    pending[token] = {"community": community.pk, "filename": filename[:200], "mapping": {}}
    request.session[SESSION_KEY] = pending
    return token


def _discard(
    request: HttpRequest, token: str, pending: dict[str, dict[str, Any]] | None = None
) -> None:
    pending = _pending_all(request) if pending is None else pending
    pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    if _valid_token(token):
        _file_for(token).unlink(missing_ok=True)


def _load(request: HttpRequest, token: str) -> tuple[dict[str, Any], bytes] | None:
    entry = _pending_all(request).get(token) if _valid_token(token) else None
    if entry is None:
        return None
    try:
        return entry, _file_for(token).read_bytes()
    except OSError:
        return None


# --------------------------------------------------------------------------- forms


class UploadForm(forms.Form):
    community = forms.ModelChoiceField(
        queryset=Community.objects.none(), label=gettext_lazy("导入到社区")
    )
    file = forms.FileField(
        label=gettext_lazy("名册文件"),
        help_text=gettext_lazy("Excel 工作簿（.xlsx）或 CSV 文件（UTF-8 或 GBK 编码）。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )

    def __init__(self, *args: Any, communities: QuerySet[Community], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["community"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = communities
        if len(communities) == 1:
            field.initial = communities[0].pk


def _field_choices() -> list[tuple[str, str]]:
    return [("", _("（不导入）")), *((k, str(v)) for k, v in roster.FIELDS.items())]


def _mapping_rows(headers: list[str], columns: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "header": h,
            "field": columns.get(i, ""),
            "known": roster.is_known_header(h),
        }
        for i, h in enumerate(headers)
        if h
    ]


def _columns_from(error: DomainError, headers: list[str]) -> dict[int, str]:
    by_header: dict[str, str] = error.details.get("columns", {}) or {}
    return {i: by_header[h] for i, h in enumerate(headers) if h in by_header}


# --------------------------------------------------------------------------- pages


def _preview_page(
    request: HttpRequest, token: str, entry: dict[str, Any], data: bytes, community: Community
) -> HttpResponse:
    user = _person(request)
    context: dict[str, Any] = {
        "token": token,
        "community": community,
        "filename": entry.get("filename", ""),
        "field_choices": _field_choices(),
    }
    try:
        preview = roster.preview_roster(
            actor=user, community=community, data=data, mapping=entry.get("mapping") or None
        )
    except roster.RosterError as exc:
        headers = exc.details.get("headers")
        if not isinstance(headers, list):
            # Not a header problem: the file itself is unusable.
            _discard(request, token)
            messages.error(request, str(exc.message))
            return HttpResponseRedirect(reverse("accounts:roster_import"))
        context.update(
            header_error=str(exc.message),
            mapping_rows=_mapping_rows(headers, _columns_from(exc, headers)),
        )
        return render(request, "accounts/roster_preview.html", context, status=400)
    context.update(
        preview=preview,
        errors=preview.errors[:ERRORS_SHOWN],
        errors_hidden=max(0, len(preview.errors) - ERRORS_SHOWN),
        sample=preview.valid_rows[:10],
        mapping_rows=_mapping_rows(preview.headers, preview.columns),
        mapping_open=bool(preview.ignored_headers),
    )
    return render(request, "accounts/roster_preview.html", context)


def _upload_page(request: HttpRequest, form: UploadForm, status: int = 200) -> HttpResponse:
    user = _person(request)
    context: dict[str, Any] = {
        "form": form,
        "column_help": roster.column_help(),
        "max_rows": roster.max_rows(),
        "max_size": roster.limit_label(int(settings.HUZHU_MAX_UPLOAD_BYTES)),
    }
    if policy.can_anywhere(user, "accounts.export_roster"):
        export_communities = policy.communities_for(user, "accounts.export_roster")
        context["can_export"] = True
        context["export_communities"] = export_communities
        context["export_buildings"] = Building.objects.filter(
            community__in=export_communities
        ).select_related("community")
    return render(request, "accounts/roster_import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def roster_import(request: HttpRequest) -> HttpResponse:
    """Upload a roster, check it, confirm: branch heads (accounts.import_roster)."""
    user = _person(request)
    if request.method == "POST" and request.POST.get("action", "upload") == "upload":
        # The community first: outside the user's scope it is a 404, whatever their roles.
        chosen = _object_or_404(Community, request.POST.get("community"))
        if chosen is not None:
            policy.require(user, "accounts.import_roster", chosen)
    if not policy.can_anywhere(user, "accounts.import_roster"):
        raise PermissionDenied("accounts.import_roster")
    if request.method == "GET" and request.GET.get("template"):
        return xlsx_response(roster.template_workbook(), "roster-template.xlsx")
    communities = policy.communities_for(user, "accounts.import_roster").order_by("name")
    if request.method == "GET":
        return _upload_page(request, UploadForm(communities=communities))

    action = request.POST.get("action", "upload")
    if action == "upload":
        form = UploadForm(request.POST, request.FILES, communities=communities)
        if not form.is_valid():
            return _upload_page(request, form, status=400)
        community = form.cleaned_data["community"]
        upload = form.cleaned_data["file"]
        try:
            roster.check_size(upload.size or 0)
            data = upload.read()
            roster.read_table(data)
        except roster.RosterError as exc:
            form.add_error("file", str(exc.message))
            return _upload_page(request, form, status=400)
        token = _store(request, data, community, upload.name or "")
        entry = _pending_all(request)[token]
        return _preview_page(request, token, entry, data, community)

    token = request.POST.get("token", "")
    loaded = _load(request, token)
    if loaded is None:
        messages.error(request, _("上传的文件已过期或不存在，请重新上传。"))
        return HttpResponseRedirect(reverse("accounts:roster_import"))
    entry, data = loaded
    community = _object_or_404(Community, str(entry.get("community", "")))
    policy.require(user, "accounts.import_roster", community)

    if action == "cancel":
        _discard(request, token)
        messages.info(request, _("已取消导入，文件已删除。"))
        return HttpResponseRedirect(reverse("accounts:roster_import"))
    if action == "remap":
        mapping: dict[str, str] = {}
        valid = set(roster.FIELDS)
        for key, value in request.POST.items():
            if not key.startswith("map_") or not key[4:].isdigit():
                continue
            header = request.POST.get(f"header_{key[4:]}", "")
            if header:
                mapping[header] = value if value in valid else ""
        pending = _pending_all(request)
        pending[token]["mapping"] = mapping
        request.session[SESSION_KEY] = pending
        entry = pending[token]
        return _preview_page(request, token, entry, data, community)
    if action == "confirm":
        try:
            result = roster.import_roster(
                actor=user,
                community=community,
                data=data,
                filename=entry.get("filename", ""),
                mapping=entry.get("mapping") or None,
            )
        except roster.RosterError:
            return _preview_page(request, token, entry, data, community)
        _discard(request, token)
        messages.success(
            request,
            _("导入完成：新建 %(created)s 人，已注册跳过 %(skipped)s 人，有问题未导入 %(bad)s 行。")
            % {
                "created": result.created,
                "skipped": result.skipped_existing,
                "bad": result.bad_rows,
            },
        )
        return render(
            request,
            "accounts/roster_preview.html",
            {
                "community": community,
                "filename": entry.get("filename", ""),
                "result": result,
                "errors": result.errors[:ERRORS_SHOWN],
                "errors_hidden": max(0, len(result.errors) - ERRORS_SHOWN),
            },
        )
    raise Http404


@login_required
@require_GET
def roster_export(request: HttpRequest) -> HttpResponse:
    """Download the people one may see as .xlsx, phone numbers masked (accounts.export_roster)."""
    user = _person(request)
    community = _object_or_404(Community, request.GET.get("community"))
    building = _object_or_404(Building, request.GET.get("building"))
    try:
        export = roster.export_roster(actor=user, community=community, building=building)
    except DomainError as exc:
        if exc.status != 400:
            raise
        return HttpResponseBadRequest(str(exc.message), content_type="text/plain; charset=utf-8")
    return xlsx_response(export.content, export.filename)
