"""Pages of the org tree: communities, buildings, households, groups, job descriptions, settings."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from huzhu.accounts import policy
from huzhu.orgs.models import Community


@login_required
def community_list(request: HttpRequest) -> HttpResponse:
    communities = policy.visible_to(request.user, "orgs.view_community", Community.objects.all())
    return render(request, "orgs/community_list.html", {"communities": communities})
