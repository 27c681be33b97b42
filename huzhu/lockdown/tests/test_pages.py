"""The group-buying pages: a resident orders, changes and cancels on the phone page; the
leader closes, downloads the sheets, records arrival and assigns deliveries; the volunteer
marks a delivery; the resident confirms receipt. Empty states and paging."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from huzhu.lockdown.models import Delivery, GroupBuyState, Order, OrderState
from huzhu.lockdown.tests.support import DEADLINE, T0, at, group_buy, logistics

pytestmark = pytest.mark.django_db


def test_empty_states(client: Any, world: Any, cast: Any) -> None:
    client.force_login(cast.resident)
    resp = client.get("/lockdown/group-buys/")
    assert resp.status_code == 200 and 'id="group-buys-empty"' in resp.content.decode()
    resp = client.get("/lockdown/deliveries/")
    assert 'id="deliveries-empty"' in resp.content.decode()


def test_list_is_paged(client: Any, world: Any, cast: Any, settings: Any) -> None:
    settings.HUZHU_PAGE_SIZE = 2
    for i in range(3):
        group_buy(world, cast, key=f"gb-{i}")
    client.force_login(cast.resident)
    first = client.get("/lockdown/group-buys/").content.decode()
    assert first.count('class="inbox-item group-buy-item"') == 2 and 'rel="next"' in first
    second = client.get("/lockdown/group-buys/", {"page": 2}).content.decode()
    assert second.count('class="inbox-item group-buy-item"') == 1


def test_the_loop_through_the_pages(client: Any, world: Any, cast: Any) -> None:
    lg = logistics(world, ["物流甲"])
    gb = group_buy(world, cast, logistics_group=lg)
    items = {i.name: i for i in gb.items.all()}
    url = f"/lockdown/group-buys/{gb.pk}/"
    with at(T0 + dt.timedelta(hours=1)):
        client.force_login(cast.resident)
        page = client.get(url).content.decode()
        assert 'id="order-form"' in page and "蔬菜包" in page
        assert 'id="leader-card"' not in page  # not for residents
        form = {f"qty_{i.pk}": "0" for i in items.values()}
        form.update({f"qty_{items['鸡蛋'].pk}": "3", "key": "k1"})
        resp = client.post(f"{url}order/", form, follow=True)
        assert "每户限购" in resp.content.decode()  # the rule, as a message
        form.update({f"qty_{items['鸡蛋'].pk}": "2", f"qty_{items['蔬菜包'].pk}": "1"})
        resp = client.post(f"{url}order/", form, follow=True)
        assert "下单成功" in resp.content.decode()
        order = Order.objects.get()
        assert order.total_fen == 2 * 2650 + 5800
        form.update({f"qty_{items['鸡蛋'].pk}": "1", "key": "k2"})
        resp = client.post(f"{url}order/", form, follow=True)
        assert "订单已修改" in resp.content.decode()
        order.refresh_from_db()
        assert order.total_fen == 2650 + 5800
        client.post(f"/lockdown/orders/{order.pk}/cancel/")
        order.refresh_from_db()
        assert order.state == OrderState.CANCELLED
        form["key"] = "k3"
        client.post(f"{url}order/", form)
        order.refresh_from_db()
        assert order.state == OrderState.PLACED
        listed = client.get("/lockdown/group-buys/").content.decode()
        assert "已下单" in listed

    with at(DEADLINE):
        page = client.get(url).content.decode()
        assert 'id="order-form"' not in page and 'id="order-total"' in page
        client.force_login(cast.group_leader)
        page = client.get(url).content.decode()
        assert 'id="leader-card"' in page and 'id="step-close"' in page
        client.post(f"{url}step/", {"step": "close"})
        gb.refresh_from_db()
        assert gb.state == GroupBuyState.CLOSED
        resp = client.get(f"{url}export/", {"kind": "supplier"})
        rows = list(load_workbook(io.BytesIO(resp.content)).worksheets[0].values)
        assert rows[1][:6] == ("蔬菜包", "份", 58, 1, 0, 1)
        client.post(f"{url}step/", {"step": "arrive"})
        client.post(f"{url}step/", {"step": "assign"})
        gb.refresh_from_db()
        assert gb.state == GroupBuyState.DELIVERING

    with at(DEADLINE + dt.timedelta(hours=20)):
        d = Delivery.objects.get()
        assert d.volunteer is not None
        client.force_login(d.volunteer)
        page = client.get("/lockdown/deliveries/").content.decode()
        assert f'id="deliver-{d.pk}"' in page and "1号楼-101" in page
        client.post(f"/lockdown/deliveries/{d.pk}/done/", {"contactless": "1"})
        d.refresh_from_db()
        assert d.delivered_at is not None and d.contactless
        client.force_login(cast.resident)
        page = client.get(url).content.decode()
        assert 'id="confirm-received"' in page
        client.post(f"/lockdown/deliveries/{d.pk}/confirm/")
        d.refresh_from_db()
        assert d.confirmed_by == cast.resident
        client.force_login(cast.group_leader)
        client.post(f"{url}step/", {"step": "finish"})
        gb.refresh_from_db()
        assert gb.state == GroupBuyState.DONE


def test_a_leader_opens_a_group_buy_on_the_page(client: Any, world: Any, cast: Any) -> None:
    from huzhu.lockdown.forms import parse_items
    from huzhu.lockdown.models import GroupBuy

    client.force_login(cast.resident)
    assert client.get("/lockdown/group-buys/new/").status_code == 403
    client.force_login(cast.group_leader)
    assert 'id="group-buy-new"' in client.get("/lockdown/group-buys/").content.decode()
    page = client.get("/lockdown/group-buys/new/").content.decode()
    assert 'id="group-buy-form"' in page
    form = {
        "group": world.group.pk,
        "title": "4月16日团购",
        "supplier_name": "叮咚买菜",
        "deadline": (DEADLINE).strftime("%Y-%m-%dT%H:%M"),
        "buildings": [world.building.pk],
        "items": "蔬菜包，份，58\n鸡蛋, 盒, 26.5, 100, 2\n猪肉|斤|31.99|||50",
        "key": "page-open",
    }
    with at(T0):
        resp = client.post("/lockdown/group-buys/new/", {**form, "items": "蔬菜包，份，58.123"})
        assert "最多两位小数" in resp.content.decode()
        resp = client.post("/lockdown/group-buys/new/", form)
        assert resp.status_code == 302
        assert client.post("/lockdown/group-buys/new/", form).status_code == 302  # replay
    gb = GroupBuy.objects.get()
    assert [
        (i.name, i.price_fen, i.stock, i.per_household_max, i.min_total) for i in gb.items.all()
    ] == [
        ("蔬菜包", 5800, None, None, 0),
        ("鸡蛋", 2650, 100, 2, 0),
        ("猪肉", 3199, None, None, 50),
    ]
    assert len(parse_items("a,b,1\n\n")) == 1
