"""Paying with points at a merchant in a real browser on a phone viewport: the member opens
我的付款码, the merchant's staff pastes the code at the till, enters 60 yuan, confirms, sees
30 yuan off for 10 points, and the member's available points drop by 10."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, ROLE_PHONES
from tests.test_browser import OUT, PHONE, browser, page, pytestmark  # noqa: F401


def _login(pg: Any, base: str, role: str) -> None:
    pg.goto(f"{base}/accounts/login/")
    pg.fill("#id_username", ROLE_PHONES[role])
    pg.fill("#id_password", PASSWORD)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url(f"{base}/")


def _fits(pg: Any) -> None:
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px phone"


def test_member_pays_sixty_yuan_with_ten_points_at_the_till(
    live_server: Any,
    cast: Any,
    browser: Any,  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    from huzhu.timebank.tests.test_merchants import give_points, make_merchant

    OUT.mkdir(parents=True, exist_ok=True)
    merchant = make_merchant(cast, name="阳光便利店")
    give_points(cast.resident, 100_00)
    base = live_server.url

    # The member shows the code.
    _login(page, base, "resident")
    page.goto(f"{base}/timebank/pay/")
    assert page.locator("h1").inner_text() == "我的付款码"
    assert page.locator("#qr svg").count() == 1
    assert page.locator("#available").inner_text() == "100.00"
    code = page.locator("#pay-code").inner_text().strip()
    _fits(page)
    page.screenshot(path=str(OUT / "timebank-pay-code.png"), full_page=True)

    # The merchant's staff, on their own phone, pastes it and enters the amount.
    till_context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    till = till_context.new_page()
    try:
        _login(till, base, "merchant")
        till.goto(f"{base}/timebank/merchants/mine/")
        till.wait_for_url(f"{base}/timebank/merchants/{merchant.pk}/redeem/")
        _fits(till)
        till.fill("#id_token", code)
        till.fill("#id_purchase", "60")
        till.screenshot(path=str(OUT / "timebank-till.png"), full_page=True)
        till.click("#redeem-next")
        till.wait_for_selector("#confirm-summary")
        assert "30.00" in till.locator("#confirm-discount").inner_text()
        assert till.locator("#confirm-points").inner_text() == "10.00"
        assert "30.00" in till.locator("#confirm-pay").inner_text()
        assert "Resident" not in till.locator("#confirm-member").inner_text()
        _fits(till)
        till.screenshot(path=str(OUT / "timebank-till-confirm.png"), full_page=True)
        till.click("#confirm-button")
        till.wait_for_selector("#result")
        assert till.locator("#result-title").inner_text() == "积分抵扣成功"
        assert "30.00" in till.locator("#result-discount").inner_text()
        assert till.locator("#result-points").inner_text() == "10.00"
        till.screenshot(path=str(OUT / "timebank-till-result.png"), full_page=True)
    finally:
        till_context.close()

    # The member's side: 10 points fewer, and the confirmation in the inbox.
    page.goto(f"{base}/timebank/pay/")
    assert page.locator("#available").inner_text() == "90.00"
    assert page.locator("#recent-redemptions").inner_text().count("阳光便利店") == 1
    page.goto(f"{base}/notify/inbox/")
    assert "积分抵扣成功" in page.locator("#inbox-items").inner_text()
