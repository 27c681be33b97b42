"""The per-building status board (楼栋状态板, DOMAIN.md "Lockdown operations"): instead of asking
the building leader in the group chat, a resident opens one page and sees the next testing
session and how far it got in their building, the open group buys and where the goods are, the
community's notices, who is responsible for what (names and masked phone numbers) and the FAQ.

Everything is read in a fixed number of queries whatever the size of the community; the page
and the API (``GET /api/v1/lockdown/buildings/{id}/board``) show the same :class:`Board`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Role, RoleGrant
from huzhu.core import clock
from huzhu.helpdesk.models import FAQ
from huzhu.helpdesk.queries import faq_for
from huzhu.lockdown.models import Delivery, GroupBuy, GroupBuyState, Order, OrderState
from huzhu.lockdown.models.testing import QueueEntry, TestingSession, TestingState
from huzhu.notify.models import Broadcast
from huzhu.notify.queries import public_broadcasts
from huzhu.orgs.models import Building

#: group buys a resident still cares about (not drafts, not finished or cancelled)
LIVE_GROUP_BUYS = (
    GroupBuyState.OPEN,
    GroupBuyState.CLOSED,
    GroupBuyState.ARRIVED,
    GroupBuyState.DELIVERING,
)
#: a session that started this long ago still shows (a morning's testing runs for hours)
SESSION_GRACE = dt.timedelta(hours=12)
NOTICES = 5
FAQS = 5
SESSIONS = 3


@dataclass(frozen=True)
class SessionLine:
    session: TestingSession
    total: int  # households of this building in the queue
    tested: int
    absent: int
    called: int  # called so far (tested, absent or on their way)

    @property
    def pending(self) -> int:
        return self.total - self.tested - self.absent


@dataclass(frozen=True)
class GroupBuyLine:
    group_buy: GroupBuy
    orders: int  # live orders of this building
    delivered: int
    confirmed: int


@dataclass(frozen=True)
class Contact:
    role: str  # the role's label (楼长, 组长 …)
    group: str  # the group's name for a group role, else ""
    name: str
    masked_phone: str


@dataclass
class Board:
    building: Building
    sessions: list[SessionLine] = field(default_factory=list)
    group_buys: list[GroupBuyLine] = field(default_factory=list)
    notices: list[Broadcast] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    faq: list[FAQ] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.sessions or self.group_buys or self.notices or self.contacts or self.faq)


def _sessions(building: Building, now: dt.datetime) -> list[SessionLine]:
    sessions = list(
        TestingSession.objects.filter(
            buildings=building,
            state=TestingState.OPEN,
            starts_at__gte=now - SESSION_GRACE,
        ).order_by("starts_at", "pk")[:SESSIONS]
    )
    if not sessions:
        return []
    counts = {
        row["session_id"]: row
        for row in QueueEntry.objects.filter(session__in=sessions, building=building)
        .values("session_id")
        .annotate(
            total=Count("pk"),
            tested=Count("pk", filter=Q(checked_in_at__isnull=False)),
            absent=Count("pk", filter=Q(checked_in_at__isnull=True, absent_at__isnull=False)),
            called=Count("pk", filter=Q(called_at__isnull=False)),
        )
        .order_by()
    }
    out = []
    for s in sessions:
        row = counts.get(s.pk, {})
        out.append(
            SessionLine(
                session=s,
                total=row.get("total", 0),
                tested=row.get("tested", 0),
                absent=row.get("absent", 0),
                called=row.get("called", 0),
            )
        )
    return out


def _group_buys(building: Building) -> list[GroupBuyLine]:
    buys = list(
        GroupBuy.objects.filter(buildings=building, state__in=LIVE_GROUP_BUYS).order_by(
            "deadline", "pk"
        )
    )
    if not buys:
        return []
    orders = dict(
        Order.objects.filter(group_buy__in=buys, building=building, state=OrderState.PLACED)
        .values("group_buy_id")
        .annotate(n=Count("pk"))
        .values_list("group_buy_id", "n")
        .order_by()
    )
    deliveries = {
        row["group_buy_id"]: row
        for row in Delivery.objects.filter(
            group_buy__in=buys, building=building, order__state=OrderState.PLACED
        )
        .values("group_buy_id")
        .annotate(
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            confirmed=Count("pk", filter=Q(confirmed_at__isnull=False)),
        )
        .order_by()
    }
    return [
        GroupBuyLine(
            group_buy=gb,
            orders=orders.get(gb.pk, 0),
            delivered=deliveries.get(gb.pk, {}).get("delivered", 0),
            confirmed=deliveries.get(gb.pk, {}).get("confirmed", 0),
        )
        for gb in buys
    ]


#: the order contacts are listed in: the building's own people first
_ROLE_ORDER = {
    Role.BUILDING_MANAGER: 0,
    Role.GROUP_LEADER: 1,
    Role.BRANCH_HEAD: 2,
    Role.BROKER: 3,
    Role.FINANCE_OFFICER: 4,
}


def _contacts(building: Building) -> list[Contact]:
    """Who does what: the building's managers, the leader of every group of the community (团长
    组, 物流组, 客服关爱组 …), the branch head, brokers and the finance officer — names and
    masked phone numbers only (the full number is revealed, and logged, elsewhere)."""
    grants = (
        RoleGrant.objects.active()
        .filter(community_id=building.community_id, role__in=list(_ROLE_ORDER))
        .filter(
            Q(scope_kind="building", building=building)
            | Q(scope_kind="group", role=Role.GROUP_LEADER)
            | Q(scope_kind="community")
        )
        .exclude(role=Role.BUILDING_MANAGER, scope_kind="community")
        .select_related("person", "group")
    )
    seen: set[tuple[str, int | None, int]] = set()
    rows: list[tuple[tuple[int, str, str], Contact]] = []
    for g in grants:
        person: Person = g.person
        if not person.is_active:
            continue
        key = (g.role, g.group_id, person.pk)
        if key in seen:
            continue
        seen.add(key)
        group = g.group.name if g.group is not None else ""
        contact = Contact(
            role=str(Role(g.role).label),
            group=group,
            name=person.name,
            masked_phone=person.masked_phone or "—",
        )
        rows.append(((_ROLE_ORDER[Role(g.role)], group, person.name), contact))
    return [c for _, c in sorted(rows, key=lambda r: r[0])]


def building_for(actor: object, pk: int) -> Building:
    """The building ``pk`` if the actor belongs to (or works in) its community, else 404."""
    building = get_object_or_404(Building.objects.select_related("community"), pk=pk)
    if not policy.in_scope(actor, building):
        raise Http404
    return building


def building_board(building: Building, now: dt.datetime | None = None) -> Board:
    """The status board of ``building`` at ``now`` (default: the clock)."""
    now = now or clock.now()
    return Board(
        building=building,
        sessions=_sessions(building, now),
        group_buys=_group_buys(building),
        notices=list(public_broadcasts(building.community_id)[:NOTICES]),
        contacts=_contacts(building),
        faq=faq_for(building.community_id, building, limit=FAQS),
    )


def describe_group_buy(line: GroupBuyLine) -> str:
    """Where a group buy stands for the building, in words."""
    gb = line.group_buy
    if gb.state == GroupBuyState.OPEN:
        return _("接龙中，%(n)d 户已下单") % {"n": line.orders}
    if gb.state == GroupBuyState.CLOSED:
        return _("已截单，等待到货（%(n)d 户）") % {"n": line.orders}
    if gb.state == GroupBuyState.ARRIVED:
        return _("已到货，正在分拣（%(n)d 户）") % {"n": line.orders}
    return _("配送中：已送达 %(d)d / %(n)d 户，已确认 %(c)d 户") % {
        "d": line.delivered,
        "n": line.orders,
        "c": line.confirmed,
    }
