"""Broadcasts: the ones I may manage (with counts), compose with an audience preview, the live
tally, re-send to the silent, cancel, and the replies (never a phone number). 404 outside the
caller's scope, 403 inside it without notify.broadcast."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, paginate
from huzhu.notify import actions, queries
from huzhu.notify import audience as aud
from huzhu.notify.api.common import _actor, router
from huzhu.notify.api.schemas import (
    BroadcastDetailOut,
    BroadcastIn,
    BroadcastOut,
    BroadcastPage,
    BroadcastQuery,
    BuildingTallyOut,
    CountOut,
    GroupTallyOut,
    PreviewIn,
    PreviewOut,
    RepliesQuery,
    ReplyCountOut,
    ReplyPage,
    ReplyRowOut,
    ResendIn,
    _broadcast_fields,
    _broadcast_out,
    _counts,
)
from huzhu.notify.models import Broadcast, Receipt
from huzhu.orgs.models import Community


def _broadcasts() -> QuerySet[Broadcast]:
    return Broadcast.objects.select_related("community__alliance", "author")


def _managed(actor: Person, broadcast_id: int) -> Broadcast:
    """A broadcast the caller may manage: notify.broadcast on its community (or alliance), or
    on every building / group its audience is narrowed to (404 outside scope, else 403). Its
    author may always see it, as on the pages; re-send and cancel check again in the action."""
    broadcast: Broadcast = get_object_or_404(_broadcasts(), pk=broadcast_id)
    if broadcast.author_id != actor.pk:
        aud.require_manage(actor, broadcast)
    return broadcast


# --- broadcasts -------------------------------------------------------------------------------


@router.get(
    "broadcasts",
    response={200: BroadcastPage, **ERRORS},
    operation_id="huzhu_notify_api_list_broadcasts",
)
def list_broadcasts(request: HttpRequest, q: Query[BroadcastQuery]) -> BroadcastPage:
    """The broadcasts the caller may manage (notify.broadcast), newest first, with counts."""
    actor = _actor(request)
    if q.community is not None:
        community = get_object_or_404(Community.objects.select_related("alliance"), pk=q.community)
        if not policy.in_scope(actor, community):
            raise Http404
    if not policy.can_anywhere(actor, "notify.broadcast"):
        raise PermissionDenied("notify.broadcast")
    scoped = policy.visible_to(actor, "notify.broadcast", Broadcast.objects.all())
    qs = _broadcasts().filter(Q(pk__in=scoped.values("pk")) | Q(author=actor))
    if q.community is not None:
        qs = qs.filter(community_id=q.community)
    if q.status is not None:
        qs = qs.filter(status=q.status)
    rows, meta = paginate(qs.order_by("-created_at", "-id"), q)
    counts = _counts([b.pk for b in rows])
    return BroadcastPage(
        items=[BroadcastOut(**_broadcast_fields(b, counts.get(b.pk))) for b in rows], meta=meta
    )


@router.post(
    "broadcasts",
    response={201: BroadcastOut, **ERRORS},
    operation_id="huzhu_notify_api_create_broadcast",
)
def create_broadcast(request: HttpRequest, payload: BroadcastIn) -> Reply[BroadcastOut]:
    """Send a broadcast now or at ``scheduled_at``; the audience must lie where the caller
    holds notify.broadcast (404 outside their scope, 403 inside it without the permission)."""
    actor = _actor(request)
    broadcast = actions.create_broadcast(
        actor=actor,
        audience=payload.audience.spec(),
        title=payload.title,
        body=payload.body,
        visibility=payload.visibility,
        urgent=payload.urgent,
        channels=list(payload.channels),
        reply_kind=payload.reply_kind,
        reply_choices=list(payload.reply_choices),
        reply_deadline=payload.reply_deadline,
        scheduled_at=payload.scheduled_at,
    )
    return Reply(201, _broadcast_out(_broadcasts().get(pk=broadcast.pk)))


@router.post(
    "broadcasts/preview",
    response={200: PreviewOut, **ERRORS},
    operation_id="huzhu_notify_api_preview",
)
def preview(request: HttpRequest, payload: PreviewIn) -> PreviewOut:
    """How many people an audience reaches, and its label; nothing is written."""
    actor = _actor(request)
    spec = aud.parse_spec(payload.audience.spec())
    aud.check_scope(actor, spec)
    return PreviewOut(count=aud.recipients(spec).count(), label=aud.describe(spec))


@router.get(
    "broadcasts/{int:broadcast_id}",
    response={200: BroadcastDetailOut, **ERRORS},
    operation_id="huzhu_notify_api_get_broadcast",
)
def get_broadcast(request: HttpRequest, broadcast_id: PathId) -> BroadcastDetailOut:
    """A broadcast with its live tally: totals, per building, per group, and the replies."""
    b = _managed(_actor(request), broadcast_id)
    return BroadcastDetailOut(
        **_broadcast_fields(b, queries.tally_totals(b)),
        by_building=[BuildingTallyOut(**row) for row in queries.tally_by_building(b)],
        by_group=[GroupTallyOut(**row) for row in queries.tally_by_group(b)],
        replies=[ReplyCountOut(value=v, count=n) for v, n in queries.reply_counts(b)],
    )


@router.post(
    "broadcasts/{int:broadcast_id}/resend",
    response={200: CountOut, **ERRORS},
    operation_id="huzhu_notify_api_resend",
)
def resend(request: HttpRequest, broadcast_id: PathId, payload: ResendIn) -> CountOut:
    """Send again to those who have not read (or not replied); nobody else gets it."""
    actor = _actor(request)
    b = _managed(actor, broadcast_id)
    return CountOut(count=actions.resend_to_silent(actor=actor, broadcast=b, which=payload.which))


@router.post(
    "broadcasts/{int:broadcast_id}/cancel",
    response={200: BroadcastOut, **ERRORS},
    operation_id="huzhu_notify_api_cancel",
)
def cancel(request: HttpRequest, broadcast_id: PathId) -> BroadcastOut:
    """Cancel a scheduled broadcast (409 once it is being sent)."""
    actor = _actor(request)
    b = _managed(actor, broadcast_id)
    actions.cancel_broadcast(actor=actor, broadcast=b)
    return _broadcast_out(_broadcasts().get(pk=b.pk))


@router.get(
    "broadcasts/{int:broadcast_id}/replies",
    response={200: ReplyPage, **ERRORS},
    operation_id="huzhu_notify_api_list_replies",
)
def list_replies(request: HttpRequest, broadcast_id: PathId, q: Query[RepliesQuery]) -> ReplyPage:
    """Each recipient's read and reply, by building and name; phone numbers never."""
    b = _managed(_actor(request), broadcast_id)
    qs = Receipt.objects.filter(broadcast=b)
    if q.only == "replied":
        qs = qs.filter(replied_at__isnull=False)
    elif q.only == "unreplied":
        qs = qs.filter(replied_at__isnull=True)
    elif q.only == "unread":
        qs = qs.filter(read_at__isnull=True)
    rows, meta = paginate(
        qs.order_by("building__name", "person__name", "pk").values(
            "pk", "person_id", "person__name", "building__name", "read_at", "reply", "replied_at"
        ),
        q,
    )
    return ReplyPage(
        items=[
            ReplyRowOut(
                receipt_id=r["pk"],
                person_id=r["person_id"],
                name=r["person__name"],
                building=r["building__name"] or "",
                read_at=r["read_at"],
                reply=r["reply"],
                replied_at=r["replied_at"],
            )
            for r in rows
        ],
        meta=meta,
    )
