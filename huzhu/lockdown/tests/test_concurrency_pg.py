"""Issue 6, acceptance 2, on PostgreSQL: many households ordering the last units of a limited
item at once never oversell, and concurrent replays of one idempotency key make one order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from huzhu.accounts.models import Household, Person
from huzhu.audit.models import AuditEntry
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.lockdown import actions
from huzhu.lockdown.actions import ItemSpec
from huzhu.lockdown.models import GroupBuy, GroupBuyItem, Order, OrderLine
from huzhu.timebank.tests.threads import in_threads

pytestmark = pytest.mark.postgres

N = 24


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )


def _setup(world: Any, cast: Any, stock: int) -> tuple[GroupBuy, GroupBuyItem, list[Person]]:
    gb = actions.open_group_buy(
        actor=cast.group_leader,
        community=world.community,
        group=world.group,
        title="抢购",
        supplier_name="供应商",
        deadline=clock.now() + dt.timedelta(days=1),
        buildings=[world.building],
        items=[
            ItemSpec("蔬菜包", "份", 5800),
            ItemSpec("鸡蛋", "盒", 2650, stock=stock, per_household_max=3),
        ],
        key="race",
    )
    people = []
    for i in range(N):
        h = Household.objects.create(
            community=world.community, building=world.building, room=f"9{i:02d}"
        )
        p = Person(name=f"抢购{i}", community=world.community, household=h)
        p.set_phone(f"1390000{i:04d}")
        p.set_unusable_password()
        p.save()
        people.append(p)
    return gb, gb.items.get(name="鸡蛋"), people


def test_the_last_units_are_never_oversold(transactional_db: Any, world: Any, cast: Any) -> None:
    _need_postgres()
    stock = 17
    gb, eggs, people = _setup(world, cast, stock)
    veg = gb.items.get(name="蔬菜包")

    def work(i: int) -> str:
        q = 1 + i % 3  # 1, 2 or 3 boxes: 48 wanted for 17
        try:
            actions.place_order(
                actor=people[i], group_buy=gb, quantities={eggs.pk: q, veg.pk: 1}, key=f"k{i}"
            )
            return "ok"
        except DomainError as exc:
            return exc.code

    results, errors = in_threads(N, work)
    assert errors == []
    assert set(results) <= {"ok", "lockdown.item.sold_out"}
    eggs.refresh_from_db()
    ordered = OrderLine.objects.filter(item=eggs).aggregate(s=Sum("quantity"))["s"]
    assert eggs.sold == ordered <= stock
    # Every refused household asked for more than was left when it was its turn.
    assert eggs.sold >= stock - 2
    placed = Order.objects.filter(group_buy=gb).count()
    assert placed == results.count("ok")
    # A refused order took nothing else either: one vegetable box per placed order.
    assert OrderLine.objects.filter(item=veg).count() == placed


def test_ten_replays_of_one_key_make_one_order(
    transactional_db: Any, world: Any, cast: Any
) -> None:
    _need_postgres()
    gb, eggs, people = _setup(world, cast, 5)

    def work(i: int) -> int:
        order = actions.place_order(
            actor=people[0], group_buy=gb, quantities={eggs.pk: 2}, key="same-key"
        )
        return order.pk

    results, errors = in_threads(10, work)
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 10
    assert Order.objects.filter(group_buy=gb).count() == 1
    eggs.refresh_from_db()
    assert eggs.sold == 2
    assert AuditEntry.objects.filter(code="lockdown.order.placed").count() == 1


def test_orders_racing_the_close_land_before_it(
    transactional_db: Any, world: Any, cast: Any
) -> None:
    """A close waits for the orders in flight (share lock): no order is written after it."""
    _need_postgres()
    gb, eggs, people = _setup(world, cast, 1000)

    def work(i: int) -> str:
        if i == N - 1:
            actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
            return "closed"
        try:
            actions.place_order(actor=people[i], group_buy=gb, quantities={eggs.pk: 1}, key="c")
            return "ok"
        except DomainError as exc:
            return exc.code

    results, errors = in_threads(N, work)
    assert errors == []
    gb.refresh_from_db()
    assert gb.closed_at is not None
    assert set(results) <= {"ok", "closed", "lockdown.group_buy.bad_state"}
    orders = Order.objects.filter(group_buy=gb)
    assert orders.count() == results.count("ok")
    assert all(o.created_at <= gb.closed_at for o in orders)
    eggs.refresh_from_db()
    assert eggs.sold == results.count("ok")


def test_the_database_refuses_changing_a_payment(
    transactional_db: Any, world: Any, cast: Any
) -> None:
    """Append-only on PostgreSQL: the trigger refuses UPDATE and DELETE of a payment row."""
    _need_postgres()
    from django.db import DatabaseError, transaction

    gb, eggs, people = _setup(world, cast, 5)
    order = actions.place_order(actor=people[0], group_buy=gb, quantities={eggs.pk: 1}, key="k")
    actions.record_payment(
        actor=cast.finance_officer, order=order, method="cash", amount_fen=100, key="p"
    )
    for sql in ("UPDATE lockdown_payment SET amount_fen = 1", "DELETE FROM lockdown_payment"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
