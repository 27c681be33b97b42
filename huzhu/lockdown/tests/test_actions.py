"""The rules of group buying, action by action (DOMAIN.md "Lockdown operations")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from huzhu.accounts.models import Household, Person
from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.core.models import AppendOnlyError
from huzhu.lockdown import actions, queries
from huzhu.lockdown.actions import ItemSpec
from huzhu.lockdown.models import (
    Delivery,
    GroupBuyItem,
    GroupBuyState,
    Order,
    OrderState,
    Payment,
    Refund,
)
from huzhu.lockdown.tests.support import DEADLINE, T0, at, group_buy, logistics

pytestmark = pytest.mark.django_db


def _items(gb: Any) -> dict[str, GroupBuyItem]:
    return {i.name: i for i in gb.items.all()}


def _neighbour(world: Any, room: str = "102") -> Person:
    h = Household.objects.create(community=world.community, building=world.building, room=room)
    p = Person(name=f"邻居{room}", community=world.community, household=h)
    p.set_phone(f"135{int(room):08d}")
    p.set_unusable_password()
    p.save()
    return p


def test_open_is_for_the_leader_and_idempotent(world: Any, cast: Any) -> None:
    gb = group_buy(world, cast)
    assert gb.state == GroupBuyState.OPEN and gb.leader == cast.group_leader
    assert group_buy(world, cast).pk == gb.pk  # the same key: the same group buy
    assert AuditEntry.objects.filter(code="lockdown.group_buy.opened").count() == 1
    with at(T0), pytest.raises(PermissionDenied):
        actions.open_group_buy(
            actor=cast.volunteer,
            community=world.community,
            group=world.group,
            title="x",
            supplier_name="y",
            deadline=DEADLINE,
            buildings=[world.building],
            items=[ItemSpec("a", "个", 100)],
            key="v",
        )
    with at(T0), pytest.raises(Http404):
        actions.open_group_buy(
            actor=cast.outsider,
            community=world.community,
            title="x",
            supplier_name="y",
            deadline=DEADLINE,
            buildings=[world.building],
            items=[ItemSpec("a", "个", 100)],
            key="o",
        )


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([], "lockdown.group_buy.no_items"),
        ([ItemSpec("a", "个", 0)], "lockdown.number.invalid"),
        ([ItemSpec("a", "个", 1.5)], "lockdown.number.invalid"),  # type: ignore[arg-type]
        ([ItemSpec("a", "个", 100), ItemSpec("a", "个", 100)], "lockdown.group_buy.duplicate_item"),
    ],
)
def test_open_refuses_bad_items(world: Any, cast: Any, items: list[ItemSpec], code: str) -> None:
    with at(T0), pytest.raises(DomainError) as e:
        actions.open_group_buy(
            actor=cast.branch_head,
            community=world.community,
            title="x",
            supplier_name="y",
            deadline=DEADLINE,
            buildings=[world.building],
            items=items,
            key="k",
        )
    assert e.value.code == code


def test_open_refuses_a_past_deadline_and_foreign_buildings(world: Any, cast: Any) -> None:
    args: dict[str, Any] = {
        "actor": cast.branch_head,
        "community": world.community,
        "title": "x",
        "supplier_name": "y",
        "items": [ItemSpec("a", "个", 100)],
        "key": "k",
    }
    with at(T0), pytest.raises(DomainError) as e:
        actions.open_group_buy(**args, deadline=T0, buildings=[world.building])
    assert e.value.code == "lockdown.group_buy.deadline_past"
    with at(T0), pytest.raises(DomainError) as e:
        actions.open_group_buy(**args, deadline=DEADLINE, buildings=[world.other_building])
    assert e.value.code == "lockdown.group_buy.building_community"


def test_order_edit_cancel_return_stock(world: Any, cast: Any) -> None:
    gb = group_buy(world, cast)
    items = _items(gb)
    eggs, veg = items["鸡蛋"], items["蔬菜包"]
    with at(T0 + dt.timedelta(hours=1)):
        order = actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={eggs.pk: 2, veg.pk: 1}, key="o1"
        )
        assert order.total_fen == 2 * 2650 + 5800
        eggs.refresh_from_db()
        assert eggs.sold == 2
        # A replay of the key answers the same order and takes nothing more.
        again = actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={eggs.pk: 2, veg.pk: 1}, key="o1"
        )
        assert again.pk == order.pk
        eggs.refresh_from_db()
        assert eggs.sold == 2
        with pytest.raises(DomainError) as e:
            actions.place_order(actor=cast.resident, group_buy=gb, quantities={veg.pk: 1}, key="o2")
        assert e.value.code == "lockdown.order.exists"
        order = actions.edit_order(
            actor=cast.resident, order=order, quantities={eggs.pk: 1}, key="e1"
        )
        eggs.refresh_from_db()
        assert eggs.sold == 1 and order.total_fen == 2650
        actions.edit_order(actor=cast.resident, order=order, quantities={eggs.pk: 1}, key="e1")
        assert AuditEntry.objects.filter(code="lockdown.order.edited").count() == 1
        with pytest.raises(DomainError) as e:
            actions.edit_order(actor=cast.resident, order=order, quantities={eggs.pk: 3}, key="e2")
        assert e.value.code == "lockdown.order.over_limit"
        order = actions.cancel_order(actor=cast.resident, order=order)
        eggs.refresh_from_db()
        assert order.state == OrderState.CANCELLED and eggs.sold == 0
        # Ordering again after cancelling reuses the household's order.
        order2 = actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={eggs.pk: 2}, key="o3"
        )
        assert order2.pk == order.pk and order2.state == OrderState.PLACED
        assert list(order2.lines.values_list("quantity", flat=True)) == [2]


def test_stock_is_never_oversold(world: Any, cast: Any) -> None:
    gb = group_buy(world, cast)
    eggs = _items(gb)["鸡蛋"]
    people = [_neighbour(world, str(1100 + i)) for i in range(6)]
    placed = refused = 0
    with at(T0 + dt.timedelta(hours=1)):
        for i, p in enumerate(people):
            try:
                actions.place_order(actor=p, group_buy=gb, quantities={eggs.pk: 2}, key=f"k{i}")
                placed += 1
            except DomainError as e:
                assert e.code == "lockdown.item.sold_out"
                refused += 1
    eggs.refresh_from_db()
    assert (placed, refused, eggs.sold) == (5, 1, 10)


def test_orders_after_the_deadline_are_refused(world: Any, cast: Any) -> None:
    gb = group_buy(world, cast)
    veg = _items(gb)["蔬菜包"]
    with at(DEADLINE - dt.timedelta(seconds=1)):
        order = actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={veg.pk: 1}, key="a"
        )
    with at(DEADLINE):
        for call in (
            lambda: actions.place_order(
                actor=_neighbour(world), group_buy=gb, quantities={veg.pk: 1}, key="b"
            ),
            lambda: actions.edit_order(
                actor=cast.resident, order=order, quantities={veg.pk: 2}, key="c"
            ),
            lambda: actions.cancel_order(actor=cast.resident, order=order),
        ):
            with pytest.raises(DomainError) as e:
                call()
            assert e.value.code == "lockdown.group_buy.deadline_passed"


def test_only_covered_buildings_and_own_household(world: Any, cast: Any) -> None:
    gb = group_buy(
        world, cast, buildings=[world.community.buildings.exclude(pk=world.building.pk).get()]
    )
    veg = _items(gb)["蔬菜包"]
    with at(T0), pytest.raises(DomainError) as e:
        actions.place_order(actor=cast.resident, group_buy=gb, quantities={veg.pk: 1}, key="a")
    assert e.value.code == "lockdown.order.not_covered"
    other = Household.objects.filter(community=world.community).exclude(pk=world.household.pk)
    with at(T0), pytest.raises(PermissionDenied):
        actions.place_order(
            actor=cast.resident,
            group_buy=gb,
            household=other.first(),
            quantities={veg.pk: 1},
            key="b",
        )
    # A branch head orders for a household (an elderly resident without a phone).
    with at(T0):
        order = actions.place_order(
            actor=cast.branch_head,
            group_buy=gb,
            household=other.first(),
            quantities={veg.pk: 1},
            key="c",
        )
    assert order.placed_by == cast.branch_head


def test_close_refunds_items_below_their_minimum(world: Any, cast: Any) -> None:
    gb = group_buy(world, cast)
    pork = _items(gb)["猪肉"]
    with at(T0):
        order = actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={pork.pk: 2}, key="a"
        )
    with at(DEADLINE):
        gb = actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
        assert actions.close_group_buy(actor=cast.group_leader, group_buy=gb).pk == gb.pk
    assert gb.state == GroupBuyState.CLOSED
    refund = Refund.objects.get(order=order)
    assert (refund.quantity, refund.amount_fen) == (2, 2 * 3199)
    assert queries.supplier_order(gb)[2].quantity == 0


def test_delivery_shortage_payment_loop(world: Any, cast: Any) -> None:
    lg = logistics(world, ["物流甲", "物流乙"])
    gb = group_buy(world, cast, logistics_group=lg)
    veg, eggs = _items(gb)["蔬菜包"], _items(gb)["鸡蛋"]
    n1, n2 = _neighbour(world, "102"), _neighbour(world, "103")
    with at(T0):
        o0 = actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={veg.pk: 1, eggs.pk: 2}, key="a"
        )
    with at(T0 + dt.timedelta(minutes=1)):
        o1 = actions.place_order(actor=n1, group_buy=gb, quantities={eggs.pk: 2}, key="b")
    with at(T0 + dt.timedelta(minutes=2)):
        o2 = actions.place_order(actor=n2, group_buy=gb, quantities={eggs.pk: 1}, key="c")
    with at(DEADLINE):
        actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
        for o in (o0, o1, o2):
            o.refresh_from_db()
            actions.record_payment(
                actor=cast.finance_officer,
                order=o,
                method="wechat",
                amount_fen=o.total_fen,
                key=f"p{o.pk}",
            )
        with pytest.raises(DomainError) as e:
            actions.record_payment(
                actor=cast.finance_officer, order=o0, method="cash", amount_fen=1, key="px"
            )
        assert e.value.code == "lockdown.payment.too_much"
        # Replays of the key record one payment.
        actions.record_payment(
            actor=cast.finance_officer,
            order=o0,
            method="wechat",
            amount_fen=o0.total_fen,
            key=f"p{o0.pk}",
        )
        assert Payment.objects.count() == 3
        gb = actions.mark_arrived(actor=cast.group_leader, group_buy=gb)
        # 2 of the 5 boxes of eggs missing: the last orders are short first.
        shortage = actions.record_shortage(
            actor=cast.group_leader, group_buy=gb, item=eggs, quantity=2, key="s1"
        )
        again = actions.record_shortage(
            actor=cast.group_leader, group_buy=gb, item=eggs, quantity=2, key="s1"
        )
        assert again.pk == shortage.pk
        refunds = {r.order_id: (r.quantity, r.amount_fen) for r in Refund.objects.all()}
        assert refunds == {o2.pk: (1, 2650), o1.pk: (1, 2650)}
        actions.record_supplier_bill(
            actor=cast.group_leader, group_buy=gb, amount_fen=5800 + 3 * 2650
        )
        plan = actions.assign_deliveries(actor=cast.group_leader, group_buy=gb)
        assert set(plan) == {world.building.pk}
        delivery = Delivery.objects.get(order=o1)
        volunteer = delivery.volunteer
        assert volunteer is not None and volunteer.name in ("物流甲", "物流乙")
        with pytest.raises(DomainError) as e:
            actions.confirm_received(actor=n1, delivery=delivery)
        assert e.value.code == "lockdown.delivery.not_delivered"
        with pytest.raises(DomainError):
            actions.finish_group_buy(actor=cast.group_leader, group_buy=gb)
        for d in Delivery.objects.all():
            actions.mark_delivered(actor=volunteer, delivery=d, photo_path="lockdown/1.jpg")
        delivery.refresh_from_db()
        actions.confirm_received(actor=n1, delivery=delivery)
        with pytest.raises(PermissionDenied):
            actions.confirm_received(actor=n2, delivery=delivery)
        gb = actions.finish_group_buy(actor=cast.group_leader, group_buy=gb)
    assert gb.state == GroupBuyState.DONE
    rec = queries.reconciliation(gb)
    assert rec.paid_fen == 5800 + 5 * 2650
    assert rec.refunds_fen == rec.to_return_fen == 2 * 2650
    assert rec.collected_net_fen == rec.supplier_bill_fen == rec.expected_bill_fen
    assert rec.balanced and rec.unpaid_households == 0


def test_a_volunteer_marks_only_their_deliveries(world: Any, cast: Any) -> None:
    lg = logistics(world, ["物流甲"])
    gb = group_buy(world, cast, logistics_group=lg)
    veg = _items(gb)["蔬菜包"]
    with at(T0):
        actions.place_order(actor=cast.resident, group_buy=gb, quantities={veg.pk: 1}, key="a")
    with at(DEADLINE):
        actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
        actions.mark_arrived(actor=cast.group_leader, group_buy=gb)
        actions.assign_deliveries(actor=cast.group_leader, group_buy=gb)
        d = Delivery.objects.get()
        with pytest.raises(PermissionDenied):
            actions.mark_delivered(actor=cast.volunteer, delivery=d)


def test_records_are_append_only(world: Any, cast: Any) -> None:
    gb = group_buy(world, cast)
    veg = _items(gb)["蔬菜包"]
    with at(T0):
        order = actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={veg.pk: 1}, key="a"
        )
        p = actions.record_payment(
            actor=cast.group_leader, order=order, method="cash", amount_fen=100, key="p"
        )
    with pytest.raises(AppendOnlyError):
        p.save()
    with pytest.raises(AppendOnlyError):
        Payment.objects.all().delete()


def test_round_robin_is_fair_by_load(world: Any, cast: Any) -> None:
    from huzhu.orgs.models import Building

    buildings = [
        Building.objects.create(community=world.community, name=f"{i}号楼") for i in range(3, 9)
    ]
    lg = logistics(world, ["甲", "乙", "丙"])
    gb = group_buy(world, cast, buildings=buildings, logistics_group=lg)
    veg = _items(gb)["蔬菜包"]
    households = []
    for b_i, b in enumerate(buildings):
        for r in range(b_i + 1):
            households.append(
                Household.objects.create(community=world.community, building=b, room=f"{r}01")
            )
    with at(T0):
        for i, h in enumerate(households):
            actions.place_order(
                actor=cast.branch_head,
                group_buy=gb,
                household=h,
                quantities={veg.pk: 1},
                key=f"k{i}",
            )
    with at(DEADLINE):
        actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
        actions.mark_arrived(actor=cast.group_leader, group_buy=gb)
        plan = actions.assign_deliveries(actor=cast.group_leader, group_buy=gb)
        assert actions.assign_deliveries(actor=cast.group_leader, group_buy=gb) == {}
    loads: dict[int, int] = {}
    for d in Delivery.objects.all():
        assert d.volunteer_id == plan[d.building_id]
        loads[d.volunteer_id] = loads.get(d.volunteer_id, 0) + 1
    # 21 deliveries in buildings of 1..6 households: 7 each.
    assert sorted(loads.values()) == [7, 7, 7]
    assert Order.objects.count() == 21
