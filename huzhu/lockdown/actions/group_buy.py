"""The life of a group buy (DOMAIN.md "Lockdown operations"): a group leader (团长) opens it
with a supplier, items, prices, minimums, a deadline and the buildings it covers; households
order until the deadline; the leader closes it (items below their minimum are not bought and
are refunded), the goods arrive, are delivered, and the buy is done."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.lockdown.actions.common import (
    RUN,
    S,
    bad_state,
    clean_key,
    clean_text,
    lock_group_buy,
    positive_int,
    require_state,
)
from huzhu.lockdown.models import (
    Delivery,
    GroupBuy,
    GroupBuyItem,
    Order,
    OrderLine,
    OrderState,
    ShortageReason,
)
from huzhu.orgs.models import Building, Community, Group


@dataclass(frozen=True)
class ItemSpec:
    """One product of a group buy: price in fen; ``stock`` None = unlimited."""

    name: str
    unit: str
    price_fen: int
    stock: int | None = None
    per_household_max: int | None = None
    min_total: int = 0


def _clean_items(items: Sequence[ItemSpec]) -> list[ItemSpec]:
    if not items:
        raise DomainError(
            "lockdown.group_buy.no_items", _("至少需要一个商品。"), details={"field": "items"}
        )
    if len(items) > 200:
        raise DomainError(
            "lockdown.group_buy.too_many_items",
            _("商品最多 200 个。"),
            details={"field": "items"},
        )
    out: list[ItemSpec] = []
    names: set[str] = set()
    for i, spec in enumerate(items):
        name = clean_text(spec.name, f"items[{i}].name", 100, required=True)
        if name in names:
            raise DomainError(
                "lockdown.group_buy.duplicate_item",
                _("商品“%(name)s”重复。") % {"name": name},
                details={"field": f"items[{i}].name"},
            )
        names.add(name)
        out.append(
            ItemSpec(
                name=name,
                unit=clean_text(spec.unit, f"items[{i}].unit", 20, required=True),
                price_fen=positive_int(spec.price_fen, f"items[{i}].price_fen"),
                stock=(
                    None
                    if spec.stock is None
                    else positive_int(spec.stock, f"items[{i}].stock", allow_zero=True)
                ),
                per_household_max=(
                    None
                    if spec.per_household_max is None
                    else positive_int(spec.per_household_max, f"items[{i}].per_household_max")
                ),
                min_total=positive_int(spec.min_total, f"items[{i}].min_total", allow_zero=True),
            )
        )
    return out


def open_group_buy(
    *,
    actor: Person,
    community: Community,
    title: str,
    supplier_name: str,
    deadline: dt.datetime,
    buildings: Sequence[Building],
    items: Sequence[ItemSpec],
    key: str,
    group: Group | None = None,
    logistics_group: Group | None = None,
    supplier_contact: str = "",
    delivery_date: dt.date | None = None,
    draft: bool = False,
) -> GroupBuy:
    """Open a group buy (or save it as a draft): "lockdown.run_group_buy" on the group that
    runs it (the 团长组), or on the community. Idempotent by the leader's key: a replay answers
    the group buy already opened."""
    key = clean_key(key)
    existing = GroupBuy.objects.filter(leader=actor, open_key=key).first()
    if existing is not None:
        policy.require(actor, RUN, existing)
        return existing
    for g in (group, logistics_group):
        if g is not None and g.community_id != community.pk:
            raise DomainError(
                "lockdown.group_buy.group_community",
                _("小组不属于该社区。"),
                details={"field": "group"},
            )
    policy.require(actor, RUN, group if group is not None else community)
    title = clean_text(title, "title", 100, required=True)
    supplier_name = clean_text(supplier_name, "supplier_name", 100, required=True)
    supplier_contact = clean_text(supplier_contact, "supplier_contact", 100, required=False)
    specs = _clean_items(items)
    if deadline <= clock.now():
        raise DomainError(
            "lockdown.group_buy.deadline_past",
            _("截单时间必须晚于现在。"),
            details={"field": "deadline"},
        )
    if delivery_date is not None and delivery_date < deadline.date():
        raise DomainError(
            "lockdown.group_buy.delivery_before_deadline",
            _("送达日期不能早于截单日期。"),
            details={"field": "delivery_date"},
        )
    building_ids = sorted({b.pk for b in buildings})
    if not building_ids:
        raise DomainError(
            "lockdown.group_buy.no_buildings",
            _("至少需要覆盖一栋楼。"),
            details={"field": "buildings"},
        )
    if any(b.community_id != community.pk for b in buildings):
        raise DomainError(
            "lockdown.group_buy.building_community",
            _("楼栋不属于该社区。"),
            details={"field": "buildings"},
        )
    now = clock.now()
    try:
        with transaction.atomic():
            gb = GroupBuy.objects.create(
                community=community,
                group=group,
                logistics_group=logistics_group,
                leader=actor,
                title=title,
                supplier_name=supplier_name,
                supplier_contact=supplier_contact,
                deadline=deadline,
                delivery_date=delivery_date,
                state=S.DRAFT if draft else S.OPEN,
                open_key=key,
                opened_at=None if draft else now,
            )
            gb.buildings.set(building_ids)
            GroupBuyItem.objects.bulk_create(
                GroupBuyItem(
                    group_buy=gb,
                    position=i,
                    name=s.name,
                    unit=s.unit,
                    price_fen=s.price_fen,
                    stock=s.stock,
                    per_household_max=s.per_household_max,
                    min_total=s.min_total,
                )
                for i, s in enumerate(specs)
            )
            record(
                "lockdown.group_buy.opened" if not draft else "lockdown.group_buy.drafted",
                actor=actor,
                target=gb,
                community=community,
                new={
                    "title": title,
                    "supplier": supplier_name,
                    "deadline": deadline.isoformat(),
                    "buildings": building_ids,
                    "items": len(specs),
                },
            )
    except IntegrityError:
        # A concurrent replay of the same key won.
        winner = GroupBuy.objects.filter(leader=actor, open_key=key).first()
        if winner is None:
            raise
        return winner
    return gb


def publish_group_buy(*, actor: Person, group_buy: GroupBuy) -> GroupBuy:
    """A draft goes live (draft → open); the deadline must still be ahead."""
    policy.require(actor, RUN, group_buy)
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        if gb.state == S.OPEN:
            return gb
        require_state(gb, S.DRAFT)
        if gb.deadline <= clock.now():
            raise DomainError(
                "lockdown.group_buy.deadline_past",
                _("截单时间必须晚于现在。"),
                details={"field": "deadline"},
            )
        gb.state = S.OPEN
        gb.opened_at = clock.now()
        gb.save(update_fields=["state", "opened_at", "updated_at"])
        record(
            "lockdown.group_buy.published",
            actor=actor,
            target=gb,
            community=gb.community,
            old={"state": S.DRAFT},
            new={"state": S.OPEN},
        )
    return gb


def close_group_buy(*, actor: Person, group_buy: GroupBuy) -> GroupBuy:
    """Stop taking orders (截单): open → closed. An item whose ordered total stays below its
    minimum (成团数量) is not bought: a shortage of all of it is recorded and every household
    that ordered it is refunded. Closing again answers the closed buy."""
    from huzhu.lockdown.actions.money import short_item

    policy.require(actor, RUN, group_buy)
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        if gb.state in (S.CLOSED, S.ARRIVED, S.DELIVERING, S.DONE):
            return gb
        require_state(gb, S.OPEN)
        gb.state = S.CLOSED
        gb.closed_at = clock.now()
        gb.save(update_fields=["state", "closed_at", "updated_at"])
        totals = dict(
            OrderLine.objects.filter(order__group_buy=gb, order__state=OrderState.PLACED)
            .values("item_id")
            .annotate(total=Sum("quantity"))
            .values_list("item_id", "total")
        )
        not_formed = []
        for item in gb.items.filter(min_total__gt=0).order_by("pk"):
            total = int(totals.get(item.pk, 0))
            if 0 < total < item.min_total:
                short_item(
                    actor=actor,
                    group_buy=gb,
                    item=item,
                    quantity=total,
                    reason=ShortageReason.BELOW_MINIMUM,
                    note="",
                    key=f"below-minimum:{item.pk}",
                )
                not_formed.append(item.name)
        record(
            "lockdown.group_buy.closed",
            actor=actor,
            target=gb,
            community=gb.community,
            old={"state": S.OPEN},
            new={"state": S.CLOSED, "not_formed": not_formed},
        )
    return gb


def cancel_group_buy(*, actor: Person, group_buy: GroupBuy, reason: str) -> GroupBuy:
    """Call off a group buy before the goods arrive (draft, open or closed)."""
    policy.require(actor, RUN, group_buy)
    reason = clean_text(reason, "reason", 500, required=True)
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        if gb.state == S.CANCELLED:
            return gb
        require_state(gb, S.DRAFT, S.OPEN, S.CLOSED)
        if gb.payments.exists():
            raise ConflictError(
                "lockdown.group_buy.has_payments",
                _("已有付款记录，不能取消团购。"),
            )
        old = gb.state
        gb.state = S.CANCELLED
        gb.save(update_fields=["state", "updated_at"])
        record(
            "lockdown.group_buy.cancelled",
            actor=actor,
            target=gb,
            community=gb.community,
            old={"state": old},
            new={"state": S.CANCELLED, "reason": reason},
        )
    return gb


def mark_arrived(
    *, actor: Person, group_buy: GroupBuy, supplier_bill_fen: int | None = None
) -> GroupBuy:
    """The goods have arrived (closed → arrived): a delivery is opened for every household's
    order; the supplier's bill (fen) may be recorded now or later for reconciliation."""
    policy.require(actor, RUN, group_buy)
    if supplier_bill_fen is not None:
        positive_int(supplier_bill_fen, "supplier_bill_fen", allow_zero=True)
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        if gb.state in (S.ARRIVED, S.DELIVERING, S.DONE):
            return gb
        require_state(gb, S.CLOSED)
        now = clock.now()
        gb.state = S.ARRIVED
        gb.arrived_at = now
        fields = ["state", "arrived_at", "updated_at"]
        if supplier_bill_fen is not None:
            gb.supplier_bill_fen = supplier_bill_fen
            fields.append("supplier_bill_fen")
        gb.save(update_fields=fields)
        orders = list(
            Order.objects.filter(group_buy=gb, state=OrderState.PLACED).values_list(
                "pk", "building_id"
            )
        )
        Delivery.objects.bulk_create(
            (
                Delivery(order_id=pk, group_buy=gb, building_id=building_id)
                for pk, building_id in orders
            ),
            batch_size=1000,
        )
        record(
            "lockdown.group_buy.arrived",
            actor=actor,
            target=gb,
            community=gb.community,
            old={"state": S.CLOSED},
            new={"state": S.ARRIVED, "deliveries": len(orders), "bill_fen": supplier_bill_fen},
        )
    return gb


