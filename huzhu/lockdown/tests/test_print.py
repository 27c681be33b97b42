"""The printable sheets: the supplier's order, one sorting sheet per building and a label per
household, with the same numbers as the queries and the .xlsx downloads; only staff see them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from huzhu.accounts.models import Household, Person
from huzhu.lockdown import actions, queries
from huzhu.lockdown.models import GroupBuyItem
from huzhu.lockdown.tests.support import DEADLINE, T0, at, group_buy

pytestmark = pytest.mark.django_db


def _resident(world: Any, building: Any, room: str) -> Person:
    hh = Household.objects.create(community=world.community, building=building, room=room)
    p = Person(name=f"住户{room}", community=world.community, household=hh)
    p.set_phone(f"1390000{room[1:]:0>4}")
    p.set_unusable_password()
    p.save()
    return p


@pytest.fixture
def closed(world: Any, cast: Any) -> Any:
    buildings = list(world.community.buildings.all())
    gb = group_buy(world, cast, buildings=buildings)
    items = {i.name: i for i in GroupBuyItem.objects.filter(group_buy=gb)}
    with at(T0 + dt.timedelta(hours=1)):
        for n, (building, room, veg, eggs) in enumerate(
            [
                (buildings[0], "P901", 2, 1),
                (buildings[0], "P902", 1, 0),
                (buildings[-1], "P903", 3, 2),
            ]
        ):
            person = _resident(world, building, room)
            qty = {items["蔬菜包"].pk: veg}
            if eggs:
                qty[items["鸡蛋"].pk] = eggs
            actions.place_order(actor=person, group_buy=gb, quantities=qty, key=f"p{n}")
    with at(DEADLINE):
        actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
    return gb


def _cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html)]


def test_supplier_order_prints_the_queries_numbers(client: Any, cast: Any, closed: Any) -> None:
    client.force_login(cast.group_leader)
    detail = client.get(f"/lockdown/group-buys/{closed.pk}/").content.decode()
    assert f"/lockdown/group-buys/{closed.pk}/print/supplier/" in detail
    resp = client.get(f"/lockdown/group-buys/{closed.pk}/print/supplier/")
    html = resp.content.decode()
    assert resp.status_code == 200 and 'id="supplier-table"' in html
    rows = queries.supplier_order(closed)
    cells = _cells(html)
    for r in rows:
        i = cells.index(r.name)
        assert cells[i + 3] == str(r.ordered) and cells[i + 5] == str(r.quantity)
    total = sum(r.amount_fen for r in rows)
    assert f'id="supplier-total">{total // 100}.{total % 100:02d}<' in html
    assert total == 6 * 5800 + 3 * 2650


def test_sorting_sheets_one_page_per_building(client: Any, cast: Any, closed: Any) -> None:
    client.force_login(cast.group_leader)
    html = client.get(f"/lockdown/group-buys/{closed.pk}/print/sorting/").content.decode()
    sheets = queries.sorting_sheets(closed)
    assert html.count('class="print-page"') == len(sheets) == 2
    for sheet in sheets:
        section = html.split(f'data-building="{sheet.building_id}"')[1].split("</section>")[0]
        cells = _cells(section)
        for h in sheet.households:
            i = cells.index(h.room)
            veg = next(it for it in closed.items.all() if it.name == "蔬菜包")
            assert cells[i + 1] == str(h.quantities.get(veg.pk, ""))


def test_labels_one_per_order(client: Any, cast: Any, closed: Any) -> None:
    client.force_login(cast.group_leader)
    html = client.get(f"/lockdown/group-buys/{closed.pk}/print/labels/").content.decode()
    labels = queries.labels(closed)
    assert html.count('class="bag-label"') == len(labels) == 3
    assert "蔬菜包×3份；鸡蛋×2盒" in html and "未付" in html


def test_rights_and_bad_kind(client: Any, world: Any, cast: Any, closed: Any) -> None:
    client.force_login(cast.resident)
    assert client.get(f"/lockdown/group-buys/{closed.pk}/print/labels/").status_code == 403
    client.force_login(cast.group_leader)
    assert client.get(f"/lockdown/group-buys/{closed.pk}/print/other/").status_code == 404
    assert client.get("/lockdown/group-buys/999999/print/labels/").status_code == 404


def test_empty_group_buy_shows_empty_states(client: Any, world: Any, cast: Any) -> None:
    gb = group_buy(world, cast, key="empty")
    client.force_login(cast.group_leader)
    for kind in ("sorting", "labels"):
        html = client.get(f"/lockdown/group-buys/{gb.pk}/print/{kind}/").content.decode()
        assert 'class="empty"' in html
