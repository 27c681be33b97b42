"""Suggestions and automatic offers (issue 5 "Matching"; DOMAIN.md "The core loop" 3. Match):
who may see the ranked list, reasons that say the real facts, a constant number of queries,
a need without a known place, and ``auto_offer`` offering the top n — never a volunteer who
declined."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from huzhu.core.errors import DomainError
from huzhu.needs.models import Assignment, AssignmentState, Need, NeedState, Rating
from huzhu.needs.suggest import auto_offer, ranked, suggest
from huzhu.needs.tests.support import T0, at
from huzhu.needs.tests.test_candidates import Factory, Spec, hold, make_need, other_need

pytestmark = pytest.mark.django_db

A = AssignmentState


def served(world: Any, cast: Any, volunteer: Any, times: int, stars: int | None = None) -> None:
    """``volunteer`` served the resident ``times`` times in the past (rated when ``stars``)."""
    for i in range(times):
        old = other_need(world, cast.resident, T0 - dt.timedelta(days=40 + i))
        hold(world, volunteer, old, state=A.COMPLETED)
        if stars is not None:
            Rating.objects.create(
                need=old,
                community=world.community,
                volunteer=volunteer,
                rated_by=cast.resident,
                stars=stars,
                created_at=old.ends_at,
            )


def test_suggestions_are_ranked_with_reasons_that_say_the_facts(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        need = make_need(cast, "plain")
        regular = f.person(Spec())
        served(world, cast, regular, 2, stars=5)
        newcomer = f.person(Spec(place="own_near"))
        busy = f.person(Spec(booking="overlapping"))
        result = suggest(cast.building_manager, need)
        ids = [s.volunteer_id for s in result]
        assert ids == [regular.pk, newcomer.pk]
        assert busy.pk not in ids
        top = result[0]
        assert "曾服务该居民 2 次" in top.summary
        assert "5.0★（2 条评价）" in top.summary
        assert "0 米" in top.summary  # lives in the need's building
        assert "周二上午有空" in top.summary
        continuity = top.reason("continuity")
        assert continuity is not None and continuity.facts["times_served"] == 2
        second = result[1]
        assert second.reason("continuity") is None
        assert "800 米" in second.summary
        assert "新志愿者，暂无评价" in second.summary
        assert result[0].score > result[1].score


def test_who_may_see_suggestions(world: Any, cast: Any) -> None:
    with at(T0):
        need = make_need(cast, "plain")
        for who in ("building_manager", "broker", "branch_head", "district_admin"):
            assert suggest(cast[who], need) == []
        with pytest.raises(PermissionDenied):
            suggest(cast.volunteer, need)
        with pytest.raises(Http404):
            suggest(cast.outsider, need)


def test_ranking_takes_a_constant_number_of_queries(
    world: Any, cast: Any, django_assert_max_num_queries: Any
) -> None:
    with at(T0):
        f = Factory(world, cast)
        need = make_need(cast, "certified")
        for i in range(25):
            p = f.person(Spec(cert="valid", place="own_near" if i % 2 else "building"))
            if i % 3 == 0:
                served(world, cast, p, 1, stars=4)
        with django_assert_max_num_queries(16):
            result = ranked(need, limit=10)
        assert len(result) == 10
        assert all("haircut" not in s.summary for s in result)  # names, not codes
        assert all("理发 认证" in s.summary for s in result)
        assert all(s.reason("certification") is not None for s in result)


def test_a_need_without_a_place_is_not_ranked_by_distance(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        need = make_need(cast, "no_place")
        near = f.person(Spec())
        nowhere = f.person(Spec(place="nowhere"))
        far = f.person(Spec(place="far"))
        result = ranked(need)
        assert {s.volunteer_id for s in result} == {near.pk, nowhere.pk, far.pk}
        for s in result:
            assert s.reasons[0].code == "distance_unknown"
            assert s.reasons[0].text == "服务地点未知，未按距离排序"
            assert s.reason("distance") is None
            assert s.components["distance"] == 1.0  # the same for everybody


def test_auto_offer_offers_the_top_n_and_never_one_who_declined(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        need = make_need(cast, "plain")
        favourite = f.person(Spec())
        served(world, cast, favourite, 3, stars=5)
        second = f.person(Spec())
        served(world, cast, second, 1, stars=5)
        third = f.person(Spec())
        rest = [f.person(Spec(place="own_near")) for _ in range(3)]
        hold(world, favourite, need, state=A.DECLINED)

        expected = [s.volunteer_id for s in ranked(need)][:2]
        assert expected == [second.pk, third.pk]
        opened = auto_offer(actor=cast.building_manager, need=need, n=2)
        assert [a.volunteer_id for a in opened] == expected
        assert all(a.state == A.OFFERED for a in opened)
        assert any("曾服务该居民 1 次" in text for text in opened[0].reasons)
        need.refresh_from_db()
        assert need.state == NeedState.OFFERED

        # The next round (a job) asks the next ones, still never the one who declined.
        more = auto_offer(actor=None, need=need, n=10)
        assert {a.volunteer_id for a in more} == {p.pk for p in rest}
        assert not Assignment.objects.filter(
            need=need, volunteer=favourite, state=A.OFFERED
        ).exists()
        with pytest.raises(DomainError) as caught:
            auto_offer(actor=None, need=need, n=1)
        assert caught.value.code == "needs.match.nobody"


def test_load_limit_and_offer_count_are_community_settings(world: Any, cast: Any) -> None:
    from huzhu.needs.tests.support import override

    with at(T0):
        f = Factory(world, cast)
        need = make_need(cast, "plain")
        loaded = f.person(Spec())
        hold(world, loaded, other_need(world, cast.resident, T0 + dt.timedelta(days=3)))
        free = [f.person(Spec()) for _ in range(3)]
        assert loaded.pk in [s.volunteer_id for s in ranked(need)]  # 1 of 3 (DOMAIN default)
        override(cast.branch_head, world, "needs.volunteer_load_limit", 1)
        assert loaded.pk not in [s.volunteer_id for s in ranked(need)]
        override(cast.branch_head, world, "needs.auto_offer_count", 2)
        opened = auto_offer(actor=cast.building_manager, need=need)
        assert len(opened) == 2
        assert {a.volunteer_id for a in opened} <= {p.pk for p in free}


def test_auto_offer_checks_the_actor(world: Any, cast: Any) -> None:
    with at(T0):
        f = Factory(world, cast)
        need = make_need(cast, "plain")
        f.person(Spec())
        with pytest.raises(PermissionDenied):
            auto_offer(actor=cast.volunteer, need=need, n=1)
        with pytest.raises(Http404):
            auto_offer(actor=cast.outsider, need=need, n=1)
        with pytest.raises(DomainError):
            auto_offer(actor=cast.building_manager, need=need, n=0)
        assert not Assignment.objects.filter(need=need).exists()
        assert Need.objects.get(pk=need.pk).state == NeedState.APPROVED
