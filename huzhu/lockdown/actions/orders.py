"""Households order until the deadline (DOMAIN.md "Lockdown operations"; issue 6 "Intake
under a peak").

- One order per household and group buy, edited (or cancelled) until the deadline; editing or
  cancelling returns the stock it held.
- Stock is taken with a conditional UPDATE (``sold + q <= stock``) in the order's transaction,
  items in id order (no deadlock between two orders); a check constraint backs it in the
  database. Concurrent orders for the last units never oversell: the losers get 409
  ``lockdown.item.sold_out``.
- Idempotent by key: a replay of the key that placed (or last edited) the order answers the
  order as it stands; concurrent replays of one key make one order (the unique household
  constraint decides, the loser answers the winner's order).
- On PostgreSQL an order holds a FOR SHARE lock on the group buy row while it is written, so
  closing (FOR UPDATE) waits for the orders in flight and no order lands after the close.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from huzhu.accounts.models import Household, Person
from huzhu.audit.service import record
from huzhu.core import admission, clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.lockdown.actions.common import (
    S,
    bad_state,
    clean_key,
    covers,
    require_household,
)
from huzhu.lockdown.models import GroupBuy, GroupBuyItem, Order, OrderLine, OrderState

MAX_QUANTITY = 10_000

# Order submissions in flight per process (API and pages): past it, 429 with Retry-After at
# once (huzhu/core/admission.py, HUZHU_INTAKE_MAX_INFLIGHT).
INTAKE = admission.gate("lockdown.intake")


def _share_lock_open(group_buy: GroupBuy) -> None:
    """Check the group buy takes orders now; on PostgreSQL hold a share lock on its row until
    the order commits (a close waits for it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "SELECT state, deadline FROM lockdown_groupbuy WHERE id = %s FOR SHARE",
                [group_buy.pk],
            )
            state, deadline = cur.fetchone()
    else:
        state, deadline = GroupBuy.objects.values_list("state", "deadline").get(pk=group_buy.pk)
    if state != S.OPEN:
        group_buy.state = state
        raise bad_state(group_buy)
    if clock.now() >= deadline:
        raise ConflictError(
            "lockdown.group_buy.deadline_passed",
            _("已过截单时间，不能再下单或修改订单。"),
            details={"deadline": deadline.isoformat()},
        )


def _clean_quantities(
    group_buy: GroupBuy, quantities: Mapping[int, int]
) -> tuple[dict[int, int], dict[int, GroupBuyItem]]:
    wanted: dict[int, int] = {}
    for item_id, q in quantities.items():
        if isinstance(q, bool) or not isinstance(q, int) or q < 0 or q > MAX_QUANTITY:
            raise DomainError(
                "lockdown.order.quantity",
                _("数量必须是 0 到 %(max)s 之间的整数。") % {"max": MAX_QUANTITY},
                details={"field": "lines", "item_id": item_id},
            )
        if q:
            wanted[int(item_id)] = q
    if not wanted:
        raise DomainError(
            "lockdown.order.empty", _("请至少选择一件商品。"), details={"field": "lines"}
        )
    items = {i.pk: i for i in GroupBuyItem.objects.filter(group_buy=group_buy, pk__in=wanted)}
    for item_id, q in wanted.items():
        item = items.get(item_id)
        if item is None:
            raise DomainError(
                "lockdown.order.unknown_item",
                _("商品不属于该团购。"),
                details={"field": "lines", "item_id": item_id},
            )
        if item.per_household_max is not None and q > item.per_household_max:
            raise DomainError(
                "lockdown.order.over_limit",
                _("“%(name)s”每户限购 %(max)s%(unit)s。")
                % {"name": item.name, "max": item.per_household_max, "unit": item.unit},
                details={"field": "lines", "item_id": item_id},
            )
    return wanted, items


def _take(items: dict[int, GroupBuyItem], wanted: dict[int, int]) -> None:
    """Take stock of the limited items, in id order; refuse the whole order if one is short."""
    for item_id in sorted(wanted):
        item = items[item_id]
        if item.stock is None:
            continue
        q = wanted[item_id]
        taken = GroupBuyItem.objects.filter(pk=item_id, sold__lte=F("stock") - q).update(
            sold=F("sold") + q
        )
        if not taken:
            stock, sold = GroupBuyItem.objects.values_list("stock", "sold").get(pk=item_id)
            left = max(0, (stock or 0) - sold)
            raise ConflictError(
                "lockdown.item.sold_out",
                _("“%(name)s”库存不足，仅剩 %(left)s%(unit)s。")
                % {
                    "name": item.name,
                    "left": left,
                    "unit": item.unit,
                },
                details={"item_id": item_id, "remaining": left},
            )


def _give_back(order: Order) -> None:
    """Return the stock an order's lines hold (limited items only), in id order."""
    lines = sorted(
        OrderLine.objects.filter(order=order, item__stock__isnull=False).values_list(
            "item_id", "quantity"
        )
    )
    for item_id, q in lines:
        GroupBuyItem.objects.filter(pk=item_id).update(sold=F("sold") - q)


def _write_lines(order: Order, items: dict[int, GroupBuyItem], wanted: dict[int, int]) -> int:
    OrderLine.objects.bulk_create(
        OrderLine(order=order, item_id=i, quantity=q, price_fen=items[i].price_fen)
        for i, q in sorted(wanted.items())
    )
    return sum(q * items[i].price_fen for i, q in wanted.items())


