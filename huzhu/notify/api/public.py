"""Public notices of a community: public broadcasts that were sent, without signing in.
Partners and internal broadcasts never appear here."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query

from huzhu.accounts.api.schemas import PathId
from huzhu.core.api import ERRORS, PageIn, paginate
from huzhu.notify import queries
from huzhu.notify.api.common import router
from huzhu.notify.api.schemas import (
    NoticeOut,
    NoticePage,
)
from huzhu.orgs.models import Community

# --- public -----------------------------------------------------------------------------------


@router.get(
    "public/communities/{int:community_id}/notices",
    response={200: NoticePage, **ERRORS},
    auth=None,
    operation_id="huzhu_notify_api_public_notices",
)
def public_notices(request: HttpRequest, community_id: PathId, q: Query[PageIn]) -> NoticePage:
    """A community's public notices (sent, visibility public); no sign-in needed. Partner and
    internal broadcasts never appear here."""
    community = get_object_or_404(Community, pk=community_id)
    rows, meta = paginate(queries.public_broadcasts(community.pk), q)
    return NoticePage(
        items=[
            NoticeOut(
                id=b.pk,
                community_id=b.community_id,
                title=b.title,
                body=b.body,
                urgent=b.urgent,
                sent_at=b.sent_at,
            )
            for b in rows
        ],
        meta=meta,
    )
