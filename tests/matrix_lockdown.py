"""Permission-matrix rules for the group-buying API (huzhu/lockdown/api.py; see
tests/matrix_common.py).

The in-scope group buy is run by the cast's group leader (团长) for ``world.group`` and covers
both buildings of the community (the cast's resident orders for household 1号楼-101); the
other community's one is run by its branch head (the outsider) for ``world.other_group`` and
covers a building of that community where the outsider does not live (so the outsider, a
branch head without "lockdown.order_for" on its own household's building… may not order there
for itself: 403, as for every branch head)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tests.matrix_common import ALL, BH, BM, DA, EVERYONE, FO, GL, GM, Rule

RESIDENT = "resident"
VOLUNTEER = "volunteer"
RUNNERS = frozenset({BH, GL})
STAFF = frozenset({BH, GL, GM, FO, DA})
READERS = STAFF | {RESIDENT}
ORDER_READERS = STAFF | {RESIDENT, BM}
ORDER_EDITORS = frozenset({RESIDENT, BH, BM})
PAYERS = frozenset({BH, GL, FO})
DELIVERERS = frozenset({VOLUNTEER, BH, GL})

STEPS = ("draft", "open", "ordered", "closed", "arrived", "assigned", "delivered", "all_delivered")


def _other_resident(world: Any) -> Any:
    from huzhu.accounts.models import Household, Person
    from huzhu.orgs.models import Building

    p = Person.objects.filter(name="外区团购居民").first()
    if p is None:
        building = Building.objects.create(community=world.other_community, name="10号楼")
        household = Household.objects.create(
            community=world.other_community, building=building, room="1001"
        )
        p = Person(name="外区团购居民", community=world.other_community, household=household)
        p.set_phone("13700000088")
        p.set_unusable_password()
        p.save()
    return p


def _volunteer(world: Any, cast: Any, own: bool) -> Any:
    from tests.matrix_needs import _other_volunteer

    return cast.volunteer if own else _other_volunteer(world)


def _group_buy(world: Any, cast: Any, own: bool, step: str) -> Any:
    """A group buy brought through the actions up to ``step``."""
    from huzhu.core import clock
    from huzhu.lockdown import actions
    from huzhu.lockdown.actions import ItemSpec
    from huzhu.lockdown.models import Delivery

    leader = cast.group_leader if own else cast.outsider
    resident = cast.resident if own else _other_resident(world)
    community = world.community if own else world.other_community
    buildings = list(world.community.buildings.all()) if own else [resident.household.building]
    upto = STEPS.index(step)
    gb = actions.open_group_buy(
        actor=leader,
        community=community,
        group=world.group if own else world.other_group,
        title="蔬菜团购",
        supplier_name="叮咚买菜",
        deadline=clock.now() + dt.timedelta(days=1),
        buildings=buildings,
        items=[ItemSpec("蔬菜包", "份", 5800), ItemSpec("鸡蛋", "盒", 2650, stock=10)],
        key=f"matrix-{own}-{step}-{clock.now().timestamp()}",
        draft=step == "draft",
    )
    if upto >= STEPS.index("ordered"):
        veg = gb.items.get(name="蔬菜包")
        actions.place_order(actor=resident, group_buy=gb, quantities={veg.pk: 2}, key="m")
    if upto >= STEPS.index("closed"):
        actions.close_group_buy(actor=leader, group_buy=gb)
    if upto >= STEPS.index("arrived"):
        actions.mark_arrived(actor=leader, group_buy=gb)
    if upto >= STEPS.index("assigned"):
        actions.assign_deliveries(
            actor=leader, group_buy=gb, volunteers=[_volunteer(world, cast, own)]
        )
    if upto >= STEPS.index("delivered"):
        for d in Delivery.objects.filter(group_buy=gb):
            actions.mark_delivered(actor=leader, delivery=d)
    gb.refresh_from_db()
    return gb


def _order(world: Any, cast: Any, own: bool) -> Any:
    return _group_buy(world, cast, own, "ordered").orders.get()


def _payment(world: Any, cast: Any, own: bool) -> Any:
    """A payment for the resident's order, recorded by the buy's leader."""
    from huzhu.lockdown import actions

    order = _order(world, cast, own)
    return actions.record_payment(
        actor=cast.group_leader if own else cast.outsider,
        order=order,
        method="cash",
        amount_fen=5800,
        key="matrix-paid",
    )


def _delivery(world: Any, cast: Any, own: bool, step: str) -> Any:
    from huzhu.lockdown.models import Delivery

    return Delivery.objects.get(group_buy=_group_buy(world, cast, own, step))


def _item(world: Any, own: bool, name: str = "蔬菜包") -> Any:
    from huzhu.lockdown.models import GroupBuyItem

    community = world.community if own else world.other_community
    return GroupBuyItem.objects.filter(group_buy__community=community, name=name).latest("pk")


def _key(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: {**fields, "idempotency_key": "matrix-lockdown"}


def _open_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from huzhu.core import clock

    community = world.community if own else world.other_community
    return {
        "community_id": community.pk,
        "group_id": (world.group if own else world.other_group).pk,
        "title": "蔬菜团购",
        "supplier_name": "叮咚买菜",
        "deadline": (clock.now() + dt.timedelta(days=1)).isoformat(),
        "building_ids": list(community.buildings.values_list("pk", flat=True)),
        "items": [{"name": "蔬菜包", "unit": "份", "price_fen": 5800}],
        "idempotency_key": "matrix-open",
    }


def _lines(qty: int) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: {
        "lines": [{"item_id": _item(w, own).pk, "quantity": qty}],
        "idempotency_key": f"matrix-lines-{qty}",
    }


def _assign_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {
        "volunteer_ids": [_volunteer(world, cast, own).pk],
        "idempotency_key": "matrix-assign",
    }


def _shortage_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {"item_id": _item(world, own).pk, "quantity": 1, "idempotency_key": "matrix-short"}


def _substitution_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {
        "item_id": _item(world, own).pk,
        "substitute": "青菜包",
        "idempotency_key": "matrix-sub",
    }


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    **{
        f"group_buy_{step}": (lambda s: lambda w, c, own: _group_buy(w, c, own, s))(step)
        for step in STEPS
    },
    "group_buy_order": _order,
    "group_buy_payment": _payment,
    "group_buy_delivery_assigned": lambda w, c, own: _delivery(w, c, own, "assigned"),
    "group_buy_delivery_delivered": lambda w, c, own: _delivery(w, c, own, "delivered"),
}

GB = "/api/v1/lockdown/group-buys/{group_buy_id}"

API_RULES: dict[str, Rule] = {
    "GET /api/v1/lockdown/group-buys": Rule(None, EVERYONE),
    "POST /api/v1/lockdown/group-buys": Rule("group", RUNNERS, method="POST", data=_open_body),
    f"GET {GB}": Rule("group_buy_open", READERS),
    f"POST {GB}/publish": Rule("group_buy_draft", RUNNERS, method="POST", data=_key()),
    f"POST {GB}/close": Rule("group_buy_ordered", RUNNERS, method="POST", data=_key()),
    f"POST {GB}/cancel": Rule(
        "group_buy_open", RUNNERS, method="POST", data=_key(reason="供应商停止供货")
    ),
    f"POST {GB}/arrive": Rule(
        "group_buy_closed", RUNNERS, method="POST", data=_key(supplier_bill_fen=11600)
    ),
    f"POST {GB}/bill": Rule(
        "group_buy_closed", RUNNERS, method="POST", data=_key(amount_fen=11600)
    ),
    f"POST {GB}/finish": Rule("group_buy_delivered", RUNNERS, method="POST", data=_key()),
    f"POST {GB}/assign-deliveries": Rule(
        "group_buy_arrived", RUNNERS, method="POST", data=_assign_body
    ),
    f"POST {GB}/orders": Rule(
        "group_buy_open", frozenset({RESIDENT}), method="POST", data=_lines(1)
    ),
    f"GET {GB}/orders": Rule("group_buy_ordered", STAFF),
    "GET /api/v1/lockdown/orders/{order_id}": Rule("group_buy_order", ORDER_READERS),
    "POST /api/v1/lockdown/orders/{order_id}/edit": Rule(
        "group_buy_order", ORDER_EDITORS, method="POST", data=_lines(3)
    ),
    "POST /api/v1/lockdown/orders/{order_id}/cancel": Rule(
        "group_buy_order", ORDER_EDITORS, method="POST", data=_key()
    ),
    "POST /api/v1/lockdown/orders/{order_id}/payments": Rule(
        "group_buy_order", PAYERS, method="POST", data=_key(method="wechat", amount_fen=5800)
    ),
    "POST /api/v1/lockdown/payments/{payment_id}/reverse": Rule(
        "group_buy_payment", PAYERS, method="POST", data=_key(reason="金额登记错了")
    ),
    f"GET {GB}/payments": Rule("group_buy_ordered", PAYERS),
    f"POST {GB}/shortages": Rule("group_buy_closed", RUNNERS, method="POST", data=_shortage_body),
    f"POST {GB}/substitutions": Rule(
        "group_buy_closed", RUNNERS, method="POST", data=_substitution_body
    ),
    f"GET {GB}/supplier-order": Rule("group_buy_closed", STAFF),
    f"GET {GB}/sorting-sheets": Rule("group_buy_closed", STAFF),
    f"GET {GB}/export": Rule("group_buy_closed", STAFF),
    f"GET {GB}/reconciliation": Rule("group_buy_closed", STAFF),
    "GET /api/v1/lockdown/deliveries": Rule(None, EVERYONE),
    "GET /api/v1/lockdown/buildings/{building_id}/board": Rule("building", ALL),
    "POST /api/v1/lockdown/deliveries/{delivery_id}/delivered": Rule(
        "group_buy_delivery_assigned", DELIVERERS, method="POST", data=_key(photo_path="a/b.jpg")
    ),
    "POST /api/v1/lockdown/deliveries/{delivery_id}/confirm": Rule(
        "group_buy_delivery_delivered", ORDER_EDITORS, method="POST", data=_key()
    ),
}


def _form(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: dict(fields)


def _order_form(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {f"qty_{_item(world, own).pk}": "1", "key": "matrix-page-order"}


PAGE_RULES: dict[str, Rule] = {
    "lockdown:group_buys": Rule(None, EVERYONE),
    "lockdown:group_buy": Rule("group_buy_open", READERS),
    # Opening a buy: whoever holds "lockdown.run_group_buy" somewhere (the outsider in its own
    # community); the form lists only their groups.
    "lockdown:group_buy_create": Rule(None, RUNNERS | {"outsider"}),
    "lockdown:order_submit": Rule(
        "group_buy_open", frozenset({RESIDENT}), method="POST", data=_order_form
    ),
    "lockdown:group_buy_step": Rule(
        "group_buy_ordered", RUNNERS, method="POST", data=_form(step="close")
    ),
    "lockdown:export": Rule("group_buy_closed", STAFF, data=_form(kind="sorting")),
    "lockdown:group_buy_print": Rule("group_buy_closed", STAFF, extra={"kind": "sorting"}),
    "lockdown:board_home": Rule(None, EVERYONE),
    "lockdown:building_board": Rule("building", ALL),
    "lockdown:order_cancel": Rule("group_buy_order", ORDER_EDITORS, method="POST"),
    "lockdown:my_deliveries": Rule(None, EVERYONE),
    "lockdown:delivery_done": Rule("group_buy_delivery_assigned", DELIVERERS, method="POST"),
    "lockdown:delivery_confirm": Rule("group_buy_delivery_delivered", ORDER_EDITORS, method="POST"),
    "lockdown:payments": Rule("group_buy_ordered", PAYERS),
    "lockdown:payment_record": Rule(
        "group_buy_order", PAYERS, method="POST", data=_form(method="cash", amount="58.00", key="m")
    ),
    "lockdown:payment_reverse": Rule(
        "group_buy_payment", PAYERS, method="POST", data=_form(reason="金额登记错了", key="m")
    ),
}


# Mass testing (核酸检测): its rules live in their own module, merged here.
from tests.matrix_lockdown_testing import API_RULES as _TESTING_API_RULES  # noqa: E402
from tests.matrix_lockdown_testing import OBJECTS as _TESTING_OBJECTS  # noqa: E402
from tests.matrix_lockdown_testing import PAGE_RULES as _TESTING_PAGE_RULES  # noqa: E402

OBJECTS.update(_TESTING_OBJECTS)
API_RULES.update(_TESTING_API_RULES)
PAGE_RULES.update(_TESTING_PAGE_RULES)
