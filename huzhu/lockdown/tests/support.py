"""Helpers for the group-buy tests: a frozen clock, a leader's group buy, logistics volunteers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from huzhu.accounts.models import Person, RoleGrant
from huzhu.lockdown import actions
from huzhu.lockdown.actions import ItemSpec
from huzhu.lockdown.models import GroupBuy
from huzhu.needs.tests.support import T0, at
from huzhu.orgs.models import Building, Group

__all__ = ["DEADLINE", "ITEMS", "T0", "at", "group_buy", "logistics"]

DEADLINE = T0 + dt.timedelta(hours=12)

ITEMS = [
    ItemSpec(name="蔬菜包", unit="份", price_fen=5800),
    ItemSpec(name="鸡蛋", unit="盒", price_fen=2650, stock=10, per_household_max=2),
    ItemSpec(name="猪肉", unit="斤", price_fen=3199, min_total=3),
]


def logistics(world: Any, names: list[str], phone_base: int = 13600000000) -> Group:
    """A 物流组 of ``world.community`` with one group member per name."""
    group = Group.objects.create(community=world.community, name="物流组")
    for i, name in enumerate(names):
        p = Person(name=name, community=world.community)
        p.set_phone(str(phone_base + i))
        p.set_unusable_password()
        p.save()
        RoleGrant.objects.create(
            person=p,
            role="group_member",
            scope_kind="group",
            community=world.community,
            group=group,
        )
    return group


def group_buy(
    world: Any,
    cast: Any,
    *,
    key: str = "gb-1",
    items: list[ItemSpec] | None = None,
    buildings: list[Building] | None = None,
    logistics_group: Group | None = None,
) -> GroupBuy:
    """An open group buy of the cast's group leader (团长 of ``world.group``) at T0."""
    with at(T0):
        return actions.open_group_buy(
            actor=cast.group_leader,
            community=world.community,
            group=world.group,
            logistics_group=logistics_group,
            title="4月15日蔬菜团购",
            supplier_name="叮咚买菜浦东站",
            supplier_contact="021-00000000",
            deadline=DEADLINE,
            delivery_date=DEADLINE.date() + dt.timedelta(days=1),
            buildings=buildings or list(world.community.buildings.all()),
            items=items or ITEMS,
            key=key,
        )
