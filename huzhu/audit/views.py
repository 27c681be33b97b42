"""The audit page for branch heads and district admins: filter, page through, export.

Entries are shown only where the viewer holds ``audit.view``: a community grant sees that
community's entries, an alliance grant also sees alliance-level entries (no community), and
entries with neither scope are seen by superusers only.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huzhu.accounts import policy
from huzhu.audit.models import AuditEntry
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.orgs.models import Alliance, Community

# Largest export in one file; narrow the filters for more.
EXPORT_MAX_ROWS = 100_000


def target_type_choices() -> list[tuple[str, str]]:
    """Model labels of huzhu's own apps, as recorded in ``target_type``."""
    choices = [
        (m._meta.label_lower, f"{m._meta.verbose_name} ({m._meta.label_lower})")
        for m in apps.get_models()
        if m.__module__.startswith("huzhu.") and not m._meta.abstract
    ]
    return [("", _("全部")), *sorted(choices, key=lambda c: c[0])]


class AuditFilterForm(forms.Form):
    community = forms.IntegerField(label=gettext_lazy("社区"), required=False, min_value=1)
    actor = forms.CharField(label=gettext_lazy("操作人"), required=False, max_length=100)
    code = forms.CharField(
        label=gettext_lazy("操作代码"),
        required=False,
        max_length=80,
        help_text=gettext_lazy("前缀匹配，如 accounts.pii"),
    )
    target_type = forms.CharField(label=gettext_lazy("对象类型"), required=False, max_length=60)
    date_from = forms.DateField(
        label=gettext_lazy("开始日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label=gettext_lazy("结束日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("结束日期不能早于开始日期。"))
        return data


@dataclass(frozen=True)
class AuditFilters:
    community: int | None = None
    actor: str = ""
    code: str = ""
    target_type: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def require_audit_viewer(actor: Any) -> None:
    """403 for someone who may view the audit log nowhere."""
    if not policy.can_anywhere(actor, "audit.view"):
        raise PermissionDenied("audit.view")


def audit_entries(actor: Any, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """Entries ``actor`` may see, filtered. A community outside the actor's scope is a 404
    (checked first, so that its existence is not disclosed); no audit.view anywhere is a 403."""
    qs: QuerySet[AuditEntry] = AuditEntry.objects.all()
    if filters.community is not None:
        community = Community.objects.filter(pk=filters.community).first()
        if community is None:
            raise Http404
        policy.require(actor, "audit.view", community)
        qs = qs.filter(community=community)
    require_audit_viewer(actor)
    qs = policy.visible_to(actor, "audit.view", qs)
    if filters.actor.strip():
        qs = qs.filter(actor_label__icontains=filters.actor.strip())
    if filters.code.strip():
        qs = qs.filter(code__startswith=filters.code.strip())
    if filters.target_type.strip():
        qs = qs.filter(target_type=filters.target_type.strip())
    if filters.date_from is not None:
        qs = qs.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to is not None:
        qs = qs.filter(created_at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    return qs.select_related("community", "on_behalf_of").order_by("-created_at", "-id")


def _filters_from(form: AuditFilterForm) -> AuditFilters:
    data = form.cleaned_data
    return AuditFilters(
        community=data.get("community"),
        actor=data.get("actor") or "",
        code=data.get("code") or "",
        target_type=data.get("target_type") or "",
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
    )


def _values_text(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True) if values else ""


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first, with filters and pages (audit.view)."""
    form = AuditFilterForm(request.GET or None)
    entries: QuerySet[AuditEntry] = AuditEntry.objects.none()
    if not request.GET or form.is_valid():
        filters = _filters_from(form) if request.GET else AuditFilters()
        entries = audit_entries(request.user, filters)
    else:
        require_audit_viewer(request.user)
    page = Paginator(entries, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/list.html",
        {
            "form": form,
            "page": page,
            "entries": page.object_list,
            "communities": policy.communities_for(request.user, "audit.view").order_by("name"),
            "target_types": target_type_choices(),
            "query": query.urlencode(),
        },
    )


@login_required
def audit_export(request: HttpRequest) -> HttpResponse:
    """The filtered audit log as .xlsx (audit.view); the export itself is audited."""
    from huzhu.accounts.roster import XLSX_CONTENT_TYPE, workbook_bytes

    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        require_audit_viewer(request.user)
        return HttpResponse(
            _("筛选条件不正确。"), status=400, content_type="text/plain; charset=utf-8"
        )
    filters = _filters_from(form)
    entries = list(audit_entries(request.user, filters)[:EXPORT_MAX_ROWS])
    header = [
        _("时间"),
        _("操作人"),
        _("代办对象"),
        _("操作"),
        _("对象类型"),
        _("对象编号"),
        _("对象"),
        _("社区"),
        _("范围"),
        _("原值"),
        _("新值"),
        _("IP 地址"),
    ]
    rows = (
        [
            timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor_label,
            str(e.on_behalf_of) if e.on_behalf_of else "",
            e.code,
            e.target_type,
            e.target_id,
            e.target_label,
            e.community.name if e.community else "",
            e.scope,
            _values_text(e.old_values),
            _values_text(e.new_values),
            e.ip or "",
        ]
        for e in entries
    )
    content = workbook_bytes(_("审计日志"), header, rows)
    communities = {e.community_id for e in entries if e.community_id}
    alliances = {e.alliance_id for e in entries if e.alliance_id}
    community = (
        Community.objects.filter(pk=filters.community).first()
        if filters.community is not None
        else None
    )
    if community is None and len(communities) == 1:
        community = next(e.community for e in entries if e.community_id)
    alliance = (
        Alliance.objects.filter(pk=next(iter(alliances))).first()
        if community is None and len(alliances) == 1
        else None
    )
    with transaction.atomic():
        record(
            "audit.entries.exported",
            actor=request.user,
            community=community,
            alliance=alliance,
            new={
                "rows": len(entries),
                "community": filters.community,
                "actor": filters.actor,
                "code": filters.code,
                "target_type": filters.target_type,
                "date_from": filters.date_from,
                "date_to": filters.date_to,
            },
        )
    stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response
