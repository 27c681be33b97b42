"""The per-building status board: the next testing session with this building's counts, the
live group buys with their delivery progress, public notices only, who is responsible (masked
phones), the FAQ; the same data through the API; empty states; a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.accounts.models import Household, Person, RoleGrant
from huzhu.helpdesk.models import FAQ
from huzhu.lockdown import actions
from huzhu.lockdown import board as boards
from huzhu.lockdown.actions import testing as ta
from huzhu.lockdown.models import GroupBuyItem
from huzhu.lockdown.tests.support import DEADLINE, T0, at, group_buy, logistics
from huzhu.lockdown.tests.testing_support import populate, session
from huzhu.notify.models import Broadcast

pytestmark = pytest.mark.django_db


def _notice(world: Any, cast: Any, title: str, visibility: str) -> Broadcast:
    return Broadcast.objects.create(
        alliance=world.community.alliance,
        community=world.community,
        author=cast.branch_head,
        title=title,
        body="请各位居民按时下楼。",
        visibility=visibility,
        status="sent",
        sent_at=T0,
    )


def _faq(world: Any, cast: Any, question: str, building: Any = None) -> FAQ:
    faq = FAQ.objects.create(
        community=world.community,
        question=question,
        answer="每天上午九点前。",
        category="团购",
        published_by=cast.branch_head,
        published_at=T0,
        publish_key=question,
    )
    if building is not None:
        faq.buildings.add(building)
    return faq


def test_empty_board(client: Any, world: Any, cast: Any) -> None:
    client.force_login(cast.resident)
    resp = client.get("/lockdown/board/", follow=True)
    page = resp.content.decode()
    assert resp.redirect_chain[-1][0] == f"/lockdown/buildings/{world.building.pk}/board/"
    for section in ("testing", "group-buys", "notices", "faq"):
        assert f'id="board-{section}-empty"' in page


def test_board_shows_each_part(client: Any, world: Any, cast: Any) -> None:
    households = populate(world)
    building = world.building
    ts = session(world, cast, batch_size=2)
    with at(T0 + dt.timedelta(minutes=5)):
        ta.call_next_batch(actor=cast.group_leader, session=ts, key="b1")
        first = next(h for h in households.values() if h.building_id == building.pk)
        ta.check_in(actor=cast.group_leader, session=ts, household_id=first.pk)
    lg = logistics(world, ["物流甲"])
    gb = group_buy(world, cast, logistics_group=lg, key="gb-board")
    veg = GroupBuyItem.objects.get(group_buy=gb, name="蔬菜包")
    with at(T0 + dt.timedelta(hours=1)):
        actions.place_order(
            actor=cast.resident, group_buy=gb, quantities={veg.pk: 1}, key="board-order"
        )
    _notice(world, cast, "明早全员核酸", "public")
    _notice(world, cast, "内部排班表", "internal")
    _faq(world, cast, "团购几点截单？")
    _faq(world, cast, "别的楼的问题", building=world.other_building)
    b = boards.building_board(building, now=T0 + dt.timedelta(hours=2))
    assert [s.session.pk for s in b.sessions] == [ts.pk]
    line = b.sessions[0]
    in_building = sum(1 for h in households.values() if h.building_id == building.pk)
    assert (line.total, line.tested, line.absent) == (in_building, 1, 0)
    assert line.pending == in_building - 1
    assert [(g.group_buy.pk, g.orders, g.delivered) for g in b.group_buys] == [(gb.pk, 1, 0)]
    assert [n.title for n in b.notices] == ["明早全员核酸"]  # never the internal one
    assert [f.question for f in b.faq] == ["团购几点截单？"]  # not another building's
    roles = {(c.role, c.name) for c in b.contacts}
    assert ("楼长", cast.building_manager.name) in roles
    assert ("分会负责人", cast.branch_head.name) in roles
    for c in b.contacts:
        assert "*" in c.masked_phone or c.masked_phone == "—"

    client.force_login(cast.resident)
    with at(T0 + dt.timedelta(hours=2)):
        page = client.get(f"/lockdown/buildings/{building.pk}/board/").content.decode()
        data = client.get(f"/api/v1/lockdown/buildings/{building.pk}/board").json()
    assert "明早全员核酸" in page and "内部排班表" not in page
    assert "接龙中，1 户已下单" in page
    assert cast.building_manager.phone not in page  # masked only
    assert data["sessions"][0]["tested"] == 1 and data["sessions"][0]["households"] == in_building
    assert data["group_buys"][0]["orders"] == 1
    assert [n["title"] for n in data["notices"]] == ["明早全员核酸"]
    assert [f["question"] for f in data["faq"]] == ["团购几点截单？"]
    assert all(cast.building_manager.phone != c["masked_phone"] for c in data["contacts"])


def test_delivery_progress_in_words(world: Any, cast: Any) -> None:
    lg = logistics(world, ["物流甲"])
    gb = group_buy(world, cast, logistics_group=lg, key="gb-deliver")
    veg = GroupBuyItem.objects.get(group_buy=gb, name="蔬菜包")
    with at(T0 + dt.timedelta(hours=1)):
        actions.place_order(actor=cast.resident, group_buy=gb, quantities={veg.pk: 1}, key="o")
    with at(DEADLINE):
        actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
        actions.mark_arrived(actor=cast.group_leader, group_buy=gb)
        actions.assign_deliveries(actor=cast.group_leader, group_buy=gb)
        d = gb.deliveries.get()
        actions.mark_delivered(actor=d.volunteer, delivery=d)
    line = boards.building_board(world.building).group_buys[0]
    assert (line.orders, line.delivered, line.confirmed) == (1, 1, 0)
    assert boards.describe_group_buy(line) == "配送中：已送达 1 / 1 户，已确认 0 户"


def test_closed_and_other_buildings_sessions_are_left_out(world: Any, cast: Any) -> None:
    populate(world)
    ts = session(world, cast, key="closed")
    with at(T0 + dt.timedelta(hours=1)):
        ta.close_session(actor=cast.group_leader, session=ts)
    assert boards.building_board(world.building, now=T0).sessions == []


def test_staff_pick_a_building(client: Any, world: Any, cast: Any, settings: Any) -> None:
    settings.HUZHU_PAGE_SIZE = 1
    client.force_login(cast.branch_head)
    page = client.get("/lockdown/board/").content.decode()
    assert page.count('class="inbox-item building-item"') == 1 and 'rel="next"' in page
    page = client.get("/lockdown/board/", {"q": world.building.name}).content.decode()
    assert f"/lockdown/buildings/{world.building.pk}/board/" in page
    page = client.get("/lockdown/board/", {"q": "不存在的楼"}).content.decode()
    assert 'id="buildings-empty"' in page


def test_board_queries_do_not_grow(world: Any, cast: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            boards.building_board(world.building, now=T0)
        return len(ctx.captured_queries)

    populate(world)
    session(world, cast, key="s1")
    group_buy(world, cast, key="g1")
    _notice(world, cast, "通知一", "public")
    _faq(world, cast, "问题一")
    few = count()
    session(world, cast, key="s2")
    group_buy(world, cast, key="g2")
    _notice(world, cast, "通知二", "public")
    _faq(world, cast, "问题二")
    for i in range(3):
        hh = Household.objects.create(
            community=world.community, building=world.building, room=f"B{i}"
        )
        p = Person(name=f"楼长{i}", community=world.community, household=hh)
        p.set_phone(f"1350000000{i}")
        p.set_unusable_password()
        p.save()
        RoleGrant.objects.create(
            person=p,
            role="building_manager",
            scope_kind="building",
            community=world.community,
            building=world.building,
        )
    assert count() == few
