"""Group buying API: orders, payments and deliveries."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query
from ninja.decorators import decorate_view
from ninja.responses import Status as Reply

from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Household
from huzhu.core.admission import BUSY, api_gate
from huzhu.core.api import ERRORS, PageIn, paginate
from huzhu.core.errors import DomainError
from huzhu.lockdown import actions
from huzhu.lockdown.actions.orders import INTAKE
from huzhu.lockdown.api.common import (
    DeliverIn,
    DeliveryOut,
    DeliveryPage,
    KeyIn,
    LineIn,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderQuery,
    PaymentIn,
    PaymentOut,
    _delivery,
    _delivery_out,
    _group_buy,
    _order,
    _order_out,
    _staff_group_buy,
    actor_of,
    key_of,
    orders_for_output,
    router,
)
from huzhu.lockdown.models import (
    Delivery,
    Order,
    OrderState,
    Payment,
)

# --- orders ----------------------------------------------------------------------------------


def _quantities(lines: list[LineIn]) -> dict[int, int]:
    out: dict[int, int] = {}
    for line in lines:
        if line.item_id in out:
            raise DomainError(
                "lockdown.order.duplicate_line",
                _("同一商品只能填写一行。"),
                details={"field": "lines", "item_id": line.item_id},
            )
        out[line.item_id] = line.quantity
    return out


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/orders",
    response={200: OrderOut, 201: OrderOut, **ERRORS, **BUSY},
    operation_id="huzhu_lockdown_api_place_order",
)
@decorate_view(api_gate(INTAKE))
def place_order(request: HttpRequest, group_buy_id: PathId, payload: OrderIn) -> Reply[OrderOut]:
    """Order for my household (or, with "lockdown.order_for", for ``household_id``) until the
    deadline. 201; a replay of the key answers 200 with the order as it stands; 409
    ``lockdown.item.sold_out`` when an item has not enough stock left; 429 ``core.overloaded``
    with ``Retry-After`` (seconds) at once when the process has as many submissions in flight
    as ``HUZHU_INTAKE_MAX_INFLIGHT`` (nothing written: send the same key again later)."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    gb = _group_buy(actor, group_buy_id)
    household = (
        get_object_or_404(Household, pk=payload.household_id)
        if payload.household_id is not None
        else None
    )
    target = household or actor.household
    replay = (
        target is not None
        and Order.objects.filter(group_buy=gb, household=target, state=OrderState.PLACED)
        .filter(Q(key=key) | Q(last_key=key))
        .exists()
    )
    order = actions.place_order(
        actor=actor,
        group_buy=gb,
        household=household,
        quantities=_quantities(payload.lines),
        key=key,
    )
    # The action placed (or replayed) it for the actor's household or one they order for:
    # they may see it, so it is read once, for the output only.
    return Reply(
        200 if replay else 201,
        _order_out(orders_for_output(Order.objects.filter(pk=order.pk)).get()),
    )


@router.get(
    "lockdown/group-buys/{int:group_buy_id}/orders",
    response={200: OrderPage, **ERRORS},
    operation_id="huzhu_lockdown_api_list_orders",
)
def list_orders(request: HttpRequest, group_buy_id: PathId, q: Query[OrderQuery]) -> OrderPage:
    """The live orders of a group buy, by building and room ("lockdown.view_group_buy")."""
    actor = actor_of(request)
    gb = _staff_group_buy(actor, group_buy_id)
    qs = orders_for_output(Order.objects.filter(group_buy=gb, state=OrderState.PLACED))
    if q.building_id is not None:
        qs = qs.filter(building_id=q.building_id)
    rows, meta = paginate(qs.order_by("building_id", "household__room", "pk"), q)
    return OrderPage(items=[_order_out(o) for o in rows], meta=meta)


@router.get(
    "lockdown/orders/{int:order_id}",
    response={200: OrderOut, **ERRORS},
    operation_id="huzhu_lockdown_api_get_order",
)
def get_order(request: HttpRequest, order_id: PathId) -> OrderOut:
    """One order: its household, the leaders and viewers of the buy, who may order for it."""
    actor = actor_of(request)
    return _order_out(_order(actor, order_id))