def place_order(
    *,
    actor: Person,
    group_buy: GroupBuy,
    quantities: Mapping[int, int],
    key: str,
    household: Household | None = None,
) -> Order:
    """Order for the actor's household (or, with "lockdown.order_for", for another) in an open
    group buy covering its building, before the deadline. ``quantities``: item id → units."""
    key = clean_key(key)
    household = household or actor.household
    if household is None:
        raise DomainError(
            "lockdown.order.no_household",
            _("您的账号还没有登记住户，请联系楼长。"),
            status=403,
        )
    on_behalf = require_household(actor, household)
    existing = Order.objects.filter(group_buy=group_buy, household=household).first()
    if (
        existing is not None
        and existing.state == OrderState.PLACED
        and key
        in (
            existing.key,
            existing.last_key,
        )
    ):
        return existing
    if household.community_id != group_buy.community_id or not covers(
        group_buy, household.building_id
    ):
        raise DomainError(
            "lockdown.order.not_covered",
            _("该团购不覆盖您所在的楼栋。"),
            status=403,
        )
    if existing is not None and existing.state == OrderState.PLACED:
        raise ConflictError(
            "lockdown.order.exists",
            _("本户已下单，请修改原订单。"),
            details={"order_id": existing.pk},
        )
    try:
        with transaction.atomic():
            _share_lock_open(group_buy)
            wanted, items = _clean_quantities(group_buy, quantities)
            now = clock.now()
            if existing is not None:  # placed again after a cancellation
                order = Order.objects.select_for_update().get(pk=existing.pk)
                if order.state != OrderState.CANCELLED:
                    raise ConflictError(
                        "lockdown.order.exists",
                        _("本户已下单，请修改原订单。"),
                        details={"order_id": order.pk},
                    )
                OrderLine.objects.filter(order=order).delete()
                order.state = OrderState.PLACED
                order.placed_by = actor
                order.key = order.last_key = key
                order.placed_at = now
                order.cancelled_at = None
            else:
                order = Order(
                    group_buy=group_buy,
                    household=household,
                    building_id=household.building_id,
                    placed_by=actor,
                    key=key,
                    last_key=key,
                    placed_at=now,
                    total_fen=sum(q * items[i].price_fen for i, q in wanted.items()),
                )
                order.save(force_insert=True)
            order.total_fen = _write_lines(order, items, wanted)
            if existing is not None:
                order.save()
            record(
                "lockdown.order.placed",
                actor=actor,
                target=order,
                community=group_buy.community,
                new={
                    "on_behalf": on_behalf,
                    "group_buy": group_buy.pk,
                    "household": household.pk,
                    "lines": [f"{i}x{q}" for i, q in sorted(wanted.items())],
                    "total_fen": order.total_fen,
                },
            )
            # Stock last: the limited items' rows are the hot rows every order updates; taken
            # just before the commit, their row locks are held for the commit only, not for
            # the order's other statements (a refusal still rolls everything back).
            _take(items, wanted)
    except IntegrityError:
        winner = Order.objects.filter(group_buy=group_buy, household=household).first()
        if winner is not None and winner.key == key:
            return winner
        if winner is not None:
            raise ConflictError(
                "lockdown.order.exists",
                _("本户已下单，请修改原订单。"),
                details={"order_id": winner.pk},
            ) from None
        raise
    return order


def _lock_order(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("group_buy", "group_buy__community", "household")
        .get(pk=order.pk)
    )


def _lines_of(order: Order) -> list[str]:
    return [
        f"{i}x{q}"
        for i, q in OrderLine.objects.filter(order=order)
        .order_by("item_id")
        .values_list("item_id", "quantity")
    ]


def edit_order(*, actor: Person, order: Order, quantities: Mapping[int, int], key: str) -> Order:
    """Change an order's quantities until the deadline; the stock it held is returned first.
    A replay of the key of the last edit answers the order as it stands."""
    key = clean_key(key)
    require_household(actor, order.household)
    with transaction.atomic():
        locked = _lock_order(order)
        if locked.last_key == key and locked.state == OrderState.PLACED:
            return locked
        if locked.state != OrderState.PLACED:
            raise ConflictError("lockdown.order.cancelled", _("订单已取消，请重新下单。"))
        gb = locked.group_buy
        _share_lock_open(gb)
        wanted, items = _clean_quantities(gb, quantities)
        old_lines, old_total = _lines_of(locked), locked.total_fen
        _give_back(locked)
        OrderLine.objects.filter(order=locked).delete()
        _take(items, wanted)
        locked.total_fen = _write_lines(locked, items, wanted)
        locked.last_key = key
        locked.save(update_fields=["total_fen", "last_key", "updated_at"])
        record(
            "lockdown.order.edited",
            actor=actor,
            target=locked,
            community=gb.community,
            old={"lines": old_lines, "total_fen": old_total},
            new={"lines": _lines_of(locked), "total_fen": locked.total_fen},
        )
    return locked


def cancel_order(*, actor: Person, order: Order) -> Order:
    """Cancel an order until the deadline; its stock is returned. Cancelling again answers the
    cancelled order."""
    require_household(actor, order.household)
    with transaction.atomic():
        locked = _lock_order(order)
        if locked.state == OrderState.CANCELLED:
            return locked
        gb = locked.group_buy
        _share_lock_open(gb)
        _give_back(locked)
        locked.state = OrderState.CANCELLED
        locked.cancelled_at = clock.now()
        locked.save(update_fields=["state", "cancelled_at", "updated_at"])
        record(
            "lockdown.order.cancelled",
            actor=actor,
            target=locked,
            community=gb.community,
            old={"state": OrderState.PLACED, "lines": _lines_of(locked)},
            new={"state": OrderState.CANCELLED},
        )
    return locked
