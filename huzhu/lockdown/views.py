"""Group-buying pages (Chinese first, phone-sized): the group buys of my building and the
order form; the leader's page with the supplier's order, the sheets to download, the steps
(截单, 到货, 分配配送, 完成) and the deliveries; the logistics volunteer's deliveries.

The pages fetch through the API's helpers and call the same actions, so both answer alike
(404 outside the scope, 403 inside it without the right). A broken rule becomes a message on
the page the form came from."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.core.admission import page_gate
from huzhu.core.errors import DomainError
from huzhu.lockdown import actions, exports, queries
from huzhu.lockdown.actions.common import PAY, RUN, VIEW
from huzhu.lockdown.actions.orders import INTAKE
from huzhu.lockdown.api.common import (
    XLSX,
    _delivery,
    _group_buy,
    _order,
    _staff_group_buy,
    _visible_group_buys,
)
from huzhu.lockdown.models import Delivery, GroupBuy, GroupBuyState, Order, OrderState

S = GroupBuyState
_OK = {S.OPEN, S.DONE}
_BAD = {S.CANCELLED}


def _actor(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def _badge(state: str) -> str:
    return "ok" if state in _OK else ("err" if state in _BAD else "warn")


def yuan(fen: int | None) -> str:
    """“58.00” from 5800 fen (exact: integer arithmetic)."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _act(request: HttpRequest, call: Callable[[], Any], done: str) -> bool:
    """Run an action; a broken rule becomes an error message (a 403 rule a 403 page)."""
    try:
        call()
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.code) from None
        messages.error(request, str(exc.message))
        return False
    messages.success(request, done)
    return True


def _detail_url(pk: int) -> HttpResponseRedirect:
    return redirect(reverse("lockdown:group_buy", kwargs={"pk": pk}))


