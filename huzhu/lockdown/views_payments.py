"""The payments of a group buy (收款), for whoever records them ("lockdown.record_payment": the
branch head, the 团长, the finance officer): the buy's orders with what each household owes
(net of refunds), has paid and has still to pay, searchable by building and room and filtered
by unpaid / paid; a form per order to record a payment (amount in yuan, converted to fen
exactly) and, per payment record, a form to reverse a mistaken one (撤销, with a reason).

Money moved outside the system: a record only says how and how much. A record is never
changed — a reversal is a linked row of the opposite amount (huzhu.lockdown.actions.money).
The writes redirect back to the list with its page, search and filter."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.lockdown import actions, queries
from huzhu.lockdown.actions.common import PAY
from huzhu.lockdown.api.payments import payer_group_buy, payer_payment
from huzhu.lockdown.models import Order, OrderState, Payment, PaymentMethod, Refund
from huzhu.lockdown.views import _act, _actor, yuan

STATUSES = ("all", "unpaid", "paid")
_KEEP = ("page", "q", "status")  # the list's query parameters a write sends back
_YUAN = re.compile(r"^(\d{1,8})(?:\.(\d{1,2}))?$")


def fen_of(text: str) -> int | None:
    """Fen from an amount in yuan with at most two decimals ("58", "58.5", "58.05"), exactly
    (integer arithmetic, never a float); None when it is not such a number."""
    m = _YUAN.match((text or "").strip())
    if m is None:
        return None
    return int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))


def _sum_of(model: Any) -> Any:
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


def _orders(group_buy_id: int, q: str, status: str) -> QuerySet[Order]:
    """The live orders of the buy with ``paid`` (net of reversals), ``refunded``, ``due`` =
    total - refunds and ``outstanding`` = due - paid, as in queries.reconciliation."""
    qs = (
        Order.objects.filter(group_buy_id=group_buy_id, state=OrderState.PLACED)
        .select_related("building", "household")
        .annotate(paid=_sum_of(Payment), refunded=_sum_of(Refund))
        .annotate(due=F("total_fen") - F("refunded"))
        .annotate(outstanding=F("due") - F("paid"))
    )
    if q:
        parts = [p for p in re.split(r"[\s\-－]+", q) if p]
        if len(parts) >= 2:  # "1号楼 101", "1号楼-101": building and room
            qs = qs.filter(building__name__icontains=parts[0], household__room__icontains=parts[1])
        else:
            qs = qs.filter(Q(building__name__icontains=q) | Q(household__room__icontains=q))
    if status == "unpaid":
        qs = qs.filter(outstanding__gt=0)
    elif status == "paid":
        qs = qs.filter(outstanding__lte=0)
    return qs.order_by("building__name", "household__room", "pk")


def _back(
    request: HttpRequest, group_buy_id: int, order_id: int | None = None
) -> HttpResponseRedirect:
    """Back to the list with its page, search and filter (only those parameters)."""
    kept = {k: request.GET[k][:50] for k in _KEEP if request.GET.get(k)}
    url = reverse("lockdown:payments", kwargs={"pk": group_buy_id})
    if kept:
        url += "?" + urlencode(kept)
    if order_id is not None:
        url += f"#order-{order_id}"
    return HttpResponseRedirect(url)


@login_required
def payments(request: HttpRequest, pk: int) -> HttpResponse:
    """收款: the orders of a group buy with their payments, totals from the reconciliation."""
    actor = _actor(request)
    gb = payer_group_buy(actor, pk)
    q = (request.GET.get("q") or "").strip()[:50]
    status = request.GET.get("status", "all")
    if status not in STATUSES:
        status = "all"
    page = Paginator(_orders(gb.pk, q, status), settings.HUZHU_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    orders: list[Any] = list(page.object_list)
    by_order: dict[int, list[Payment]] = {o.pk: [] for o in orders}
    for p in (
        Payment.objects.filter(order__in=list(by_order))
        .select_related("recorded_by", "reversal")
        .order_by("created_at", "pk")
    ):
        by_order[p.order_id].append(p)
    rows = [
        {
            "order": o,
            "due": yuan(o.due),
            "paid": yuan(o.paid),
            "outstanding": yuan(max(0, o.outstanding)),
            "settled": o.outstanding <= 0,
            "over": yuan(-o.outstanding) if o.outstanding < 0 else "",
            "default": yuan(o.outstanding) if o.outstanding > 0 else "",
            "key": uuid.uuid4().hex,
            "payments": [_payment_row(p) for p in by_order[o.pk]],
        }
        for o in orders
    ]
    rec = queries.reconciliation(gb)
    return render(
        request,
        "lockdown/payments.html",
        {
            "gb": gb,
            "page": page,
            "rows": rows,
            "q": q,
            "status": status,
            "statuses": [
                ("all", _("全部")),
                ("unpaid", _("未付清")),
                ("paid", _("已付清")),
            ],
            "methods": PaymentMethod.choices,
            "query": urlencode(
                {k: v for k, v in (("page", page.number), ("q", q), ("status", status)) if v}
            ),
            "any_orders": Order.objects.filter(group_buy=gb, state=OrderState.PLACED).exists(),
            "rec": rec,
            "rec_yuan": {
                "ordered": yuan(rec.ordered_fen),
                "refunds": yuan(rec.refunds_fen),
                "due": yuan(rec.expected_bill_fen),
                "paid": yuan(rec.paid_fen),
                "to_return": yuan(rec.to_return_fen),
                "collected": yuan(rec.collected_net_fen),
                "unpaid": yuan(rec.unpaid_fen),
                "bill": yuan(rec.supplier_bill_fen),
                "difference": yuan(rec.difference_fen),
            },
        },
    )


def _payment_row(p: Payment) -> dict[str, Any]:
    try:
        reversal: Payment | None = p.reversal
    except Payment.DoesNotExist:
        reversal = None
    return {
        "p": p,
        "method": PaymentMethod(p.method).label,
        "amount": yuan(p.amount_fen),
        "reversal": reversal,
        "may_reverse": p.reverses_id is None and reversal is None,
        "key": uuid.uuid4().hex,
    }


@login_required
@require_POST
def payment_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a household's payment for its order (amount in yuan)."""
    actor = _actor(request)
    order = get_object_or_404(
        Order.objects.select_related("group_buy", "group_buy__community", "group_buy__group"),
        pk=pk,
    )
    policy.require(actor, PAY, order.group_buy)
    amount = fen_of(request.POST.get("amount", ""))
    if amount is None:
        messages.error(request, _("金额格式不正确：请填写元，最多两位小数。"))
        return _back(request, order.group_buy_id, order.pk)
    method = request.POST.get("method", "")
    key = (request.POST.get("key") or "").strip()[:128] or uuid.uuid4().hex
    _act(
        request,
        lambda: actions.record_payment(
            actor=actor,
            order=order,
            method=method,
            amount_fen=amount,
            key=key,
            note=request.POST.get("note", ""),
        ),
        _("已登记付款 %(amount)s 元。") % {"amount": yuan(amount)},
    )
    return _back(request, order.group_buy_id, order.pk)


@login_required
@require_POST
def payment_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    """Reverse a mistaken payment record (撤销), with a reason."""
    actor = _actor(request)
    payment = payer_payment(actor, pk)
    key = (request.POST.get("key") or "").strip()[:128] or uuid.uuid4().hex
    _act(
        request,
        lambda: actions.reverse_payment(
            actor=actor, payment=payment, reason=request.POST.get("reason", ""), key=key
        ),
        _("已撤销这笔付款，订单的已付金额已相应减少。"),
    )
    return _back(request, payment.group_buy_id, payment.order_id)


urlpatterns = [
    path("group-buys/<int:pk>/payments/", payments, name="payments"),
    path("orders/<int:pk>/payments/", payment_record, name="payment_record"),
    path("payments/<int:pk>/reverse/", payment_reverse, name="payment_reverse"),
]
