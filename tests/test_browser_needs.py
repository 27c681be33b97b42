"""The service loop in a real browser on phones (issue 5, acceptance 1): the resident publishes
a need, the building manager approves it and offers it to a volunteer ticked among the
suggestions, the volunteer accepts, checks in, uploads a photo and writes in the tracking
thread (跟踪群), checks out; the resident sees the photo and the message, confirms and rates
five stars, and the volunteer sees the credit in 我的积分. Then the hold path: a need paid with
points holds the resident's points when the volunteer accepts, and pays them to the volunteer
when the resident confirms. Screenshots go to OUT."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from conftest import PASSWORD, ROLE_PHONES
from tests.test_browser import OUT, PHONE, browser, page, phone, pytestmark

__all__ = ["browser", "page", "phone", "pytestmark"]


# A 1×1 PNG: the photo the volunteer takes of the service.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


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

    # At the door the volunteer uploads a photo and writes in the tracking thread.
    volunteer.set_input_files(
        "#evidence_file", files=[{"name": "photo.png", "mimeType": "image/png", "buffer": PNG}]
    )
    volunteer.click("#evidence-submit")
    volunteer.wait_for_selector("img.evidence-thumb")
    assert "服务凭证已上传。" in volunteer.locator(".msg-success").inner_text()
    volunteer.fill("#thread_body", "阿姨您好，我已到门口")
    volunteer.click("#message-submit")
    volunteer.wait_for_selector("ol.thread li")
    assert "阿姨您好，我已到门口" in volunteer.locator("#thread").inner_text()
    _shot(volunteer, "evidence-thread")
    volunteer.click("#check-out")
    volunteer.wait_for_selector("#checked-out")
    _shot(volunteer, "checked-out")

    # The resident sees the photo and the message, and answers.
    page.goto(need_url)
    assert cast.volunteer.name in page.locator("#need-volunteer").inner_text()
    thumb = page.locator("img.evidence-thumb").first
    thumb.scroll_into_view_if_needed()
    # (no wait_for_function: its string predicate is an eval, which the CSP forbids)
    for _ in range(100):
        if thumb.evaluate("img => img.complete"):
            break
        page.wait_for_timeout(100)
    assert thumb.evaluate("img => img.naturalWidth") == 1
    assert "阿姨您好，我已到门口" in page.locator("#thread").inner_text()
    assert "志愿者" in page.locator("ol.thread li").first.inner_text()
    assert page.locator("#evidence-form").count() == 0
    page.fill("#thread_body", "好的，谢谢")
    page.click("#message-submit")
    page.wait_for_selector("ol.thread li:nth-child(2)")
    _shot(page, "thread")

    # The resident confirms and gives five stars.
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


def test_paid_with_points_the_hold_from_accept_to_settled(
    live_server: Any, cast: Any, world: Any, page: Any, phone: Any
) -> None:
    """Paid with points: the publish form says what will be held and what the resident has;
    the points are held when the volunteer accepts (the need's page and 我的积分 show it) and
    paid to the volunteer, with the hour served, when the resident confirms."""
    from huzhu.needs import actions
    from huzhu.needs.models import Assignment, Need, NeedType
    from huzhu.needs.tests.support import give_points

    OUT.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    NeedType.objects.get_or_create(code="haircut", defaults={"name": "理发", "name_en": "Haircut"})
    give_points(cast.resident, world, 5, "browser-seed")
    tomorrow = (timezone.localtime() + dt.timedelta(days=1)).date()

    # The resident asks for a haircut paid with 2 of their 5 points.
    _login(page, base, "resident")
    page.click("nav.mainnav >> text=我要求助")
    assert "您现在可用的积分：5.00" in page.locator("#field-points").inner_text()
    page.click("label.type-choice:has-text('理发')")
    page.fill("#id_date", tomorrow.isoformat())
    page.fill("#id_time", "10:00")
    page.fill("#id_description", "上门理发，用积分支付")
    page.check("#id_pay_with_points")
    page.fill("#id_points", "2")
    _shot(page, "publish-points")
    page.click("#need-submit")
    page.wait_for_selector("#need-hold")
    assert page.locator("#need-points").inner_text() == "2.00"
    assert page.locator("#need-hold").get_attribute("data-state") == "none"
    need_url = page.url

    # The building manager approves and offers it to the volunteer (as the first test does
    # through the pages).
    need = Need.objects.get(description="上门理发，用积分支付")
    actions.review_need(actor=cast.building_manager, need=need, approve=True)
    actions.offer_need(actor=cast.building_manager, need=need, volunteers=[cast.volunteer])
    assignment = Assignment.objects.get(need=need)

    # The volunteer accepts: 2 points of the resident's are held.
    volunteer = phone()
    _login(volunteer, base, "volunteer")
    volunteer.goto(f"{base}/needs/{need.pk}/")
    volunteer.click("#accept")
    volunteer.wait_for_selector("#check-in")
    page.goto(need_url)
    assert page.locator("#need-hold").get_attribute("data-state") == "held"
    assert "2.00 分 · 已冻结" in page.locator("#need-hold").inner_text()
    assert "您的可用积分：3.00" in page.locator("#need-hold").inner_text()
    _shot(page, "hold-held")
    page.click("nav.mainnav >> text=我的积分")
    assert page.locator("#balance").inner_text() == "5.00"
    assert page.locator("#held").inner_text() == "2.00"
    assert page.locator("#available").inner_text() == "3.00"

    # The volunteer serves; the resident confirms: the hold is paid to the volunteer.
    volunteer.click("#check-in")
    volunteer.wait_for_selector("#check-out")
    volunteer.click("#check-out")
    volunteer.wait_for_selector("#checked-out")
    page.goto(need_url)
    page.click("#confirm")
    page.wait_for_selector("#rate-form")
    assert page.locator("#need-hold").get_attribute("data-state") == "settled"
    assert "已支付给志愿者" in page.locator("#need-hold").inner_text()
    _shot(page, "hold-settled")
    page.click("nav.mainnav >> text=我的积分")
    assert page.locator("#balance").inner_text() == "3.00"
    assert page.locator("#held").inner_text() == "0.00"
    assignment.refresh_from_db()

    # The volunteer has the 2 points paid and the hour served.
    volunteer.click("nav.mainnav >> text=我的积分")
    assert volunteer.locator("#balance").inner_text() == "3.00"
    _shot(volunteer, "hold-credited")
