"""Reads of the inbox and of broadcast tallies, always scoped."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from huzhu.accounts.models import Person, Role, RoleGrant
from huzhu.notify.models import Broadcast, Notification, Receipt, Visibility
from huzhu.orgs.models import Building, Group


def _unread(model: type[Notification] | type[Receipt]) -> Coalesce:
    counted = (
        model.objects.filter(person=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("person")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def unread_count(person: Person) -> int:
    """Unread inbox items: two counts in one query (it runs on every page, for the badge of
    the top bar) — notifications on their partial unread index, receipts on the inbox index
    (person, delivered_at), which holds a person's few receipts."""
    total = (
        Person.objects.filter(pk=person.pk)
        .annotate(unread=_unread(Notification) + _unread(Receipt))
        .values_list("unread", flat=True)
        .first()
    )
    return int(total or 0)


@dataclass
class InboxItem:
    kind: str  # "notification" | "broadcast"
    pk: int
    title: str
    body: str
    at: Any
    read: bool
    urgent: bool
    needs_reply: bool
    replied: bool
    link: str


def inbox(person: Person, *, unread_only: bool = False, limit: int = 200) -> list[InboxItem]:
    """The newest messages of one person, events and broadcasts merged by time."""
    notes = Notification.objects.filter(person=person)
    receipts = Receipt.objects.filter(person=person).select_related("broadcast")
    if unread_only:
        notes = notes.filter(read_at__isnull=True)
        receipts = receipts.filter(read_at__isnull=True)
    items = chain(
        (
            InboxItem(
                "notification",
                n.pk,
                n.title,
                n.body,
                n.created_at,
                n.read_at is not None,
                n.urgent,
                False,
                False,
                n.link,
            )
            for n in notes.order_by("-created_at")[:limit]
        ),
        (
            InboxItem(
                "broadcast",
                r.pk,
                r.broadcast.title,
                r.broadcast.body,
                r.resent_at or r.delivered_at,
                r.read_at is not None,
                r.broadcast.urgent,
                r.broadcast.reply_kind != "none",
                r.replied_at is not None,
                "",
            )
            for r in receipts.order_by("-delivered_at")[:limit]
        ),
    )
    return sorted(items, key=lambda i: i.at, reverse=True)[:limit]


def tally_totals(broadcast: Broadcast) -> dict[str, int]:
    return Receipt.objects.filter(broadcast=broadcast).aggregate(
        delivered=Count("pk"),
        read=Count("pk", filter=Q(read_at__isnull=False)),
        replied=Count("pk", filter=Q(replied_at__isnull=False)),
    )


def tally_by_building(broadcast: Broadcast) -> list[dict[str, Any]]:
    """Delivered / read / replied per building (people without a household: no building)."""
    rows = (
        Receipt.objects.filter(broadcast=broadcast)
        .values("building_id")
        .annotate(
            delivered=Count("pk"),
            read=Count("pk", filter=Q(read_at__isnull=False)),
            replied=Count("pk", filter=Q(replied_at__isnull=False)),
        )
        .order_by("building_id")
    )
    names = dict(
        Building.objects.filter(
            pk__in=[r["building_id"] for r in rows if r["building_id"]]
        ).values_list("pk", "name")
    )
    return [{**r, "name": names.get(r["building_id"], "")} for r in rows]


def tally_by_group(broadcast: Broadcast) -> list[dict[str, Any]]:
    """Delivered / read / replied per functional group of the recipients' grants."""
    grants = RoleGrant.objects.active().filter(
        role__in=[Role.GROUP_MEMBER, Role.GROUP_LEADER], group__isnull=False
    )
    if broadcast.community_id:
        grants = grants.filter(community_id=broadcast.community_id)
    rows = (
        Receipt.objects.filter(broadcast=broadcast, person__grants__in=grants)
        .values("person__grants__group_id")
        .annotate(
            delivered=Count("pk", distinct=True),
            read=Count("pk", filter=Q(read_at__isnull=False), distinct=True),
            replied=Count("pk", filter=Q(replied_at__isnull=False), distinct=True),
        )
        .order_by("person__grants__group_id")
    )
    names = {
        g.pk: str(g)
        for g in Group.objects.filter(pk__in=[r["person__grants__group_id"] for r in rows])
    }
    return [
        {
            "group_id": r["person__grants__group_id"],
            "name": names.get(r["person__grants__group_id"], ""),
            "delivered": r["delivered"],
            "read": r["read"],
            "replied": r["replied"],
        }
        for r in rows
    ]


def reply_counts(broadcast: Broadcast) -> list[tuple[str, int]]:
    rows = (
        Receipt.objects.filter(broadcast=broadcast, replied_at__isnull=False)
        .values_list("reply")
        .annotate(n=Count("pk"))
        .order_by("-n", "reply")
    )
    return [(str(reply), int(n)) for reply, n in rows]


def public_broadcasts(community_id: int | None = None) -> QuerySet[Broadcast]:
    """What the public may read: public broadcasts that were sent. Never partners/internal."""
    qs = Broadcast.objects.filter(visibility=Visibility.PUBLIC, status="sent")
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    return qs.order_by("-sent_at")
