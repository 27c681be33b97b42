"""Issue 6, acceptance 5 (its group-buying half): a resident orders on a phone-sized viewport
in a real browser, changes the order, and the layout fits the phone; the leader sees the
order in the supplier's order. Screenshots go to test-output/browser."""

from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import PASSWORD, ROLE_PHONES
from huzhu.core import clock
from huzhu.lockdown import actions
from huzhu.lockdown.actions import ItemSpec
from huzhu.lockdown.models import Order
from tests.test_browser import OUT, PHONE, browser, page, phone, pytestmark

__all__ = ["browser", "page", "phone", "pytestmark"]


def _login(pg: Any, base: str, role: str) -> None:
    pg.goto(f"{base}/accounts/login/")
    pg.fill("#id_username", ROLE_PHONES[role])
    pg.fill("#id_password", PASSWORD)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url(f"{base}/")


def _shot(pg: Any, name: str) -> None:
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    OUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUT / f"lockdown-{name}.png"), full_page=True)


def test_a_resident_orders_on_a_phone(live_server: Any, world: Any, cast: Any, phone: Any) -> None:
    gb = actions.open_group_buy(
        actor=cast.group_leader,
        community=world.community,
        group=world.group,
        title="4月15日蔬菜团购",
        supplier_name="叮咚买菜浦东站",
        deadline=clock.now() + dt.timedelta(hours=6),
        buildings=list(world.community.buildings.all()),
        items=[
            ItemSpec("蔬菜包", "份", 5800),
            ItemSpec("鸡蛋", "盒", 2650, stock=10, per_household_max=2),
        ],
        key="browser",
    )
    veg, eggs = gb.items.get(name="蔬菜包"), gb.items.get(name="鸡蛋")
    base = live_server.url
    resident = phone()
    _login(resident, base, "resident")
    resident.goto(f"{base}/lockdown/group-buys/")
    resident.click(f"a[href='/lockdown/group-buys/{gb.pk}/']")
    resident.wait_for_selector("#order-form")
    _shot(resident, "order-form")
    resident.fill(f"#qty-{veg.pk}", "2")
    resident.fill(f"#qty-{eggs.pk}", "1")
    resident.click("#order-submit")
    resident.wait_for_selector("#order-total")
    assert "下单成功" in resident.locator(".messages").inner_text()
    assert "142.50" in resident.locator("#order-total").inner_text()
    _shot(resident, "ordered")
    # Change the order: the form comes back filled with the order.
    assert resident.input_value(f"#qty-{veg.pk}") == "2"
    resident.fill(f"#qty-{veg.pk}", "1")
    resident.click("#order-submit")
    resident.wait_for_selector(".messages")
    assert "订单已修改" in resident.locator(".messages").inner_text()
    order = Order.objects.get()
    assert order.total_fen == 5800 + 2650

    leader = phone()
    _login(leader, base, "group_leader")
    leader.goto(f"{base}/lockdown/group-buys/{gb.pk}/")
    table = leader.locator("#supplier-order").inner_text()
    assert "蔬菜包" in table and "58.00" in table
    _shot(leader, "leader")
