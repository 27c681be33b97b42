"""Group buying API: the payment records of a group buy and the reversal of a mistaken one
(撤销付款). Both need "lockdown.record_payment" on the group buy (the branch head, the 团长,
the finance officer): 404 outside the caller's communities, 403 inside them without it."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Schema
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import NO_NUL, PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, PageIn, PageMeta, paginate
from huzhu.lockdown import actions
from huzhu.lockdown.actions.common import PAY
from huzhu.lockdown.api.common import KEY_FIELD, Key, actor_of, key_of, router
from huzhu.lockdown.models import GroupBuy, Payment, PaymentMethod


class ReverseIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500, pattern=NO_NUL, description="撤销原因")
    idempotency_key: Key | None = KEY_FIELD


class PaymentRecordOut(Schema):
    id: int
    order_id: int
    building: str
    room: str
    method: str
    method_label: str
    amount_fen: int = Field(..., description="金额（分）；撤销记录为负数")
    note: str
    recorded_by: str = Field(..., description="登记人姓名")
    created_at: dt.datetime
    reverses_id: int | None = Field(..., description="撤销记录：被撤销的付款")
    reversed_by_id: int | None = Field(..., description="已撤销的付款：撤销记录")
    reason: str = Field(..., description="撤销原因")


class PaymentRecordPage(Schema):
    items: list[PaymentRecordOut]
    meta: PageMeta


class PaymentQuery(PageIn):
    order_id: int | None = Field(None, ge=1, description="只看某个订单的记录")


# --- fetching in scope -----------------------------------------------------------------------


def payer_group_buy(actor: Person, pk: int) -> GroupBuy:
    """A group buy whose payments the actor records: 404 outside scope, 403 without the right."""
    gb = get_object_or_404(GroupBuy.objects.select_related("community", "group"), pk=pk)
    policy.require(actor, PAY, gb)
    return gb


def payer_payment(actor: Person, pk: int) -> Payment:
    """A payment record of a group buy whose payments the actor records."""
    p: Payment = get_object_or_404(
        Payment.objects.select_related("group_buy", "group_buy__community", "group_buy__group"),
        pk=pk,
    )
    policy.require(actor, PAY, p.group_buy)
    return p


def payments_for_output(qs: QuerySet[Payment]) -> QuerySet[Payment]:
    """Payment records with their order's building and room, who recorded them and their
    reversal, in one query."""
    return qs.select_related(
        "order__building", "order__household", "recorded_by", "reversal"
    ).order_by("-created_at", "-pk")


def _reversal_id(p: Payment) -> int | None:
    try:
        return p.reversal.pk
    except Payment.DoesNotExist:
        return None


def payment_out(p: Payment) -> PaymentRecordOut:
    return PaymentRecordOut(
        id=p.pk,
        order_id=p.order_id,
        building=p.order.building.name,
        room=p.order.household.room,
        method=p.method,
        method_label=str(PaymentMethod(p.method).label),
        amount_fen=p.amount_fen,
        note=p.note,
        recorded_by=p.recorded_by.name,
        created_at=p.created_at,
        reverses_id=p.reverses_id,
        reversed_by_id=_reversal_id(p),
        reason=p.reason,
    )


# --- operations ------------------------------------------------------------------------------


@router.get(
    "lockdown/group-buys/{int:group_buy_id}/payments",
    response={200: PaymentRecordPage, **ERRORS},
    operation_id="huzhu_lockdown_api_list_payments",
)
def list_payments(
    request: HttpRequest, group_buy_id: PathId, q: Query[PaymentQuery]
) -> PaymentRecordPage:
    """The payment records of a group buy, newest first, reversals included (negative amounts
    linked to the payment they undo) — "lockdown.record_payment"."""
    actor = actor_of(request)
    gb = payer_group_buy(actor, group_buy_id)
    qs = Payment.objects.filter(group_buy=gb)
    if q.order_id is not None:
        qs = qs.filter(order_id=q.order_id)
    rows, meta = paginate(payments_for_output(qs), q)
    return PaymentRecordPage(items=[payment_out(p) for p in rows], meta=meta)


@router.post(
    "lockdown/payments/{int:payment_id}/reverse",
    response={200: PaymentRecordOut, 201: PaymentRecordOut, **ERRORS},
    operation_id="huzhu_lockdown_api_reverse_payment",
)
def reverse_payment(
    request: HttpRequest, payment_id: PathId, payload: ReverseIn
) -> Reply[PaymentRecordOut]:
    """Undo a mistaken payment record: a reversal of the opposite amount is appended (the record
    itself never changes). 201 with the reversal; a replay of the key answers 200 with it; 409
    ``lockdown.payment.already_reversed`` when the payment was reversed before,
    ``lockdown.payment.is_reversal`` for a reversal."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    payment = payer_payment(actor, payment_id)
    replay = Payment.objects.filter(group_buy_id=payment.group_buy_id, key=key).exists()
    reversal = actions.reverse_payment(actor=actor, payment=payment, reason=payload.reason, key=key)
    out = payment_out(payments_for_output(Payment.objects.filter(pk=reversal.pk)).get())
    return Reply(200 if replay else 201, out)
