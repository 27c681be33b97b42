"""The paper ledger in a real browser on a phone: a building manager copies a slip with the
paper book in hand, the branch head checks it, the resident sees it in 我的积分."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, ROLE_PHONES
from tests.test_browser import OUT, PHONE, browser, page, phone, pytestmark

__all__ = ["browser", "page", "phone", "pytestmark"]


def _login(pg: Any, base: str, role: str) -> None:
    pg.goto(f"{base}/accounts/login/")
    pg.fill("#id_username", ROLE_PHONES[role])
    pg.fill("#id_password", PASSWORD)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url(f"{base}/")


def _fits(pg: Any) -> None:
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_paper_slip_entered_checked_and_seen_by_the_resident(
    live_server: Any,
    cast: Any,
    page: Any,
    phone: Any,
) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    base = live_server.url

    # The building manager, paper book in hand.
    _login(page, base, "building_manager")
    page.goto(f"{base}/timebank/paper/")
    assert page.locator("#paper-empty").count() == 1
    page.click("#paper-new")
    page.fill("#person-q", "Resident")
    page.click("#person-search-button")
    page.wait_for_load_state()
    page.check(f"#person-{cast.resident.pk}")
    page.check("input[name=kind][value=earn]")
    page.fill("#id_hours", "1.5")
    page.fill("#id_slip_number", "P-100")
    page.fill("#id_note", "陪同就医")
    _fits(page)
    page.screenshot(path=str(OUT / "paper-form.png"), full_page=True)
    page.click("#paper-submit")
    page.wait_for_selector("#paper-status")
    assert page.locator("#paper-status").inner_text() == "待复核"
    assert page.locator("#own-entry").count() == 1

    # The branch head checks it on another phone.
    head = phone()
    _login(head, base, "branch_head")
    head.goto(f"{base}/timebank/paper/?status=pending")
    head.click("#paper-entries a")
    assert cast.building_manager.name in head.locator("#entered-by").inner_text()
    head.check("input[name=decision][value=approve]")
    head.click("#check-submit")
    head.wait_for_selector("#checked-by")
    assert head.locator("#paper-status").inner_text() == "已入账"
    _fits(head)

    # The resident opens 我的积分.
    resident = phone()
    _login(resident, base, "resident")
    resident.goto(f"{base}/timebank/points/")
    assert resident.locator("h1").inner_text() == "我的积分"
    assert resident.locator("#balance").inner_text() == "1.50"
    row = resident.locator("#statement tbody tr").first.inner_text()
    assert "paper:P-100" in row and "+1.50" in row
    _fits(resident)
    resident.screenshot(path=str(OUT / "my-points.png"), full_page=True)
