"""Reads of a group buy (always for a group buy the caller has already fetched in scope): the
supplier's aggregated order, the per-building sorting sheets (分拣单), the per-household labels
and the reconciliation of payments and refunds against the supplier's bill. Quantities are
net of shortages: what each household will really receive."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Sum

from huzhu.lockdown.models import (
    Delivery,
    GroupBuy,
    GroupBuyItem,
    Order,
    OrderLine,
    OrderState,
    Payment,
    Refund,
)


@dataclass(frozen=True)
class SupplierRow:
    item_id: int
    name: str
    unit: str
    price_fen: int
    ordered: int  # units in the live orders
    short: int  # units refunded (shortages, items not formed)
    quantity: int  # units to supply: ordered - short
    amount_fen: int  # quantity × price


def supplier_order(group_buy: GroupBuy) -> list[SupplierRow]:
    """Item → total quantity and amount, in the item order of the group buy."""
    ordered = {
        row["item_id"]: int(row["q"])
        for row in OrderLine.objects.filter(
            order__group_buy=group_buy, order__state=OrderState.PLACED
        )
        .values("item_id")
        .annotate(q=Sum("quantity"))
        .values("item_id", "q")
    }
    short = {
        row["item_id"]: int(row["q"])
        for row in Refund.objects.filter(group_buy=group_buy, order__state=OrderState.PLACED)
        .values("item_id")
        .annotate(q=Sum("quantity"))
        .values("item_id", "q")
    }
    rows = []
    for item in GroupBuyItem.objects.filter(group_buy=group_buy).order_by("position", "pk"):
        q = ordered.get(item.pk, 0)
        s = short.get(item.pk, 0)
        rows.append(
            SupplierRow(
                item_id=item.pk,
                name=item.name,
                unit=item.unit,
                price_fen=item.price_fen,
                ordered=q,
                short=s,
                quantity=q - s,
                amount_fen=(q - s) * item.price_fen,
            )
        )
    return rows


@dataclass
class HouseholdSheet:
    order_id: int
    household_id: int
    room: str
    quantities: dict[int, int] = field(default_factory=dict)  # item id → net units
    amount_fen: int = 0  # net amount (total - refunds)


@dataclass
class BuildingSheet:
    building_id: int
    name: str
    households: list[HouseholdSheet] = field(default_factory=list)

    def total(self, item_id: int) -> int:
        return sum(h.quantities.get(item_id, 0) for h in self.households)


def sorting_sheets(group_buy: GroupBuy, building_id: int | None = None) -> list[BuildingSheet]:
    """Building → household → item quantities (net of shortages), buildings by name, households
    by room. Items a household will not receive at all are left out of its row."""
    orders = Order.objects.filter(group_buy=group_buy, state=OrderState.PLACED)
    if building_id is not None:
        orders = orders.filter(building_id=building_id)
    refunds: dict[tuple[int, int], tuple[int, int]] = {}
    for order_id, item_id, q, a in (
        Refund.objects.filter(order__in=orders)
        .values("order_id", "item_id")
        .annotate(q=Sum("quantity"), a=Sum("amount_fen"))
        .values_list("order_id", "item_id", "q", "a")
    ):
        refunds[(order_id, item_id)] = (int(q), int(a))
    sheets: dict[int, BuildingSheet] = {}
    by_order: dict[int, HouseholdSheet] = {}
    for pk, household_id, b_id, b_name, room, total in orders.values_list(
        "pk",
        "household_id",
        "building_id",
        "building__name",
        "household__room",
        "total_fen",
    ):
        sheet = sheets.get(b_id)
        if sheet is None:
            sheet = sheets[b_id] = BuildingSheet(b_id, b_name)
        h = HouseholdSheet(order_id=pk, household_id=household_id, room=room, amount_fen=total)
        sheet.households.append(h)
        by_order[pk] = h
    for order_id, item_id, q in OrderLine.objects.filter(order__in=orders).values_list(
        "order_id", "item_id", "quantity"
    ):
        short, refund_fen = refunds.get((order_id, item_id), (0, 0))
        h = by_order[order_id]
        if q - short > 0:
            h.quantities[item_id] = q - short
        h.amount_fen -= refund_fen
    out = sorted(sheets.values(), key=lambda s: (_natural(s.name), s.building_id))
    for s in out:
        s.households.sort(key=lambda h: (_natural(h.room), h.household_id))
    return out


def _natural(text: str) -> tuple[object, ...]:
    """Sort "2号楼" before "10号楼"."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