def record_supplier_bill(*, actor: Person, group_buy: GroupBuy, amount_fen: int) -> GroupBuy:
    """Record (or correct) the supplier's bill in fen, for reconciliation; audited."""
    policy.require(actor, RUN, group_buy)
    positive_int(amount_fen, "amount_fen", allow_zero=True)
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        if gb.state in (S.DRAFT, S.OPEN, S.CANCELLED):
            raise bad_state(gb)
        old = gb.supplier_bill_fen
        if old == amount_fen:
            return gb
        gb.supplier_bill_fen = amount_fen
        gb.save(update_fields=["supplier_bill_fen", "updated_at"])
        record(
            "lockdown.group_buy.bill_recorded",
            actor=actor,
            target=gb,
            community=gb.community,
            old={"bill_fen": old},
            new={"bill_fen": amount_fen},
        )
    return gb


def finish_group_buy(*, actor: Person, group_buy: GroupBuy) -> GroupBuy:
    """Every order delivered: delivering → done."""
    policy.require(actor, RUN, group_buy)
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        if gb.state == S.DONE:
            return gb
        require_state(gb, S.DELIVERING)
        left = Delivery.objects.filter(group_buy=gb, delivered_at__isnull=True).count()
        if left:
            raise ConflictError(
                "lockdown.group_buy.undelivered",
                _("还有 %(count)s 户未送达，不能完成团购。") % {"count": left},
                details={"undelivered": left},
            )
        gb.state = S.DONE
        gb.done_at = clock.now()
        gb.save(update_fields=["state", "done_at", "updated_at"])
        record(
            "lockdown.group_buy.done",
            actor=actor,
            target=gb,
            community=gb.community,
            old={"state": S.DELIVERING},
            new={"state": S.DONE},
        )
    return gb
