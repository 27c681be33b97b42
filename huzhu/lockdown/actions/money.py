"""Shortages, substitutions, refunds and payments of a group buy: all append-only records.

A shortage of an item is borne by the households that ordered it last ("last ordered, first
short": the earliest orders are served in full), and each affected household gets a refund of
the units it will not receive at the price it ordered them. Payments are recorded per
household (cash, WeChat transfer, Alipay, other) by the leader or the finance officer; no
payment gateway. A mistaken payment record is undone by a reversal (撤销付款): a linked row of
the opposite amount, never an edit. Reconciliation is in huzhu.lockdown.queries.reconciliation.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.lockdown.actions.common import (
    PAY,
    RUN,
    S,
    clean_key,
    clean_text,
    lock_group_buy,
    positive_int,
    require_state,
)
from huzhu.lockdown.models import (
    GroupBuy,
    GroupBuyItem,
    Order,
    OrderLine,
    OrderState,
    Payment,
    PaymentMethod,
    Refund,
    Shortage,
    ShortageReason,
    Substitution,
)


def short_item(
    *,
    actor: Person | None,
    group_buy: GroupBuy,
    item: GroupBuyItem,
    quantity: int,
    reason: str,
    note: str,
    key: str,
) -> Shortage:
    """Record a shortage and the refunds it causes (inside the caller's transaction, the group
    buy locked)."""
    lines = list(
        OrderLine.objects.filter(
            item=item, order__group_buy=group_buy, order__state=OrderState.PLACED
        )
        .select_related("order")
        .order_by("-order__placed_at", "-order_id")
    )
    refunded = dict(
        Refund.objects.filter(group_buy=group_buy, item=item)
        .values("order_id")
        .annotate(q=Sum("quantity"))
        .values_list("order_id", "q")
    )
    available = sum(line.quantity - int(refunded.get(line.order_id, 0)) for line in lines)
    if quantity > available:
        raise DomainError(
            "lockdown.shortage.too_many",
            _("缺货数量超过了尚未退款的订购数量（%(left)s）。") % {"left": available},
            details={"field": "quantity", "available": available},
        )
    now = clock.now()
    shortage = Shortage.objects.create(
        group_buy=group_buy,
        item=item,
        quantity=quantity,
        reason=reason,
        note=note,
        recorded_by=actor,
        key=key,
        created_at=now,
    )
    refunds = []
    left = quantity
    for line in lines:
        if not left:
            break
        net = line.quantity - int(refunded.get(line.order_id, 0))
        take = min(net, left)
        if take <= 0:
            continue
        refunds.append(
            Refund(
                group_buy=group_buy,
                order_id=line.order_id,
                item=item,
                shortage=shortage,
                quantity=take,
                amount_fen=take * line.price_fen,
                created_at=now,
            )
        )
        left -= take
    Refund.objects.bulk_create(refunds)
    record(
        "lockdown.shortage.recorded",
        actor=actor,
        target=shortage,
        community=group_buy.community,
        new={
            "group_buy": group_buy.pk,
            "item": item.pk,
            "quantity": quantity,
            "reason": reason,
            "households": len(refunds),
            "refund_fen": sum(r.amount_fen for r in refunds),
        },
    )
    return shortage


def record_shortage(
    *,
    actor: Person,
    group_buy: GroupBuy,
    item: GroupBuyItem,
    quantity: int,
    key: str,
    reason: str = ShortageReason.SUPPLIER,
    note: str = "",
) -> Shortage:
    """Fewer units arrived (or are usable) than were ordered: record the shortage and refund
    the affected households (last ordered, first short). Idempotent by key."""
    policy.require(actor, RUN, group_buy)
    key = clean_key(key)
    quantity = positive_int(quantity, "quantity")
    note = clean_text(note, "note", 500, required=False)
    if reason not in ShortageReason.values:
        raise DomainError(
            "lockdown.shortage.reason", _("缺货原因无效。"), details={"field": "reason"}
        )
    if item.group_buy_id != group_buy.pk:
        raise DomainError(
            "lockdown.shortage.item", _("商品不属于该团购。"), details={"field": "item_id"}
        )
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        replay: Shortage | None = Shortage.objects.filter(group_buy=gb, key=key).first()
        if replay is not None:
            if replay.item_id != item.pk or replay.quantity != quantity:
                raise ConflictError("lockdown.key.reused", _("该幂等键已用于另一条记录。"))
            return replay
        require_state(gb, S.CLOSED, S.ARRIVED, S.DELIVERING)
        return short_item(
            actor=actor,
            group_buy=gb,
            item=item,
            quantity=quantity,
            reason=reason,
            note=note,
            key=key,
        )


def record_substitution(
    *,
    actor: Person,
    group_buy: GroupBuy,
    item: GroupBuyItem,
    substitute: str,
    key: str,
    note: str = "",
) -> Substitution:
    """An item was replaced by another product at the same price (no money moves)."""
    policy.require(actor, RUN, group_buy)
    key = clean_key(key)
    substitute = clean_text(substitute, "substitute", 100, required=True)
    note = clean_text(note, "note", 500, required=False)
    if item.group_buy_id != group_buy.pk:
        raise DomainError(
            "lockdown.shortage.item", _("商品不属于该团购。"), details={"field": "item_id"}
        )
    with transaction.atomic():
        gb = lock_group_buy(group_buy)
        replay: Substitution | None = Substitution.objects.filter(group_buy=gb, key=key).first()
        if replay is not None:
            return replay
        require_state(gb, S.CLOSED, S.ARRIVED, S.DELIVERING)
        sub = Substitution.objects.create(
            group_buy=gb,
            item=item,
            substitute=substitute,
            note=note,
            recorded_by=actor,
            key=key,
            created_at=clock.now(),
        )
        record(
            "lockdown.substitution.recorded",
            actor=actor,
            target=sub,
            community=gb.community,
            new={"item": item.pk, "substitute": substitute},
        )
    return sub


def record_payment(
    *,
    actor: Person,
    order: Order,
    method: str,
    amount_fen: int,
    key: str,
    note: str = "",
) -> Payment:
    """Record a household's payment for its order ("lockdown.record_payment"): never more than
    the order's total. Idempotent by key within the group buy."""
    group_buy = order.group_buy
    policy.require(actor, PAY, group_buy)
    key = clean_key(key)
    amount_fen = positive_int(amount_fen, "amount_fen")
    note = clean_text(note, "note", 200, required=False)
    if method not in PaymentMethod.values:
        raise DomainError(
            "lockdown.payment.method", _("支付方式无效。"), details={"field": "method"}
        )
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        replay: Payment | None = Payment.objects.filter(
            group_buy_id=locked.group_buy_id, key=key
        ).first()
        if replay is not None:
            if replay.order_id != locked.pk or replay.amount_fen != amount_fen:
                raise ConflictError("lockdown.key.reused", _("该幂等键已用于另一条记录。"))
            return replay
        if group_buy.state in (S.DRAFT, S.CANCELLED) or locked.state != OrderState.PLACED:
            raise ConflictError("lockdown.payment.not_payable", _("该订单当前不能登记付款。"))
        paid = int(locked.payments.aggregate(s=Sum("amount_fen"))["s"] or 0)
        if paid + amount_fen > locked.total_fen:
            raise DomainError(
                "lockdown.payment.too_much",
                _("付款金额超过订单应付金额（还需 %(left)s 分）。")
                % {"left": locked.total_fen - paid},
                details={"field": "amount_fen", "outstanding_fen": locked.total_fen - paid},
            )
        payment = Payment.objects.create(
            group_buy_id=locked.group_buy_id,
            order=locked,
            method=method,
            amount_fen=amount_fen,
            note=note,
            recorded_by=actor,
            key=key,
            created_at=clock.now(),
        )
        record(
            "lockdown.payment.recorded",
            actor=actor,
            target=payment,
            community=group_buy.community,
            new={"order": locked.pk, "method": method, "amount_fen": amount_fen},
        )
    return payment