@dataclass(frozen=True)
class Label:
    order_id: int
    building: str
    room: str
    contents: str  # "白菜×2份；鸡蛋×1盒"
    amount_fen: int
    paid: bool


def labels(group_buy: GroupBuy) -> list[Label]:
    """One label per household order (to stick on its bag), in sorting-sheet order."""
    items = {i.pk: i for i in GroupBuyItem.objects.filter(group_buy=group_buy)}
    paid = dict(
        Payment.objects.filter(group_buy=group_buy)
        .values("order_id")
        .annotate(s=Sum("amount_fen"))
        .values_list("order_id", "s")
    )
    out = []
    for sheet in sorting_sheets(group_buy):
        for h in sheet.households:
            parts = [
                f"{items[i].name}×{q}{items[i].unit}"
                for i, q in sorted(h.quantities.items(), key=lambda t: items[t[0]].position)
            ]
            out.append(
                Label(
                    order_id=h.order_id,
                    building=sheet.name,
                    room=h.room,
                    contents="；".join(parts),
                    amount_fen=h.amount_fen,
                    paid=int(paid.get(h.order_id, 0)) >= h.amount_fen,
                )
            )
    return out


@dataclass(frozen=True)
class Reconciliation:
    ordered_fen: int  # Σ totals of the live orders
    refunds_fen: int  # Σ refunds (shortages)
    expected_bill_fen: int  # ordered - refunds: what the goods delivered cost
    supplier_bill_fen: int | None
    paid_fen: int  # Σ payments recorded
    to_return_fen: int  # refunds still to hand back: Σ max(0, paid - due) per order
    collected_net_fen: int  # paid - to_return
    unpaid_fen: int  # Σ max(0, due - paid) per order
    unpaid_households: int
    difference_fen: int | None  # collected_net - supplier bill
    balanced: bool


def reconciliation(group_buy: GroupBuy) -> Reconciliation:
    """Payments minus refunds against the supplier's bill. Per order, ``due`` = total -
    refunds; money paid beyond it is a refund to hand back. Balanced when the supplier's bill
    equals the goods delivered and every household has paid what it owes."""
    orders = Order.objects.filter(group_buy=group_buy, state=OrderState.PLACED)
    totals = dict(orders.values_list("pk", "total_fen"))
    refunds = dict(
        Refund.objects.filter(order__in=orders)
        .values("order_id")
        .annotate(s=Sum("amount_fen"))
        .values_list("order_id", "s")
    )
    paid = dict(
        Payment.objects.filter(order__in=orders)
        .values("order_id")
        .annotate(s=Sum("amount_fen"))
        .values_list("order_id", "s")
    )
    to_return = unpaid = unpaid_households = 0
    for pk, total in totals.items():
        due = int(total) - int(refunds.get(pk, 0))
        p = int(paid.get(pk, 0))
        to_return += max(0, p - due)
        unpaid += max(0, due - p)
        unpaid_households += 1 if p < due else 0
    ordered = sum(int(t) for t in totals.values())
    refunded = sum(int(r) for r in refunds.values())
    paid_sum = sum(int(p) for p in paid.values())
    collected = paid_sum - to_return
    bill = group_buy.supplier_bill_fen
    difference = None if bill is None else collected - bill
    return Reconciliation(
        ordered_fen=ordered,
        refunds_fen=refunded,
        expected_bill_fen=ordered - refunded,
        supplier_bill_fen=bill,
        paid_fen=paid_sum,
        to_return_fen=to_return,
        collected_net_fen=collected,
        unpaid_fen=unpaid,
        unpaid_households=unpaid_households,
        difference_fen=difference,
        balanced=bill is not None and difference == 0 and bill == ordered - refunded,
    )


def delivery_counts(group_buy: GroupBuy) -> dict[str, int]:
    """How many deliveries are unassigned, assigned, delivered and confirmed."""
    rows = Delivery.objects.filter(group_buy=group_buy)
    return {
        "total": rows.count(),
        "unassigned": rows.filter(volunteer__isnull=True, delivered_at__isnull=True).count(),
        "delivered": rows.filter(delivered_at__isnull=False).count(),
        "confirmed": rows.filter(confirmed_at__isnull=False).count(),
    }