@login_required
def group_buy_list(request: HttpRequest) -> HttpResponse:
    """团购: the open (and later) group buys of my building and those I run or may see."""
    actor = _actor(request)
    qs = _visible_group_buys(actor).select_related("community").order_by("-deadline", "-pk")
    page = Paginator(qs, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    mine = set(
        Order.objects.filter(
            group_buy__in=[g.pk for g in page.object_list],
            household_id=actor.household_id,
            state=OrderState.PLACED,
        ).values_list("group_buy_id", flat=True)
        if actor.household_id
        else []
    )
    rows = [
        {
            "gb": gb,
            "state_label": GroupBuyState(gb.state).label,
            "badge": _badge(gb.state),
            "ordered": gb.pk in mine,
        }
        for gb in page.object_list
    ]
    return render(
        request,
        "lockdown/group_buy_list.html",
        {"page": page, "rows": rows, "may_open": policy.can_anywhere(actor, RUN)},
    )


@login_required
def group_buy_create(request: HttpRequest) -> HttpResponse:
    """开团: the leader opens a group buy for the group they run (团长组)."""
    from huzhu.lockdown.forms import GroupBuyForm
    from huzhu.orgs.forms import add_domain_error
    from huzhu.orgs.models import Group

    actor = _actor(request)
    if not policy.can_anywhere(actor, RUN):
        raise PermissionDenied(RUN)
    groups = policy.visible_to(actor, RUN, Group.objects.all())
    if request.method == "POST":
        form = GroupBuyForm(request.POST, groups=groups)
        if form.is_valid():
            data = form.cleaned_data
            group = data["group"]
            try:
                gb = actions.open_group_buy(
                    actor=actor,
                    community=group.community,
                    group=group,
                    logistics_group=data["logistics_group"],
                    title=data["title"],
                    supplier_name=data["supplier_name"],
                    supplier_contact=data["supplier_contact"],
                    deadline=data["deadline"],
                    delivery_date=data["delivery_date"],
                    buildings=list(data["buildings"]),
                    items=data["items"],
                    key=data["key"],
                )
            except DomainError as exc:
                if exc.status == 403:
                    raise PermissionDenied(exc.code) from None
                add_domain_error(form, exc)
            else:
                messages.success(request, _("已开团。"))
                return _detail_url(gb.pk)
    else:
        form = GroupBuyForm(initial={"key": uuid.uuid4().hex}, groups=groups)
    return render(request, "lockdown/group_buy_form.html", {"form": form})


def _my_order(actor: Person, gb: GroupBuy) -> Order | None:
    if actor.household_id is None:
        return None
    return (
        Order.objects.filter(group_buy=gb, household_id=actor.household_id)
        .prefetch_related("lines")
        .first()
    )


@login_required
def group_buy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One group buy: its items and my order form; for its leaders the supplier's order, the
    sheets, the steps, deliveries and reconciliation."""
    actor = _actor(request)
    gb = _group_buy(actor, pk)
    staff = policy.can(actor, VIEW, gb) or policy.can(actor, RUN, gb)
    order = _my_order(actor, gb)
    placed = order is not None and order.state == OrderState.PLACED
    have = {line.item_id: line.quantity for line in order.lines.all()} if placed and order else {}
    items = [
        {"item": i, "price": yuan(i.price_fen), "quantity": have.get(i.pk, 0)}
        for i in gb.items.order_by("position", "pk")
    ]
    covered = (
        actor.household_id is not None
        and gb.buildings.filter(households__pk=actor.household_id).exists()
    )
    can_order = covered and gb.state == S.OPEN and clock.now() < gb.deadline
    delivery = Delivery.objects.filter(order=order).first() if placed and order else None
    context: dict[str, Any] = {
        "gb": gb,
        "state_label": GroupBuyState(gb.state).label,
        "badge": _badge(gb.state),
        "items": items,
        "order": order if placed else None,
        "order_total": yuan(order.total_fen) if placed and order else "",
        "can_order": can_order,
        "covered": covered,
        "delivery": delivery,
        "key": uuid.uuid4().hex,
        "staff": staff,
        "may_run": policy.can(actor, RUN, gb),
        "may_pay": policy.can(actor, PAY, gb),
    }
    if staff:
        supplier = queries.supplier_order(gb)
        rec = queries.reconciliation(gb)
        context.update(
            supplier=[
                {"row": r, "price": yuan(r.price_fen), "amount": yuan(r.amount_fen)}
                for r in supplier
            ],
            supplier_total=yuan(sum(r.amount_fen for r in supplier)),
            orders=Order.objects.filter(group_buy=gb, state=OrderState.PLACED).count(),
            deliveries=queries.delivery_counts(gb),
            rec=rec,
            rec_yuan={
                "paid": yuan(rec.paid_fen),
                "refunds": yuan(rec.refunds_fen),
                "collected": yuan(rec.collected_net_fen),
                "bill": yuan(rec.supplier_bill_fen),
                "expected": yuan(rec.expected_bill_fen),
                "unpaid": yuan(rec.unpaid_fen),
            },
            steps=_steps(gb),
        )
    return render(request, "lockdown/group_buy_detail.html", context)


def _steps(gb: GroupBuy) -> list[tuple[str, str]]:
    """The leader's next steps from the buy's state: (step, button label)."""
    return {
        S.DRAFT: [("publish", _("发布"))],
        S.OPEN: [("close", _("截单"))],
        S.CLOSED: [("arrive", _("到货"))],
        S.ARRIVED: [("assign", _("分配配送"))],
        S.DELIVERING: [("assign", _("分配新增配送")), ("finish", _("完成团购"))],
    }.get(GroupBuyState(gb.state), [])


def _quantities(request: HttpRequest, gb: GroupBuy) -> dict[int, int] | None:
    out: dict[int, int] = {}
    for item_id in gb.items.values_list("pk", flat=True):
        raw = (request.POST.get(f"qty_{item_id}") or "0").strip()
        if not raw.isdigit() or len(raw) > 5:
            return None
        out[item_id] = int(raw)
    return out


def _order_back(request: HttpRequest, pk: int) -> str:
    return reverse("lockdown:group_buy", kwargs={"pk": pk})


@login_required
@require_POST
@page_gate(INTAKE, back=_order_back)
def order_submit(request: HttpRequest, pk: int) -> HttpResponse:
    """Place my household's order, or change it (until the deadline). Past the intake gate's
    capacity: a 429 page with Retry-After, nothing written."""
    actor = _actor(request)
    gb = _group_buy(actor, pk)
    quantities = _quantities(request, gb)
    key = (request.POST.get("key") or "").strip()[:128] or uuid.uuid4().hex
    if quantities is None:
        messages.error(request, _("数量必须是 0 或正整数。"))
        return _detail_url(gb.pk)
    order = _my_order(actor, gb)
    if order is not None and order.state == OrderState.PLACED:
        _act(
            request,
            lambda: actions.edit_order(actor=actor, order=order, quantities=quantities, key=key),
            _("订单已修改。"),
        )
    else:
        _act(
            request,
            lambda: actions.place_order(actor=actor, group_buy=gb, quantities=quantities, key=key),
            _("下单成功。"),
        )
    return _detail_url(gb.pk)


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel an order (until the deadline)."""
    actor = _actor(request)
    order = _order(actor, pk)
    _act(request, lambda: actions.cancel_order(actor=actor, order=order), _("订单已取消。"))
    return _detail_url(order.group_buy_id)


@login_required
@require_POST
def group_buy_step(request: HttpRequest, pk: int) -> HttpResponse:
    """The leader's steps: publish, close (截单), arrive, assign deliveries, finish."""
    actor = _actor(request)
    gb = _group_buy(actor, pk)
    step = request.POST.get("step", "")
    calls: dict[str, tuple[Callable[[], Any], str]] = {
        "publish": (lambda: actions.publish_group_buy(actor=actor, group_buy=gb), _("已发布。")),
        "close": (lambda: actions.close_group_buy(actor=actor, group_buy=gb), _("已截单。")),
        "arrive": (lambda: actions.mark_arrived(actor=actor, group_buy=gb), _("已登记到货。")),
        "assign": (
            lambda: actions.assign_deliveries(actor=actor, group_buy=gb),
            _("配送已分配。"),
        ),
        "finish": (lambda: actions.finish_group_buy(actor=actor, group_buy=gb), _("团购已完成。")),
    }
    if step not in calls:
        policy.require(actor, RUN, gb)
        messages.error(request, _("未知操作。"))
        return _detail_url(gb.pk)
    call, done = calls[step]
    _act(request, call, done)
    return _detail_url(gb.pk)


@login_required
def export(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the supplier's order, the sorting sheets or the labels (.xlsx)."""
    actor = _actor(request)
    gb = _staff_group_buy(actor, pk)
    kind = request.GET.get("kind", "supplier")
    make = exports.EXPORTS.get(kind)
    if make is None:
        messages.error(request, _("导出类型无效。"))
        return _detail_url(gb.pk)
    resp = HttpResponse(make(gb), content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="group-buy-{gb.pk}-{kind}.xlsx"'
    return resp


@login_required
def my_deliveries(request: HttpRequest) -> HttpResponse:
    """我的配送: the doors I deliver to, undelivered first."""
    actor = _actor(request)
    qs = (
        Delivery.objects.filter(volunteer=actor)
        .select_related("group_buy", "order__household", "order__building")
        .order_by("delivered_at", "building_id", "order__household__room", "pk")
    )
    page = Paginator(qs, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "lockdown/my_deliveries.html", {"page": page})


@login_required
@require_POST
def delivery_done(request: HttpRequest, pk: int) -> HttpResponse:
    """The volunteer (or a leader) marks a delivery made, contactless unless unticked."""
    actor = _actor(request)
    d = _delivery(actor, pk)
    _act(
        request,
        lambda: actions.mark_delivered(
            actor=actor, delivery=d, contactless=request.POST.get("contactless", "1") == "1"
        ),
        _("已标记送达。"),
    )
    if d.volunteer_id == actor.pk:
        return redirect(reverse("lockdown:my_deliveries"))
    return _detail_url(d.group_buy_id)


@login_required
@require_POST
def delivery_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The household confirms receipt."""
    actor = _actor(request)
    d = _delivery(actor, pk)
    _act(request, lambda: actions.confirm_received(actor=actor, delivery=d), _("已确认收货。"))
    return _detail_url(d.group_buy_id)


app_name = "lockdown"

urlpatterns = [
    path("group-buys/", group_buy_list, name="group_buys"),
    path("group-buys/new/", group_buy_create, name="group_buy_create"),
    path("group-buys/<int:pk>/", group_buy_detail, name="group_buy"),
    path("group-buys/<int:pk>/order/", order_submit, name="order_submit"),
    path("group-buys/<int:pk>/step/", group_buy_step, name="group_buy_step"),
    path("group-buys/<int:pk>/export/", export, name="export"),
    path("orders/<int:pk>/cancel/", order_cancel, name="order_cancel"),
    path("deliveries/", my_deliveries, name="my_deliveries"),
    path("deliveries/<int:pk>/done/", delivery_done, name="delivery_done"),
    path("deliveries/<int:pk>/confirm/", delivery_confirm, name="delivery_confirm"),
]
