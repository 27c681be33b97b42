"""The monthly anonymous leaderboard: published on ``timebank.leaderboard_day`` for the month
before, one per community, building + points of the top 20 service earners, never a name or
an id (issue 4, members)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from huzhu.accounts.models import Household
from huzhu.audit.models import AuditEntry
from huzhu.orgs.models import Building
from huzhu.timebank.actions import members as m
from huzhu.timebank.actions.ledger import credit_service, reverse_transaction
from huzhu.timebank.models import Leaderboard
from huzhu.timebank.tests.test_members import join, make_person, override

pytestmark = pytest.mark.django_db

MARCH = dt.date(2026, 3, 1)


@contextmanager
def on(day: dt.date) -> Iterator[None]:
    with time_machine.travel(dt.datetime.combine(day, dt.time(10, 0), tzinfo=dt.UTC), tick=False):
        yield


def _serve(person: Any, hours: str, key: str, day: dt.date) -> Any:
    with on(day):
        return credit_service(
            actor=None,
            volunteer=person,
            hours=Decimal(hours),
            community=person.community,
            key=key,
        )


@pytest.fixture
def earners(world: Any) -> dict[str, Any]:
    building2 = Building.objects.get(community=world.community, name="2号楼")
    room201 = Household.objects.get(building=building2)
    return {
        "a": make_person(world, "甲", household=world.household),
        "b": make_person(world, "乙", household=room201),
        "c": make_person(world, "丙", household=room201),
        "d": make_person(world, "丁"),  # no household
        "x": make_person(world, "外区", community=world.other_community),
    }


def test_published_on_the_5th_for_last_month(world: Any, earners: dict[str, Any]) -> None:
    _serve(earners["a"], "3", "a1", dt.date(2026, 3, 2))
    _serve(earners["a"], "1", "a2", dt.date(2026, 3, 31))
    _serve(earners["b"], "5", "b1", dt.date(2026, 3, 15))
    _serve(earners["c"], "4", "c1", dt.date(2026, 3, 20))
    _serve(earners["d"], "2", "d1", dt.date(2026, 3, 20))
    _serve(earners["x"], "9", "x1", dt.date(2026, 3, 20))
    _serve(earners["c"], "9", "c-feb", dt.date(2026, 2, 27))  # another month
    _serve(earners["c"], "9", "c-apr", dt.date(2026, 4, 1))  # another month
    with on(dt.date(2026, 4, 4)):
        assert m.run_daily().leaderboards == 0
    with on(dt.date(2026, 4, 5)):
        assert m.run_daily().leaderboards == 2  # both communities
        assert m.run_daily().leaderboards == 0
    board = Leaderboard.objects.get(community=world.community, month=MARCH)
    assert board.rows == [
        {"rank": 1, "building": "2号楼", "points": 500},
        {"rank": 2, "building": "1号楼", "points": 400},
        {"rank": 2, "building": "2号楼", "points": 400},
        {"rank": 4, "building": "", "points": 200},
    ]
    # Nothing that names or identifies a person.
    text = json.dumps(board.rows, ensure_ascii=False)
    for p in earners.values():
        assert p.name not in text
    assert all(set(row) == {"rank", "building", "points"} for row in board.rows)
    other = Leaderboard.objects.get(community=world.other_community, month=MARCH)
    assert other.rows == [{"rank": 1, "building": "", "points": 900}]
    assert AuditEntry.objects.filter(code="timebank.leaderboard.published").count() == 2


def test_only_points_earned_by_service_count(
    cast: Any, world: Any, earners: dict[str, Any]
) -> None:
    with on(dt.date(2026, 3, 3)):
        join(cast.finance_officer, earners["a"], paid_on=dt.date(2026, 3, 3))  # voucher
        code = m.referral_code_for(earners["b"])
        join(
            cast.finance_officer, earners["c"], referral_code=code, paid_on=dt.date(2026, 3, 3)
        )  # reward to b
    tx = _serve(earners["d"], "6", "d1", dt.date(2026, 3, 10))
    with on(dt.date(2026, 3, 10)):
        reverse_transaction(actor=None, transaction=tx, reason="录错", key="rev")
    _serve(earners["a"], "1", "a1", dt.date(2026, 3, 11))
    board = m.publish_leaderboard(community=world.community, month=MARCH)
    assert board.rows == [{"rank": 1, "building": "1号楼", "points": 100}]


def test_top_20_only(world: Any) -> None:
    people = [make_person(world, f"志愿者{i}", household=world.household) for i in range(22)]
    for i, p in enumerate(people):
        _serve(p, str(i + 1), f"s{i}", dt.date(2026, 3, 9))
    board = m.publish_leaderboard(community=world.community, month=dt.date(2026, 3, 17))
    assert board.month == MARCH
    assert len(board.rows) == m.LEADERBOARD_SIZE
    assert [r["rank"] for r in board.rows] == list(range(1, 21))
    assert board.rows[0]["points"] == 2200 and board.rows[-1]["points"] == 300


def test_empty_month_and_one_per_community_and_month(world: Any) -> None:
    first = m.publish_leaderboard(community=world.community, month=MARCH)
    assert first.rows == []
    again = m.publish_leaderboard(community=world.community, month=MARCH)
    assert again.pk == first.pk
    assert Leaderboard.objects.filter(community=world.community).count() == 1


def test_publication_day_is_a_community_setting(world: Any, earners: dict[str, Any]) -> None:
    override(world.community, "timebank.leaderboard_day", 2)
    with on(dt.date(2026, 4, 2)):
        assert m.run_daily().leaderboards == 1
    assert Leaderboard.objects.filter(community=world.community, month=MARCH).exists()
    assert not Leaderboard.objects.filter(community=world.other_community).exists()


def test_a_missed_publication_day_catches_up(world: Any) -> None:
    with on(dt.date(2026, 4, 9)):
        assert m.run_daily().leaderboards == 2
    assert Leaderboard.objects.filter(month=MARCH).count() == 2


def test_points_paid_for_a_service_count_for_the_volunteer(
    world: Any, earners: dict[str, Any]
) -> None:
    from huzhu.timebank.actions.rules import pay_for_service

    _serve(earners["d"], "2", "d-feb", dt.date(2026, 2, 10))  # the payer's points, February
    with on(dt.date(2026, 3, 12)):
        pay_for_service(actor=None, payer=earners["d"], payee=earners["b"], points=150, key="pay")
    board = m.publish_leaderboard(community=world.community, month=MARCH)
    assert board.rows == [{"rank": 1, "building": "2号楼", "points": 150}]
