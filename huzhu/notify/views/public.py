"""Public notices of a community: public broadcasts that were sent, readable without an
account. Internal and partners broadcasts never appear here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from huzhu.notify import queries
from huzhu.notify.views._common import page_of
from huzhu.orgs.models import Community


def public_notices(request: HttpRequest, community_pk: int) -> HttpResponse:
    community = get_object_or_404(Community, pk=community_pk)
    notices = queries.public_broadcasts(community.pk).only(
        "pk", "title", "body", "urgent", "sent_at", "community_id"
    )
    return render(
        request,
        "notify/public_notices.html",
        {"community": community, "page": page_of(request, notices)},
    )


def public_notice(request: HttpRequest, community_pk: int, pk: int) -> HttpResponse:
    notice = get_object_or_404(
        queries.public_broadcasts(community_pk).select_related("community"), pk=pk
    )
    return render(
        request,
        "notify/public_notice.html",
        {"community": notice.community, "notice": notice},
    )
