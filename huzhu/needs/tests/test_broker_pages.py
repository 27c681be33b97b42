"""The broker's workspace through the pages (DOMAIN.md roles: 社会公益经纪人 "enters needs for
people who cannot, picks the best match from the suggestions, arranges recurring services"):
finding a resident of the area, entering a need for them (recorded as on their behalf, a double
submit publishing once), the person then in their care, the ranked volunteers with reasons and
"派给此人", the service made recurring with the same volunteer preferred; search, paging,
masked phones, empty states, 404 outside the area and 403 without the right."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from huzhu.accounts.models import Person
from huzhu.audit.models import AuditEntry
from huzhu.needs import actions
from huzhu.needs.models import Assignment, AssignmentState, Need, NeedState, Recurrence
from huzhu.needs.tests.support import T0, at, need_type
from huzhu.needs.tests.test_batch_plan import crew, free_all_week

pytestmark = pytest.mark.django_db


def _text(resp: Any) -> str:
    return resp.content.decode()


def _form(**over: Any) -> dict[str, Any]:
    data = {
        "need_type": need_type().pk,
        "date": "2026-03-03",
        "time": "10:00",
        "duration": "60",
        "description": "陪同去社区医院复查",
    }
    data.update(over)
    return data


def test_the_whole_broker_flow(client: Client, world: Any, cast: Any) -> None:
    resident = cast.resident
    with at(T0):
        people = crew(world, cast)
        client.force_login(cast.broker)
        home = _text(client.get("/needs/broker/"))
        assert 'href="/needs/broker/"' in home  # the navigation entry
        assert "您还没有代为求助过的居民" in home
        # Find the resident among everyone of the area: masked phone only.
        found = _text(client.get("/needs/broker/", {"scope": "all", "q": "Resident"}))
        assert f'data-person="{resident.pk}"' in found
        assert "138****0001" in found and "13800000001" not in found
        by_phone = _text(client.get("/needs/broker/", {"scope": "all", "q": "13800000001"}))
        assert re.findall(r'data-person="(\d+)"', by_phone) == [str(resident.pk)]
        page = _text(client.get(f"/needs/broker/people/{resident.pk}/"))
        assert "还没有求助记录" in page
        # Enter a need for them; the same form posted twice publishes once.
        form = _text(client.get(f"/needs/broker/people/{resident.pk}/new/"))
        key = re.search(r'name="key" value="([0-9a-f]+)"', form)
        assert key is not None
        for _ in range(2):
            resp = client.post(f"/needs/broker/people/{resident.pk}/new/", _form(key=key[1]))
            assert resp.status_code == 302
            assert resp["Location"] == f"/needs/broker/people/{resident.pk}/"
        need = Need.objects.get()
        assert (need.requester, need.published_by) == (resident, cast.broker)
        assert need.on_behalf and need.state == NeedState.SUBMITTED
        entry = AuditEntry.objects.get(code="needs.need.published")
        assert entry.on_behalf_of_id == resident.pk and entry.actor_id == cast.broker.pk
        # Now in their care.
        care = _text(client.get("/needs/broker/"))
        assert re.findall(r'data-person="(\d+)"', care) == [str(resident.pk)]
        page = _text(client.get(f"/needs/broker/people/{resident.pk}/"))
        assert f'data-need="{need.pk}"' in page and "待审核" in page
        assert f'id="pick-{need.pk}"' not in page  # not reviewed yet
        assert "审核通过后才能选择志愿者" in _text(client.get(f"/needs/broker/needs/{need.pk}/"))
        actions.review_need(actor=cast.building_manager, need=need, approve=True)
        page = _text(client.get(f"/needs/broker/people/{resident.pk}/"))
        assert f'id="pick-{need.pk}"' in page
        # The ranked volunteers with reasons; pick one.
        ranked = _text(client.get(f"/needs/broker/needs/{need.pk}/"))
        ids = [int(i) for i in re.findall(r'<li class="suggestion" data-volunteer="(\d+)"', ranked)]
        assert set(ids) == {p.pk for p in people}
        assert "米" in ranked and "派给此人" in ranked
        chosen = ids[-1]  # the broker may pick another than the first
        resp = client.post(f"/needs/broker/needs/{need.pk}/offer/", {"volunteer": chosen})
        assert resp["Location"] == f"/needs/broker/people/{resident.pk}/"
        a = Assignment.objects.get(need=need)
        assert a.volunteer_id == chosen and a.state == AssignmentState.OFFERED and a.reasons
        assert a.offered_by_id == cast.broker.pk
        # A volunteer not among the suggestions cannot be picked.
        stranger = Person.objects.create(name="陌生人", community=world.community)
        client.post(f"/needs/broker/needs/{need.pk}/offer/", {"volunteer": stranger.pk})
        assert Assignment.objects.filter(need=need).count() == 1
        volunteer = Person.objects.get(pk=chosen)
        actions.accept_assignment(actor=volunteer, assignment=a)
    with at(T0 + dt.timedelta(days=1, hours=3)):
        actions.confirm_need(actor=resident, need=need)
        # Served: make it weekly; the next one is published now with the same volunteer.
        resp = client.post(
            f"/needs/broker/needs/{need.pk}/recurring/", {"recurrence": "weekly"}, follow=True
        )
        assert "下一次" in _text(resp)
        nxt = Need.objects.exclude(pk=need.pk).get()
        assert nxt.starts_at == need.starts_at + dt.timedelta(days=7)
        assert nxt.preferred_volunteer_id == chosen and nxt.series_id == need.pk
        assert nxt.recurrence == Recurrence.WEEKLY and nxt.requester == resident
        assert nxt.state == NeedState.SUBMITTED
        page = _text(client.get(f"/needs/broker/people/{resident.pk}/"))
        assert "每周" in page and f'data-need="{nxt.pk}"' in page
        # Arranged again: nothing new.
        client.post(f"/needs/broker/needs/{need.pk}/recurring/", {"recurrence": "weekly"})
        assert Need.objects.count() == 2
        # An open need made recurring: the next one comes when it is confirmed.
        other = actions.publish_need(
            actor=cast.broker,
            requester=resident,
            need_type=need_type(),
            starts_at=T0 + dt.timedelta(days=3),
            ends_at=T0 + dt.timedelta(days=3, hours=1),
            description="理发",
        )
        resp = client.post(
            f"/needs/broker/needs/{other.pk}/recurring/", {"recurrence": "monthly"}, follow=True
        )
        assert "本次验收后自动发布下一次" in _text(resp)
        other.refresh_from_db()
        assert other.recurrence == Recurrence.MONTHLY
        assert Need.objects.count() == 3
        assert AuditEntry.objects.filter(code="needs.need.recurrence_arranged").count() == 2


def test_errors_on_the_forms(client: Client, world: Any, cast: Any) -> None:
    with at(T0):
        client.force_login(cast.broker)
        url = f"/needs/broker/people/{cast.resident.pk}/new/"
        resp = client.post(url, _form(description="", key="k1"))
        assert resp.status_code == 200 and "请说明需要什么帮助" in _text(resp)
        resp = client.post(url, _form(date="2026-03-01", key="k2"))
        assert "开始时间必须晚于现在" in _text(resp)
        assert not Need.objects.exists()


def test_search_paging_and_constant_queries(client: Client, world: Any, cast: Any) -> None:
    with at(T0):
        client.force_login(cast.broker)
        assert "没有符合条件的居民" in _text(
            client.get("/needs/broker/", {"scope": "all", "q": "无此人"})
        )

        def grow(n: int, base: int) -> None:
            for i in range(n):
                p = Person(name=f"居民{base + i}", community=world.community)
                p.set_phone(f"1350000{base + i:04d}")
                p.save()
                actions.publish_need(
                    actor=cast.broker,
                    requester=p,
                    need_type=need_type(),
                    starts_at=T0 + dt.timedelta(days=1),
                    ends_at=T0 + dt.timedelta(days=1, hours=1),
                    description="代购",
                )

        def count() -> tuple[int, str]:
            with CaptureQueriesContext(connection) as ctx:
                resp = client.get("/needs/broker/")
            assert resp.status_code == 200
            return len(ctx.captured_queries), _text(resp)

        grow(3, 0)
        few, html = count()
        assert len(re.findall(r'class="care-person"', html)) == 3
        grow(30, 100)
        many, html = count()
        assert many == few
        assert len(re.findall(r'class="care-person"', html)) == 25
        assert "第 1 / 2 页" in html
        assert (
            len(re.findall(r'class="care-person"', _text(client.get("/needs/broker/?page=2")))) == 8
        )
        assert re.findall(
            r'data-person="(\d+)"', _text(client.get("/needs/broker/", {"q": "居民105"}))
        ) == [str(Person.objects.get(name="居民105").pk)]


def test_outside_the_area_and_without_the_right(client: Client, world: Any, cast: Any) -> None:
    with at(T0):
        free_all_week(cast.volunteer)
        stranger = Person(name="外区居民", community=world.other_community)
        stranger.set_phone("13700000077")
        stranger.save()
        client.force_login(cast.broker)
        assert client.get(f"/needs/broker/people/{stranger.pk}/").status_code == 404
        assert client.get(f"/needs/broker/people/{stranger.pk}/new/").status_code == 404
        found = _text(client.get("/needs/broker/", {"scope": "all", "q": "外区"}))
        assert "外区居民" not in found
        for who in ("building_manager", "volunteer", "branch_head"):
            client.force_login(cast[who])
            assert client.get("/needs/broker/").status_code == 403
            assert client.get(f"/needs/broker/people/{cast.resident.pk}/").status_code == 403
            assert 'href="/needs/broker/"' not in _text(client.get("/"))
        client.force_login(cast.outsider)
        assert client.get(f"/needs/broker/people/{cast.resident.pk}/").status_code == 404
