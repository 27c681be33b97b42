"""The group-buying router and what its operations share: the calling person, the idempotency
key, the schemas, fetching a group buy / order / delivery in scope, and the output rows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import KEY_FIELD as KEY_FIELD
from huzhu.accounts.api.schemas import NO_NUL
from huzhu.accounts.api.schemas import Key as Key
from huzhu.accounts.models import Person
from huzhu.core.api import PageIn, PageMeta, idempotency_key
from huzhu.core.api import actor_of as actor_of
from huzhu.core.errors import DomainError
from huzhu.lockdown.actions.common import ORDER_FOR, RUN, VIEW, may_view
from huzhu.lockdown.models import (
    Delivery,
    GroupBuy,
    GroupBuyItem,
    GroupBuyState,
    Order,
    OrderLine,
    Payment,
    Refund,
    ShortageReason,
)

router = Router(tags=["lockdown"])

Fen = Annotated[int, Field(ge=0, le=2_000_000_000)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The API's idempotency key (header, else body field): one definition for every app.
key_of = idempotency_key


# --- schemas ---------------------------------------------------------------------------------


class ItemIn(Schema):
    name: str = Field(..., min_length=1, max_length=100, pattern=NO_NUL)
    unit: str = Field(..., min_length=1, max_length=20, pattern=NO_NUL)
    price_fen: int = Field(..., ge=1, le=100_000_000, description="单价（分）")
    stock: int | None = Field(None, ge=0, le=100_000_000, description="库存；不填为不限")
    per_household_max: int | None = Field(None, ge=1, le=10_000, description="每户限购")
    min_total: int = Field(0, ge=0, le=100_000_000, description="成团数量（不足则不采购并退款）")


class GroupBuyIn(Schema):
    community_id: int = Field(..., ge=1)
    group_id: int | None = Field(None, ge=1, description="负责小组（团长组）")
    logistics_group_id: int | None = Field(None, ge=1, description="物流组")
    title: str = Field(..., min_length=1, max_length=100, pattern=NO_NUL)
    supplier_name: str = Field(..., min_length=1, max_length=100, pattern=NO_NUL)
    supplier_contact: str = Field("", max_length=100, pattern=NO_NUL)
    deadline: dt.datetime
    delivery_date: dt.date | None = None
    building_ids: list[int] = Field(..., min_length=1, max_length=2000)
    items: list[ItemIn] = Field(..., min_length=1, max_length=200)
    draft: bool = Field(False, description="保存为草稿，稍后发布")
    idempotency_key: Key | None = KEY_FIELD


class ItemOut(Schema):
    id: int
    name: str
    unit: str
    price_fen: int
    stock: int | None
    remaining: int | None
    per_household_max: int | None
    min_total: int


class GroupBuyOut(Schema):
    id: int
    community_id: int
    group_id: int | None
    title: str
    supplier_name: str
    deadline: dt.datetime
    delivery_date: dt.date | None
    state: str
    state_label: str
    building_ids: list[int]


class GroupBuyDetailOut(GroupBuyOut):
    supplier_contact: str = Field(..., description="仅团长及可查看订单者可见")
    items: list[ItemOut]
    my_order_id: int | None
    may_run: bool


class GroupBuyPage(Schema):
    items: list[GroupBuyOut]
    meta: PageMeta


class GroupBuyQuery(PageIn):
    state: str = Field("", max_length=12, description="按状态筛选")


class LineIn(Schema):
    item_id: int = Field(..., ge=1)
    quantity: int = Field(..., ge=0, le=10_000)


class OrderIn(Schema):
    lines: list[LineIn] = Field(..., min_length=1, max_length=200)
    household_id: int | None = Field(None, ge=1, description="代为下单的住户")
    idempotency_key: Key | None = KEY_FIELD


class LineOut(Schema):
    item_id: int
    name: str
    unit: str
    quantity: int
    price_fen: int


class OrderOut(Schema):
    id: int
    group_buy_id: int
    household_id: int
    household: str
    state: str
    total_fen: int
    paid_fen: int
    refund_fen: int
    placed_at: dt.datetime
    lines: list[LineOut]
    delivery_id: int | None
    delivered_at: dt.datetime | None
    confirmed_at: dt.datetime | None


class OrderPage(Schema):
    items: list[OrderOut]
    meta: PageMeta


class OrderQuery(PageIn):
    building_id: int | None = Field(None, ge=1)


class KeyIn(Schema):
    idempotency_key: Key | None = KEY_FIELD


class CancelIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class ArriveIn(Schema):
    supplier_bill_fen: Fen | None = Field(None, description="供应商账单（分）")
    idempotency_key: Key | None = KEY_FIELD


class BillIn(Schema):
    amount_fen: Fen = Field(..., description="供应商账单（分）")
    idempotency_key: Key | None = KEY_FIELD


class AssignIn(Schema):
    volunteer_ids: list[int] | None = Field(
        None, max_length=1000, description="配送志愿者；不填则为物流组成员"
    )
    idempotency_key: Key | None = KEY_FIELD


class AssignOut(Schema):
    assigned: dict[str, int] = Field(..., description="本次分配：楼栋 id → 志愿者 id")
    state: str


class ShortageIn(Schema):
    item_id: int = Field(..., ge=1)
    quantity: int = Field(..., ge=1, le=100_000_000)
    reason: str = Field(
        ShortageReason.SUPPLIER, max_length=16, description="supplier / damaged / below_minimum"
    )
    note: str = Field("", max_length=500, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class ShortageOut(Schema):
    id: int
    item_id: int
    quantity: int
    reason: str
    households: int
    refund_fen: int


class SubstitutionIn(Schema):
    item_id: int = Field(..., ge=1)
    substitute: str = Field(..., min_length=1, max_length=100, pattern=NO_NUL)
    note: str = Field("", max_length=500, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class SubstitutionOut(Schema):
    id: int
    item_id: int
    substitute: str


class PaymentIn(Schema):
    method: str = Field(..., max_length=8, description="cash / wechat / alipay / other")
    amount_fen: int = Field(..., ge=1, le=2_000_000_000)
    note: str = Field("", max_length=200, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class PaymentOut(Schema):
    id: int
    order_id: int
    method: str
    amount_fen: int
    created_at: dt.datetime


class SupplierRowOut(Schema):
    item_id: int
    name: str
    unit: str
    price_fen: int
    ordered: int
    short: int
    quantity: int
    amount_fen: int


class SupplierOrderOut(Schema):
    rows: list[SupplierRowOut]
    total_fen: int


class HouseholdRowOut(Schema):
    order_id: int
    household_id: int
    room: str
    quantities: dict[str, int] = Field(..., description="商品 id → 数量（已扣除缺货）")
    amount_fen: int


class BuildingSheetOut(Schema):
    building_id: int
    name: str
    households: list[HouseholdRowOut]
    totals: dict[str, int]


class SortingQuery(Schema):
    building_id: int | None = Field(None, ge=1)


class ExportQuery(Schema):
    kind: str = Field("supplier", max_length=10, description="supplier / sorting / labels")


class ReconciliationOut(Schema):
    ordered_fen: int
    refunds_fen: int
    expected_bill_fen: int
    supplier_bill_fen: int | None
    paid_fen: int
    to_return_fen: int
    collected_net_fen: int
    unpaid_fen: int
    unpaid_households: int
    difference_fen: int | None
    balanced: bool


class DeliverIn(Schema):
    contactless: bool = True
    photo_path: str = Field("", max_length=255, pattern=NO_NUL)
    idempotency_key: Key | None = KEY_FIELD


class DeliveryOut(Schema):
    id: int
    order_id: int
    group_buy_id: int
    building_id: int
    household: str
    volunteer_id: int | None
    assigned_at: dt.datetime | None
    delivered_at: dt.datetime | None
    contactless: bool
    photo_path: str
    confirmed_at: dt.datetime | None


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    meta: PageMeta


# --- fetching in scope -----------------------------------------------------------------------


def _group_buy(actor: Person, pk: int) -> GroupBuy:
    gb = get_object_or_404(GroupBuy.objects.select_related("community", "group"), pk=pk)
    if not may_view(actor, gb):
        policy.require(actor, VIEW, gb)
    return gb


def _staff_group_buy(actor: Person, pk: int) -> GroupBuy:
    gb = get_object_or_404(GroupBuy.objects.select_related("community", "group"), pk=pk)
    if not policy.can(actor, RUN, gb):
        policy.require(actor, VIEW, gb)
    return gb


def _may_see_order(actor: Person, order: Order) -> bool:
    return (
        actor.household_id == order.household_id
        or policy.can(actor, VIEW, order.group_buy)
        or policy.can(actor, RUN, order.group_buy)
        or policy.can(actor, ORDER_FOR, order.household)
    )


def _order(actor: Person, pk: int) -> Order:
    order = get_object_or_404(
        Order.objects.select_related(
            "group_buy", "group_buy__community", "group_buy__group", "household", "building"
        ),
        pk=pk,
    )
    if not _may_see_order(actor, order):
        policy.require(actor, VIEW, order.group_buy)
    return order


def _delivery(actor: Person, pk: int) -> Delivery:
    d = get_object_or_404(
        Delivery.objects.select_related(
            "group_buy",
            "group_buy__community",
            "group_buy__group",
            "order",
            "order__household",
            "order__building",
        ),
        pk=pk,
    )
    if d.volunteer_id != actor.pk and not _may_see_order(actor, d.order):
        policy.require(actor, VIEW, d.group_buy)
    return d


def _visible_group_buys(actor: Person) -> QuerySet[GroupBuy]:
    staff = policy.visible_to(actor, VIEW, GroupBuy.objects.all()).values("pk")
    runs = policy.visible_to(actor, RUN, GroupBuy.objects.all()).values("pk")
    q = Q(pk__in=staff) | Q(pk__in=runs)
    if actor.household_id is not None and actor.community_id is not None:
        q |= Q(
            community_id=actor.community_id,
            buildings__households__pk=actor.household_id,
        ) & ~Q(state=GroupBuyState.DRAFT)
    return GroupBuy.objects.filter(q).distinct()


# --- output ----------------------------------------------------------------------------------


def _gb_fields(gb: GroupBuy) -> dict[str, Any]:
    return {
        "id": gb.pk,
        "community_id": gb.community_id,
        "group_id": gb.group_id,
        "title": gb.title,
        "supplier_name": gb.supplier_name,
        "deadline": gb.deadline,
        "delivery_date": gb.delivery_date,
        "state": gb.state,
        "state_label": str(GroupBuyState(gb.state).label),
        "building_ids": sorted(b.pk for b in gb.buildings.all()),
    }


def _gb_detail(actor: Person, gb: GroupBuy) -> GroupBuyDetailOut:
    staff = policy.can(actor, VIEW, gb) or policy.can(actor, RUN, gb)
    my = (
        Order.objects.filter(group_buy=gb, household_id=actor.household_id)
        .values_list("pk", flat=True)
        .first()
        if actor.household_id
        else None
    )
    items = [
        ItemOut(
            id=i.pk,
            name=i.name,
            unit=i.unit,
            price_fen=i.price_fen,
            stock=i.stock,
            remaining=i.remaining,
            per_household_max=i.per_household_max,
            min_total=i.min_total,
        )
        for i in GroupBuyItem.objects.filter(group_buy=gb).order_by("position", "pk")
    ]
    return GroupBuyDetailOut(
        **_gb_fields(gb),
        supplier_contact=gb.supplier_contact if staff else "",
        items=items,
        my_order_id=my,
        may_run=policy.can(actor, RUN, gb),
    )


def orders_for_output(qs: QuerySet[Order]) -> QuerySet[Order]:
    """Orders with what ``_order_out`` shows in a fixed number of queries (no N+1): the
    household, the lines with their items, the delivery, the sums paid and refunded."""
    from django.db.models import IntegerField, OuterRef, Prefetch, Subquery, Sum
    from django.db.models.functions import Coalesce

    def total(model: Any) -> Any:
        return Coalesce(
            Subquery(
                model.objects.filter(order=OuterRef("pk"))
                .order_by()
                .values("order")
                .annotate(s=Sum("amount_fen"))
                .values("s"),
                output_field=IntegerField(),
            ),
            0,
        )

    return (
        qs.select_related("household", "building", "delivery")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.select_related("item").order_by("item"))
        )
        .annotate(paid_sum=total(Payment), refund_sum=total(Refund))
    )


def _order_out(order: Order) -> OrderOut:
    if not hasattr(order, "paid_sum"):
        order = orders_for_output(Order.objects.filter(pk=order.pk)).get()
    lines = [
        LineOut(
            item_id=line.item_id,
            name=line.item.name,
            unit=line.item.unit,
            quantity=line.quantity,
            price_fen=line.price_fen,
        )
        for line in order.lines.all()
    ]
    try:
        d: Delivery | None = order.delivery
    except Delivery.DoesNotExist:
        d = None
    return OrderOut(
        id=order.pk,
        group_buy_id=order.group_buy_id,
        household_id=order.household_id,
        household=f"{order.building.name}-{order.household.room}",
        state=order.state,
        total_fen=order.total_fen,
        paid_fen=int(order.paid_sum),  # type: ignore[attr-defined]
        refund_fen=int(order.refund_sum),  # type: ignore[attr-defined]
        placed_at=order.placed_at,
        lines=lines,
        delivery_id=d.pk if d else None,
        delivered_at=d.delivered_at if d else None,
        confirmed_at=d.confirmed_at if d else None,
    )


def _delivery_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.pk,
        order_id=d.order_id,
        group_buy_id=d.group_buy_id,
        building_id=d.building_id,
        household=f"{d.order.building.name}-{d.order.household.room}",
        volunteer_id=d.volunteer_id,
        assigned_at=d.assigned_at,
        delivered_at=d.delivered_at,
        contactless=d.contactless,
        photo_path=d.photo_path,
        confirmed_at=d.confirmed_at,
    )


def _in(model: type[Any], pk: int | None, community_id: int) -> Any:
    if pk is None:
        return None
    obj = model.objects.filter(pk=pk, community_id=community_id).first()
    if obj is None:
        raise DomainError(
            "lockdown.reference.unknown",
            _("引用的对象不存在或不属于该社区。"),
            details={"id": pk},
        )
    return obj
