"""A manager's (or broker's) own pick is checked against the hard constraints of matching when
the need is offered (``offer_need``): a volunteer without the skill, already booked at that
hour, at the load limit or too far is refused with a message naming the rule; a volunteer
asked outside their weekly slots may still be asked (the offer is a question)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from huzhu.accounts.models import PersonSkill, Skill
from huzhu.core.errors import DomainError
from huzhu.needs import actions
from huzhu.needs.models import Assignment, AssignmentState
from huzhu.needs.tests.support import T0, approved, at, need_type, override, volunteer

pytestmark = pytest.mark.django_db


def _offer(cast: Any, need: Any, person: Any) -> DomainError:
    with pytest.raises(DomainError) as err:
        actions.offer_need(actor=cast.building_manager, need=need, volunteers=[person])
    return err.value


def test_a_pick_without_the_required_skill_is_refused(world: Any, cast: Any) -> None:
    with at(T0):
        skill = Skill.objects.create(code="barber", name="理发", name_en="Barber")
        need_type().skills.add(skill)
        need = approved(cast)
        err = _offer(cast, need, cast.volunteer)
        assert err.code == "needs.volunteer.skill"
        assert str(err.message) == "志愿者Volunteer不具备该需求所需的技能。"
        assert err.details["rules"] == ["skill"]
        assert not Assignment.objects.filter(need=need).exists()
        PersonSkill.objects.create(person=cast.volunteer, skill=skill)
        opened = actions.offer_need(
            actor=cast.building_manager, need=need, volunteers=[cast.volunteer]
        )
        assert [a.volunteer_id for a in opened] == [cast.volunteer.pk]


def test_a_pick_booked_at_that_hour_or_at_the_load_limit_is_refused(world: Any, cast: Any) -> None:
    with at(T0):
        busy = approved(cast)
        actions.offer_need(actor=cast.building_manager, need=busy, volunteers=[cast.volunteer])
        actions.accept_assignment(
            actor=cast.volunteer,
            assignment=Assignment.objects.get(need=busy, state=AssignmentState.OFFERED),
        )
        same_hour = approved(cast)
        err = _offer(cast, same_hour, cast.volunteer)
        assert err.code == "needs.volunteer.double_booking"
        assert "在该时段已有其他服务" in str(err.message)
        override(cast.branch_head, world, "needs.volunteer_load_limit", 1)
        later = approved(cast, starts_in=dt.timedelta(days=2))
        err = _offer(cast, later, cast.volunteer)
        assert err.code == "needs.volunteer.load_limit"
        assert "已达上限" in str(err.message)
        # Another volunteer, free then, is asked; the rules concern only the one who breaks them.
        other = volunteer(world, "李四", phone="13600001111")
        opened = actions.offer_need(actor=cast.building_manager, need=later, volunteers=[other])
        assert len(opened) == 1


def test_a_pick_too_far_away_is_refused(world: Any, cast: Any) -> None:
    with at(T0):
        far = volunteer(world, "远方", phone="13600002222")
        far.latitude, far.longitude = "31.330000", "121.470000"  # about 11 km north
        far.save()
        need = approved(cast)
        err = _offer(cast, need, far)
        assert err.code == "needs.volunteer.distance"
        assert "超出搜索半径" in str(err.message)


def test_a_pick_outside_the_weekly_slots_may_still_be_asked(world: Any, cast: Any) -> None:
    with at(T0):
        need = approved(cast)  # the cast's volunteer declared no slots at all
        opened = actions.offer_need(
            actor=cast.building_manager, need=need, volunteers=[cast.volunteer]
        )
        assert len(opened) == 1