def reverse_payment(*, actor: Person, payment: Payment, reason: str, key: str) -> Payment:
    """Undo a mistaken payment record (撤销付款; "lockdown.record_payment"): the record is never
    changed (undo by reversal) — a row of the opposite amount and the same method, linked to
    it, is appended, so the order's net paid drops back and a correct payment can be recorded.
    A reason is required; a payment is reversed once, and a reversal is never reversed. A
    replay of the key returns the reversal."""
    group_buy = payment.group_buy
    policy.require(actor, PAY, group_buy)
    key = clean_key(key)
    reason = clean_text(reason, "reason", 500, required=True)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=payment.order_id)
        replay: Payment | None = Payment.objects.filter(
            group_buy_id=locked.group_buy_id, key=key
        ).first()
        if replay is not None:
            if replay.reverses_id != payment.pk:
                raise ConflictError("lockdown.key.reused", _("该幂等键已用于另一条记录。"))
            return replay
        if payment.reverses_id is not None:
            raise ConflictError("lockdown.payment.is_reversal", _("这是一条撤销记录，不能再撤销。"))
        done: Payment | None = Payment.objects.filter(reverses=payment).first()
        if done is not None:
            raise ConflictError(
                "lockdown.payment.already_reversed",
                _("这笔付款已于 %(when)s 撤销，不能重复撤销。")
                % {"when": localtime(done.created_at).strftime("%Y-%m-%d %H:%M")},
                details={"reversal_id": done.pk},
            )
        reversal = Payment.objects.create(
            group_buy_id=locked.group_buy_id,
            order=locked,
            method=payment.method,
            amount_fen=-payment.amount_fen,
            reverses=payment,
            reason=reason,
            recorded_by=actor,
            key=key,
            created_at=clock.now(),
        )
        record(
            "lockdown.payment.reversed",
            actor=actor,
            target=reversal,
            community=group_buy.community,
            old={"payment": payment.pk, "amount_fen": payment.amount_fen},
            new={
                "order": locked.pk,
                "method": payment.method,
                "amount_fen": reversal.amount_fen,
                "reverses": payment.pk,
                "reason": reason,
            },
        )
    return reversal