@router.post(
    "lockdown/orders/{int:order_id}/edit",
    response={200: OrderOut, **ERRORS, **BUSY},
    operation_id="huzhu_lockdown_api_edit_order",
)
@decorate_view(api_gate(INTAKE))
def edit_order(request: HttpRequest, order_id: PathId, payload: OrderIn) -> OrderOut:
    """Change the quantities until the deadline (the stock held is returned first)."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    order = _order(actor, order_id)
    order = actions.edit_order(
        actor=actor, order=order, quantities=_quantities(payload.lines), key=key
    )
    return _order_out(_order(actor, order.pk))


@router.post(
    "lockdown/orders/{int:order_id}/cancel",
    response={200: OrderOut, **ERRORS},
    operation_id="huzhu_lockdown_api_cancel_order",
)
def cancel_order(request: HttpRequest, order_id: PathId, payload: KeyIn) -> OrderOut:
    """Cancel the order until the deadline; its stock is returned."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    order = actions.cancel_order(actor=actor, order=_order(actor, order_id))
    return _order_out(_order(actor, order.pk))


@router.post(
    "lockdown/orders/{int:order_id}/payments",
    response={200: PaymentOut, 201: PaymentOut, **ERRORS},
    operation_id="huzhu_lockdown_api_record_payment",
)
def record_payment(request: HttpRequest, order_id: PathId, payload: PaymentIn) -> Reply[PaymentOut]:
    """Record a household's payment (cash, WeChat transfer, Alipay, other) — no gateway."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    order = _order(actor, order_id)
    replay = Payment.objects.filter(group_buy_id=order.group_buy_id, key=key).exists()
    p = actions.record_payment(
        actor=actor,
        order=order,
        method=payload.method,
        amount_fen=payload.amount_fen,
        key=key,
        note=payload.note,
    )
    out = PaymentOut(
        id=p.pk,
        order_id=p.order_id,
        method=p.method,
        amount_fen=p.amount_fen,
        created_at=p.created_at,
    )
    return Reply(200 if replay else 201, out)


# --- deliveries ------------------------------------------------------------------------------


@router.get(
    "lockdown/deliveries",
    response={200: DeliveryPage, **ERRORS},
    operation_id="huzhu_lockdown_api_my_deliveries",
)
def my_deliveries(request: HttpRequest, q: Query[PageIn]) -> DeliveryPage:
    """The deliveries assigned to me, undelivered first, by building and room."""
    actor = actor_of(request)
    qs = (
        Delivery.objects.filter(volunteer=actor)
        .select_related("order__household", "order__building")
        .order_by("delivered_at", "building_id", "order__household__room", "pk")
    )
    rows, meta = paginate(qs, q)
    return DeliveryPage(items=[_delivery_out(d) for d in rows], meta=meta)


@router.post(
    "lockdown/deliveries/{int:delivery_id}/delivered",
    response={200: DeliveryOut, **ERRORS},
    operation_id="huzhu_lockdown_api_mark_delivered",
)
def mark_delivered(request: HttpRequest, delivery_id: PathId, payload: DeliverIn) -> DeliveryOut:
    """The assigned volunteer (or a leader) marks the order delivered to the door."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    d = actions.mark_delivered(
        actor=actor,
        delivery=_delivery(actor, delivery_id),
        contactless=payload.contactless,
        photo_path=payload.photo_path,
    )
    return _delivery_out(_delivery(actor, d.pk))


@router.post(
    "lockdown/deliveries/{int:delivery_id}/confirm",
    response={200: DeliveryOut, **ERRORS},
    operation_id="huzhu_lockdown_api_confirm_received",
)
def confirm_received(request: HttpRequest, delivery_id: PathId, payload: KeyIn) -> DeliveryOut:
    """The household confirms receipt (after delivery)."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    d = actions.confirm_received(actor=actor, delivery=_delivery(actor, delivery_id))
    return _delivery_out(_delivery(actor, d.pk))
