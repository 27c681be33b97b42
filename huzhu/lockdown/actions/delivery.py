"""Deliveries to the doors: the logistics group (物流组) is assigned buildings, a volunteer
marks each household's order delivered (contactless by default, optionally with a photo), and
the resident confirms receipt."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, RoleGrant
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.lockdown.actions.common import (
    RUN,
    S,
    clean_text,
    lock_group_buy,
    require_household,
    require_state,
)
from huzhu.lockdown.models import Delivery, GroupBuy


def logistics_volunteers(group_buy: GroupBuy) -> list[Person]:
    """The members and leaders of the group buy's logistics group, in a stable order."""
    if group_buy.logistics_group_id is None:
        return []
    ids = (
        RoleGrant.objects.active()
        .filter(
            scope_kind="group",
            group_id=group_buy.logistics_group_id,
            role__in=("group_member", "group_leader"),
        )
        .values_list("person_id", flat=True)
    )
    return list(
        Person.objects.filter(
            pk__in=ids, is_active=True, community_id=group_buy.community_id
        ).order_by("pk")
    )


def assign_deliveries(
    *, actor: Person, group_buy: GroupBuy, volunteers: Sequence[Person] | None = None
) -> dict[int, int]:
    """Give every building's undelivered, unassigned orders to one volunteer of the logistics
    group (or of ``volunteers``): a building stays with the volunteer who already has it;
    the others go, largest first, to the volunteer with the fewest deliveries so far (a fair
    round-robin by load). arrived → delivering. Returns building id → volunteer id of the
    buildings assigned now; running it again assigns only what is new (idempotent)."""
    policy.require(actor, RUN, group_buy)
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        require_state(gb, S.ARRIVED, S.DELIVERING)
        people = list(volunteers) if volunteers is not None else logistics_volunteers(gb)
        people = list({p.pk: p for p in people}.values())
        if not people:
            raise DomainError(
                "lockdown.delivery.no_volunteers",
                _("没有可分配的物流志愿者，请先在物流组中添加成员。"),
                details={"field": "volunteer_ids"},
            )
        for p in people:
            if p.community_id != gb.community_id or not p.is_active:
                raise DomainError(
                    "lockdown.delivery.volunteer_community",
                    _("志愿者“%(name)s”不属于本社区。") % {"name": p.name},
                    details={"field": "volunteer_ids", "volunteer_id": p.pk},
                )
        rows = Delivery.objects.filter(group_buy=gb, delivered_at__isnull=True)
        load: Counter[int] = Counter(
            dict(
                rows.filter(volunteer__isnull=False)
                .values("volunteer_id")
                .annotate(n=Count("pk"))
                .values_list("volunteer_id", "n")
            )
        )
        holder = dict(
            rows.filter(volunteer__isnull=False)
            .values_list("building_id", "volunteer_id")
            .distinct()
        )
        todo = list(
            rows.filter(volunteer__isnull=True)
            .values("building_id")
            .annotate(n=Count("pk"))
            .values_list("building_id", "n")
        )
        order = {p.pk: i for i, p in enumerate(people)}
        plan: dict[int, int] = {}
        for building_id, n in sorted(todo, key=lambda t: (-t[1], t[0])):
            kept = holder.get(building_id)
            chosen = kept if kept in order else min(order, key=lambda v: (load[v], order[v]))
            plan[building_id] = chosen
            load[chosen] += n
        now = clock.now()
        for building_id, volunteer_id in plan.items():
            rows.filter(volunteer__isnull=True, building_id=building_id).update(
                volunteer_id=volunteer_id, assigned_at=now, updated_at=now
            )
        old_state = gb.state
        if gb.state == S.ARRIVED:
            gb.state = S.DELIVERING
            gb.save(update_fields=["state", "updated_at"])
        record(
            "lockdown.delivery.assigned",
            actor=actor,
            target=gb,
            community=gb.community,
            old={"state": old_state},
            new={"state": gb.state, "plan": [f"{b}:{v}" for b, v in sorted(plan.items())]},
        )
    return plan


def _lock_delivery(delivery: Delivery) -> Delivery:
    return (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("group_buy", "group_buy__community", "order", "order__household")
        .get(pk=delivery.pk)
    )


def _clean_photo(path: str) -> str:
    path = clean_text(path, "photo_path", 255, required=False)
    if path and (path.startswith("/") or ".." in path.split("/") or "\\" in path):
        raise DomainError(
            "lockdown.delivery.photo_path",
            _("照片路径无效。"),
            details={"field": "photo_path"},
        )
    return path


def mark_delivered(
    *, actor: Person, delivery: Delivery, contactless: bool = True, photo_path: str = ""
) -> Delivery:
    """The assigned volunteer (or a leader with "lockdown.run_group_buy") marks a household's
    order delivered to its door. Marking again answers the delivery as it stands."""
    if delivery.volunteer_id != actor.pk:
        policy.require(actor, RUN, delivery.group_buy)
    photo_path = _clean_photo(photo_path)
    with transaction.atomic():
        d = _lock_delivery(delivery)
        if d.delivered_at is not None:
            return d
        require_state(d.group_buy, S.ARRIVED, S.DELIVERING)
        d.delivered_at = clock.now()
        d.delivered_by = actor
        d.contactless = bool(contactless)
        d.photo_path = photo_path
        d.save(
            update_fields=[
                "delivered_at",
                "delivered_by",
                "contactless",
                "photo_path",
                "updated_at",
            ]
        )
        record(
            "lockdown.delivery.delivered",
            actor=actor,
            target=d,
            community=d.group_buy.community,
            new={"order": d.order_id, "contactless": d.contactless, "photo": bool(photo_path)},
        )
    return d


def confirm_received(*, actor: Person, delivery: Delivery) -> Delivery:
    """The household confirms it received its goods (or someone with "lockdown.order_for"
    confirms for it). Only after delivery; confirming again answers the delivery."""
    require_household(actor, delivery.order.household)
    with transaction.atomic():
        d = _lock_delivery(delivery)
        if d.confirmed_at is not None:
            return d
        if d.delivered_at is None:
            raise ConflictError("lockdown.delivery.not_delivered", _("尚未送达，不能确认收货。"))
        d.confirmed_at = clock.now()
        d.confirmed_by = actor
        d.save(update_fields=["confirmed_at", "confirmed_by", "updated_at"])
        record(
            "lockdown.delivery.confirmed",
            actor=actor,
            target=d,
            community=d.group_buy.community,
            new={"order": d.order_id},
        )
    return d
