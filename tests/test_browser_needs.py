"""The service loop in a real browser on phones (issue 5, acceptance 1): the resident publishes
a need, the building manager approves it and offers it to a volunteer ticked among the
suggestions, the volunteer accepts, checks in and out, the resident confirms and rates five
stars, and the volunteer sees the credit in 我的积分. Screenshots go to OUT."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

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


def _shot(pg: Any, name: str) -> None:
    _fits(pg)
    pg.screenshot(path=str(OUT / f"needs-{name}.png"), full_page=True)


def test_resident_to_volunteer_credit_through_the_pages(
    live_server: Any, cast: Any, page: Any, phone: Any
) -> None:
    from huzhu.accounts.models import AvailabilitySlot
    from huzhu.needs.models import NeedType

    OUT.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    NeedType.objects.get_or_create(code="haircut", defaults={"name": "理发", "name_en": "Haircut"})
    NeedType.objects.get_or_create(code="escort", defaults={"name": "陪诊", "name_en": "Escort"})
    for day in range(7):
        AvailabilitySlot.objects.create(
            person=cast.volunteer, weekday=day, start_time=dt.time(7), end_time=dt.time(21)
        )
    tomorrow = (timezone.localtime() + dt.timedelta(days=1)).date()

    # The resident asks for a haircut at home tomorrow at ten.
    _login(page, base, "resident")
    page.click("nav.mainnav >> text=我要求助")
    page.click("label.type-choice:has-text('理发')")
    page.fill("#id_date", tomorrow.isoformat())
    page.fill("#id_time", "10:00")
    page.fill("#id_description", "上门理发，老人行动不便")
    _shot(page, "publish")
    page.click("#need-submit")
    page.wait_for_selector("#need-state")
    assert page.locator("#need-state").inner_text() == "待审核"
    need_url = page.url
    _shot(page, "published")

    # The building manager approves it and offers it to the volunteer from the suggestions.
    manager = phone()
    _login(manager, base, "building_manager")
    manager.goto(f"{base}/needs/review/")
    manager.click("#review-queue a")
    manager.check("input[name=decision][value=approve]")
    manager.click("#review-submit")
    manager.wait_for_selector("#suggestions")
    assert manager.locator("#need-state").inner_text() == "已通过"
    suggestion = manager.locator("ol.suggestions li").first.inner_text()
    assert cast.volunteer.name in suggestion
    manager.check(f"#volunteer-{cast.volunteer.pk}")
    _shot(manager, "suggestions")
    manager.click("#offer-submit")
    manager.wait_for_selector(".msg-success")
    assert manager.locator("#need-state").inner_text() == "待接单"

    # The volunteer accepts from 我的邀请, checks in and out.
    volunteer = phone()
    _login(volunteer, base, "volunteer")
    volunteer.click("nav.mainnav >> text=我的邀请")
    invitation = volunteer.locator("#invitations li").first
    assert "1号楼" in invitation.inner_text() and "理发" in invitation.inner_text()
    _shot(volunteer, "invitations")
    invitation.locator("button.accept").click()
    volunteer.wait_for_selector("#check-in")
    assert volunteer.locator("#need-state").inner_text() == "已接单"
    volunteer.click("#check-in")
    volunteer.wait_for_selector("#check-out")
    assert volunteer.locator("#need-state").inner_text() == "服务中"
    volunteer.click("#check-out")
    volunteer.wait_for_selector("#checked-out")
    _shot(volunteer, "checked-out")

    # The resident confirms and gives five stars.
    page.goto(need_url)
    assert cast.volunteer.name in page.locator("#need-volunteer").inner_text()
    page.click("#confirm")
    page.wait_for_selector("#rate-form")
    assert page.locator("#need-state").inner_text() == "已完成"
    page.check("input[name=stars][value='5']")
    page.fill("#id_comment", "师傅手艺好，很耐心")
    _shot(page, "rate")
    page.click("#rate-submit")
    page.wait_for_selector("#need-rating")
    assert page.locator("#need-state").inner_text() == "已评价"
    assert "★★★★★" in page.locator("#need-rating").inner_text()
    _shot(page, "rated")

    # The volunteer's 我的积分 shows the hour served.
    volunteer.click("nav.mainnav >> text=我的积分")
    assert volunteer.locator("#balance").inner_text() == "1.00"
    assert "+1.00" in volunteer.locator("#statement tbody tr").first.inner_text()
    _shot(volunteer, "my-points")

    # Large-text mode still fits the phone.
    page.goto(need_url)
    page.click("button[title='大字模式']")
    page.wait_for_load_state()
    _shot(page, "large-text")
