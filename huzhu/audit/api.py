"""Audit API: the entries the caller may see (audit.view), filtered and paginated."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from huzhu.audit.views import AuditFilters, audit_entries
from huzhu.core.api import ERRORS, PageMeta, page_bounds
from huzhu.core.errors import DomainError

router = Router(tags=["audit"])


class AuditEntryOut(Schema):
    id: int
    created_at: dt.datetime
    actor_id: int | None
    actor_label: str
    on_behalf_of_id: int | None
    code: str
    target_type: str
    target_id: str
    target_label: str
    alliance_id: int | None
    community_id: int | None
    scope: str
    old_values: dict[str, Any]
    new_values: dict[str, Any]
    ip: str | None


class AuditPage(Schema):
    items: list[AuditEntryOut]
    meta: PageMeta


class AuditQuery(Schema):
    community: int | None = Field(None, ge=1, description="Only this community's entries")
    actor: str = Field("", max_length=100, description="Part of the actor's name")
    code: str = Field("", max_length=80, description="Code prefix, e.g. accounts.pii")
    target_type: str = Field("", max_length=60, description="Model label, e.g. accounts.person")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = 1
    page_size: int = int(settings.HUZHU_PAGE_SIZE)


@router.get("audit", response={200: AuditPage, **ERRORS})
def list_audit(request: HttpRequest, q: Query[AuditQuery]) -> AuditPage:
    """Audit entries, newest first. Requires audit.view; a community outside the caller's
    scope is 404. Alliance-level entries are visible to alliance grants."""
    if q.date_from and q.date_to and q.date_to < q.date_from:
        raise DomainError(
            "audit.dates.order", _("结束日期不能早于开始日期。"), details={"field": "date_to"}
        )
    start, end = page_bounds(q.page, q.page_size)
    entries = audit_entries(
        request.user,
        AuditFilters(
            community=q.community,
            actor=q.actor,
            code=q.code,
            target_type=q.target_type,
            date_from=q.date_from,
            date_to=q.date_to,
        ),
    )
    total = entries.count()
    items = [AuditEntryOut.model_validate(e, from_attributes=True) for e in entries[start:end]]
    return AuditPage(items=items, meta=PageMeta(page=q.page, page_size=q.page_size, total=total))
