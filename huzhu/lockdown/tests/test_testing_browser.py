"""Acceptance 5 (its testing half): in a real browser the big calling screen updates when the
staff call the next batch — without a reload (it polls a small JSON page from a static
script). Screenshots go to test-output/browser."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, ROLE_PHONES
from huzhu.core import clock
from huzhu.lockdown.actions import testing as ta
from huzhu.lockdown.tests.testing_support import populate
from tests.test_browser import OUT, PHONE, browser, phone, pytestmark

__all__ = ["browser", "phone", "pytestmark"]


def _login(pg: Any, base: str, role: str) -> None:
    pg.goto(f"{base}/accounts/login/")
    pg.fill("#id_username", ROLE_PHONES[role])
    pg.fill("#id_password", PASSWORD)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url(f"{base}/")


def test_the_big_screen_follows_the_calls(
    live_server: Any, world: Any, cast: Any, browser: Any, phone: Any
) -> None:
    from playwright.sync_api import expect  # (no wait_for_function: the CSP forbids its eval)

    populate(world)
    s = ta.create_session(
        actor=cast.group_leader,
        community=world.community,
        group=world.group,
        title="全员核酸",
        place="小区东门广场",
        starts_at=clock.now(),
        batch_size=3,
        buildings=list(world.community.buildings.all()),
        key="browser",
    )
    base = live_server.url
    OUT.mkdir(parents=True, exist_ok=True)

    # The big screen: a wide display, signed in as a resident of a covered building.
    tv_context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="zh-CN")
    try:
        tv = tv_context.new_page()
        _login(tv, base, "resident")
        tv.goto(f"{base}/lockdown/testing/{s.pk}/screen/")
        assert tv.inner_text("#batch-number") == "0"
        assert "尚未开始叫号" in tv.inner_text("#batch-range")
        tv.evaluate("window.__notReloaded = true")
        tv.screenshot(path=str(OUT / "testing-screen-before.png"))

        staff = phone()
        _login(staff, base, "group_member")
        staff.goto(f"{base}/lockdown/testing/{s.pk}/")
        staff.click("#call-next")
        staff.wait_for_selector("#batch-table")
        assert "已叫第 1 批，共 3 户。" in staff.locator(".messages").inner_text()
        assert staff.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        staff.screenshot(path=str(OUT / "testing-console.png"), full_page=True)

        expect(tv.locator("#batch-number")).to_have_text("1", timeout=20_000)
        assert tv.evaluate("window.__notReloaded === true")
        households = tv.locator("#batch-households li").all_inner_texts()
        assert households == ["1号楼 101", "1号楼 102", "1号楼 201"]
        assert "顺序号 1 – 3" in tv.inner_text("#batch-range")
        tv.screenshot(path=str(OUT / "testing-screen-batch-1.png"))

        # Check one in, then call the next batch: the screen follows again.
        staff.fill("#search-q", "1号楼 101")
        staff.click("#search-submit")
        staff.locator("#search-results button").first.click()
        staff.wait_for_selector(".messages")
        staff.click("#call-next")
        staff.wait_for_selector("#batch-table")
        expect(tv.locator("#batch-number")).to_have_text("2", timeout=20_000)
        assert tv.evaluate("window.__notReloaded === true")
        assert tv.locator("#batch-households li").all_inner_texts() == [
            "1号楼 301",
            "1号楼 302",
            "2号楼 101",
        ]
        expect(tv.locator("#count-tested")).to_have_text("1", timeout=20_000)
        tv.screenshot(path=str(OUT / "testing-screen-batch-2.png"))
    finally:
        tv_context.close()
