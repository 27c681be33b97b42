"""The group-buying API end to end: a leader opens a buy, residents order with idempotency
keys, the leader closes it and downloads the sheets, payments, delivery and confirmation."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from openpyxl import load_workbook

from huzhu.accounts.models import Household, Person
from huzhu.lockdown.models import Order
from huzhu.lockdown.tests.support import DEADLINE, T0, at, logistics

pytestmark = pytest.mark.django_db

API = "/api/v1/lockdown"


def _post(client: Any, url: str, body: dict[str, Any], key: str | None = "k") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def _open(client: Any, world: Any, lg: Any) -> Any:
    return _post(
        client,
        f"{API}/group-buys",
        {
            "community_id": world.community.pk,
            "group_id": world.group.pk,
            "logistics_group_id": lg.pk,
            "title": "4月15日蔬菜团购",
            "supplier_name": "叮咚买菜浦东站",
            "supplier_contact": "021-00000000",
            "deadline": DEADLINE.isoformat(),
            "building_ids": [world.building.pk],
            "items": [
                {"name": "蔬菜包", "unit": "份", "price_fen": 5800},
                {"name": "鸡蛋", "unit": "盒", "price_fen": 2650, "stock": 2},
            ],
        },
        key="open-1",
    )


def test_group_buy_through_the_api(client: Any, world: Any, cast: Any) -> None:
    lg = logistics(world, ["物流甲"])
    neighbour_home = Household.objects.create(
        community=world.community, building=world.building, room="102"
    )
    neighbour = Person(name="邻居", community=world.community, household=neighbour_home)
    neighbour.set_phone("13512345678")
    neighbour.set_unusable_password()
    neighbour.save()
    with at(T0):
        client.force_login(cast.group_leader)
        resp = _open(client, world, lg)
        assert resp.status_code == 201, resp.content
        gb = resp.json()
        assert _open(client, world, lg).status_code == 200
        veg, eggs = (i["id"] for i in gb["items"])

        client.force_login(cast.resident)
        listed = client.get(f"{API}/group-buys").json()
        assert [g["id"] for g in listed["items"]] == [gb["id"]]
        detail = client.get(f"{API}/group-buys/{gb['id']}").json()
        assert detail["supplier_contact"] == "" and detail["my_order_id"] is None
        body = {"lines": [{"item_id": veg, "quantity": 1}, {"item_id": eggs, "quantity": 1}]}
        resp = _post(client, f"{API}/group-buys/{gb['id']}/orders", body, key=None)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "api.idempotency_key.required"
        resp = _post(client, f"{API}/group-buys/{gb['id']}/orders", body, key="order-1")
        assert resp.status_code == 201, resp.content
        order = resp.json()
        assert order["total_fen"] == 5800 + 2650
        replay = _post(client, f"{API}/group-buys/{gb['id']}/orders", body, key="order-1")
        assert replay.status_code == 200 and replay.json()["id"] == order["id"]
        assert Order.objects.count() == 1

        client.force_login(neighbour)
        resp = _post(
            client,
            f"{API}/group-buys/{gb['id']}/orders",
            {"lines": [{"item_id": eggs, "quantity": 2}]},
            key="n-1",
        )
        assert resp.status_code == 409
        assert resp.json()["error"]["code"] == "lockdown.item.sold_out"
        resp = _post(
            client,
            f"{API}/group-buys/{gb['id']}/orders",
            {"lines": [{"item_id": eggs, "quantity": 1}, {"item_id": veg, "quantity": 2}]},
            key="n-2",
        )
        assert resp.status_code == 201
        neighbour_order = resp.json()

        client.force_login(cast.resident)
        resp = _post(
            client,
            f"{API}/orders/{order['id']}/edit",
            {"lines": [{"item_id": veg, "quantity": 2}]},
            key="edit-1",
        )
        assert resp.status_code == 200 and resp.json()["total_fen"] == 2 * 5800

    with at(DEADLINE):
        resp = _post(
            client,
            f"{API}/orders/{order['id']}/edit",
            {"lines": [{"item_id": veg, "quantity": 3}]},
            key="edit-2",
        )
        assert resp.status_code == 409
        assert resp.json()["error"]["code"] == "lockdown.group_buy.deadline_passed"
        client.force_login(cast.group_leader)
        assert _post(client, f"{API}/group-buys/{gb['id']}/close", {}).json()["state"] == "closed"
        supplier = client.get(f"{API}/group-buys/{gb['id']}/supplier-order").json()
        assert [(r["name"], r["quantity"]) for r in supplier["rows"]] == [
            ("蔬菜包", 4),
            ("鸡蛋", 1),
        ]
        assert supplier["total_fen"] == 4 * 5800 + 2650
        resp = client.get(f"{API}/group-buys/{gb['id']}/export", {"kind": "sorting"})
        assert resp.status_code == 200
        assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
        sheet = load_workbook(io.BytesIO(resp.content)).worksheets[0]
        assert [list(r) for r in sheet.iter_rows(values_only=True)] == [
            ["房号", "蔬菜包（份）", "鸡蛋（盒）", "金额（元）"],
            ["101", 2, 0, 116],
            ["102", 2, 1, 142.5],
            ["合计", 4, 1, 258.5],
        ]
        bad = client.get(f"{API}/group-buys/{gb['id']}/export", {"kind": "x"})
        assert bad.status_code == 400
        sheets = client.get(f"{API}/group-buys/{gb['id']}/sorting-sheets").json()
        assert [h["room"] for h in sheets[0]["households"]] == ["101", "102"]

        assert _post(client, f"{API}/group-buys/{gb['id']}/arrive", {}).status_code == 200
        resp = _post(client, f"{API}/group-buys/{gb['id']}/bill", {"amount_fen": 4 * 5800 + 2650})
        assert resp.status_code == 200
        for o in (order, neighbour_order):
            total = Order.objects.get(pk=o["id"]).total_fen
            resp = _post(
                client,
                f"{API}/orders/{o['id']}/payments",
                {"method": "wechat", "amount_fen": total},
                key=f"pay-{o['id']}",
            )
            assert resp.status_code == 201, resp.content
        rec = client.get(f"{API}/group-buys/{gb['id']}/reconciliation").json()
        assert rec["balanced"] is True and rec["difference_fen"] == 0
        resp = _post(client, f"{API}/group-buys/{gb['id']}/assign-deliveries", {})
        assert resp.json()["state"] == "delivering"

    with at(DEADLINE + dt.timedelta(hours=20)):
        volunteer = Person.objects.get(name="物流甲")
        client.force_login(volunteer)
        mine = client.get(f"{API}/deliveries").json()
        assert mine["meta"]["total"] == 2
        delivery = next(d for d in mine["items"] if d["order_id"] == order["id"])
        resp = _post(
            client,
            f"{API}/deliveries/{delivery['id']}/delivered",
            {"contactless": True, "photo_path": "lockdown/door-101.jpg"},
        )
        assert resp.status_code == 200 and resp.json()["delivered_at"]
        client.force_login(cast.resident)
        resp = _post(client, f"{API}/deliveries/{delivery['id']}/confirm", {})
        assert resp.status_code == 200 and resp.json()["confirmed_at"]
        got = client.get(f"{API}/orders/{order['id']}").json()
        assert got["paid_fen"] == got["total_fen"] and got["confirmed_at"]


def test_the_orders_list_takes_a_fixed_number_of_queries(
    client: Any, world: Any, cast: Any
) -> None:
    """No N+1: the leader's list of orders costs the same for 2 orders as for 6."""
    from huzhu.lockdown import actions
    from huzhu.lockdown.tests.support import group_buy

    gb = group_buy(world, cast)
    veg = gb.items.get(name="蔬菜包")
    homes = [
        Household.objects.create(community=world.community, building=world.building, room=f"3{i}")
        for i in range(6)
    ]
    client.force_login(cast.group_leader)

    def count(n: int) -> int:
        with at(T0):
            for i, h in enumerate(homes[:n]):
                if not Order.objects.filter(household=h).exists():
                    o = actions.place_order(
                        actor=cast.branch_head,
                        group_buy=gb,
                        household=h,
                        quantities={veg.pk: 1},
                        key=f"q{i}",
                    )
                    actions.record_payment(
                        actor=cast.group_leader, order=o, method="cash", amount_fen=100, key=f"p{i}"
                    )
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            resp = client.get(f"{API}/group-buys/{gb.pk}/orders")
        assert resp.status_code == 200 and resp.json()["meta"]["total"] == n
        assert all(o["paid_fen"] == 100 for o in resp.json()["items"])
        return len(ctx.captured_queries)

    assert count(2) == count(6)
