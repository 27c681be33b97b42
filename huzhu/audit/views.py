"""The audit page for branch heads and admins."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from huzhu.accounts import policy
from huzhu.audit.models import AuditEntry


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    entries = policy.visible_to(request.user, "audit.view", AuditEntry.objects.all())[:50]
    return render(request, "audit/list.html", {"entries": entries})
