"""Hard constraints of matching, one example per rule (DOMAIN.md "Match"; issue 5 "Matching").

The builders here (``at``, ``place``, ``make_need``, ``make_cand``) are shared by the other
``test_matching_*`` modules.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from huzhu.needs.matching import CODES, Candidate, NeedSpec, distance_m, eligible, violations
from huzhu.needs.matching.model import normalise_intervals
from huzhu.needs.matching.rules import haversine_m

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, tzinfo=TZ)
CENTRE = (31.23, 121.47)


def at(day: int, hour: float) -> datetime:
    """``day`` days after Monday 23 Nov 2026 (Shanghai), at ``hour`` (fractions are minutes)."""
    return MONDAY + timedelta(days=day, minutes=round(hour * 60))


def place(north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    lat = CENTRE[0] + north_m / 111_195.08
    lon = CENTRE[1] + east_m / (111_195.08 * math.cos(math.radians(CENTRE[0])))
    return lat, lon


def make_need(**overrides: Any) -> NeedSpec:
    """A haircut at the centre on Wednesday 09:00–10:00 within 3 km, by resident 500."""
    values: dict[str, Any] = {
        "id": 1,
        "type_code": "haircut",
        "start": at(2, 9),
        "end": at(2, 10),
        "lat": CENTRE[0],
        "lon": CENTRE[1],
        "radius_m": 3_000,
        "skills": frozenset({"理发"}),
        "certifications": frozenset({"理发"}),
        "requester_id": 500,
    }
    values.update(overrides)
    return NeedSpec(**values)


def make_cand(**overrides: Any) -> Candidate:
    """A certified barber 1.2 km north, free Wednesday 08:00–12:00, with a good record."""
    lat, lon = place(1_200)
    values: dict[str, Any] = {
        "id": 10,
        "name": "王师傅",
        "lat": lat,
        "lon": lon,
        "skills": frozenset({"理发", "代购"}),
        "certifications": frozenset({"理发"}),
        "gender": "male",
        "strong": True,
        "languages": frozenset({"普通话"}),
        "availability": [(at(2, 8), at(2, 12))],
        "rating_sum": 192,
        "rating_count": 40,
        "offered": 20,
        "accepted": 18,
        "recent_load": 3,
        "served_requesters": {500: 2},
    }
    values.update(overrides)
    return Candidate(**values)


def test_the_baseline_pair_is_eligible() -> None:
    assert violations(make_need(), make_cand()) == []
    assert eligible(make_need(), make_cand())


@pytest.mark.parametrize(
    ("need_changes", "cand_changes", "code"),
    [
        ({}, {"status": "suspended"}, "status"),
        ({}, {"status": "frozen"}, "status"),
        ({"requester_id": 10}, {}, "requester"),
        ({"declined_by": frozenset({10})}, {}, "declined"),
        ({"skills": frozenset({"理发", "维修"})}, {}, "skill"),
        ({}, {"skills": frozenset({"代购"})}, "skill"),
        ({"certifications": frozenset({"理发", "电工"})}, {}, "certification"),
        ({"gender": "female"}, {}, "gender"),
        ({"gender": "male"}, {"gender": None}, "gender"),
        ({"physical_strength": True}, {"strong": False}, "strength"),
        ({"languages": frozenset({"上海话"})}, {}, "language"),
        ({}, {"active_assignments": 3, "load_limit": 3}, "load_limit"),
        ({}, {"load_limit": 0}, "load_limit"),
        ({"start": at(2, 11), "end": at(2, 13)}, {}, "availability"),
        ({"start": at(3, 9), "end": at(3, 10)}, {}, "availability"),
        ({}, {"availability": []}, "availability"),
        ({}, {"bookings": [(at(2, 9.5), at(2, 11))]}, "double_booking"),
        ({}, {"bookings": [(at(2, 8), at(2, 9.25))]}, "double_booking"),
        ({"radius_m": 1_000}, {}, "distance"),
    ],
)
def test_each_rule_alone(
    need_changes: dict[str, Any], cand_changes: dict[str, Any], code: str
) -> None:
    need, cand = make_need(**need_changes), make_cand(**cand_changes)
    assert violations(need, cand) == [code]
    assert not eligible(need, cand)


@pytest.mark.parametrize(
    ("need_changes", "cand_changes"),
    [
        ({"gender": "male"}, {}),
        ({"physical_strength": True}, {}),
        ({"languages": frozenset({"上海话", "普通话"})}, {}),
        ({"languages": frozenset({"上海话"})}, {"languages": frozenset({"普通话", "上海话"})}),
        ({}, {"active_assignments": 2, "load_limit": 3}),
        ({"start": at(2, 8), "end": at(2, 12)}, {}),  # exactly the availability interval
        ({}, {"bookings": [(at(2, 8), at(2, 9))]}),  # ends as the need starts
        ({}, {"bookings": [(at(2, 10), at(2, 11))]}),  # starts as the need ends
        ({"requester_id": None}, {}),
        ({"skills": frozenset(), "certifications": frozenset()}, {}),
    ],
)
def test_boundaries_that_are_allowed(
    need_changes: dict[str, Any], cand_changes: dict[str, Any]
) -> None:
    assert violations(make_need(**need_changes), make_cand(**cand_changes)) == []


def test_availability_intervals_that_touch_are_merged() -> None:
    need = make_need(start=at(2, 11), end=at(2, 13))
    split = make_cand(availability=[(at(2, 12), at(2, 14)), (at(2, 8), at(2, 12))])
    assert split.availability == ((at(2, 8), at(2, 14)),)
    assert violations(need, split) == []
    gap = make_cand(availability=[(at(2, 8), at(2, 12)), (at(2, 12.5), at(2, 14))])
    assert violations(need, gap) == ["availability"]


def test_normalise_intervals_sorts_merges_and_drops_empty() -> None:
    result = normalise_intervals(
        [(at(1, 10), at(1, 12)), (at(1, 9), at(1, 9)), (at(1, 11), at(1, 13)), (at(0, 1), at(0, 2))]
    )
    assert result == ((at(0, 1), at(0, 2)), (at(1, 10), at(1, 13)))


def test_distance_is_whole_metres_and_radius_is_inclusive() -> None:
    cand = make_cand()
    metres = distance_m(make_need(), cand)
    assert isinstance(metres, int)
    assert 1_195 <= metres <= 1_205
    assert violations(make_need(radius_m=metres), cand) == []
    assert violations(make_need(radius_m=metres - 1), cand) == ["distance"]


def test_haversine_known_distances() -> None:
    assert haversine_m(31.0, 121.0, 31.0, 121.0) == 0
    # one degree of latitude on the mean-radius sphere
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195.08, abs=0.01)
    # Shanghai People's Square → Beijing Tiananmen, about 1,067 km
    assert haversine_m(31.2304, 121.4737, 39.9087, 116.3975) == pytest.approx(1_067_000, rel=0.01)


def test_several_violations_come_in_code_order() -> None:
    need = make_need(gender="female", radius_m=10, declined_by=frozenset({10}))
    cand = make_cand(status="frozen", skills=frozenset(), availability=[])
    found = violations(need, cand)
    assert found == ["status", "declined", "skill", "gender", "availability", "distance"]
    assert found == [code for code in CODES if code in found]


def test_inputs_are_validated() -> None:
    naive = datetime(2026, 11, 25, 9)
    with pytest.raises(ValueError, match="aware"):
        make_need(start=naive)
    with pytest.raises(ValueError, match="end after"):
        make_need(start=at(2, 10), end=at(2, 10))
    with pytest.raises(ValueError, match="radius"):
        make_need(radius_m=-1)
    with pytest.raises(ValueError, match="gender"):
        make_need(gender="other")
    with pytest.raises(ValueError, match="status"):
        make_cand(status="retired")
    with pytest.raises(ValueError, match="aware"):
        make_cand(availability=[(naive, naive + timedelta(hours=1))])


def test_capacity_and_times_served() -> None:
    cand = make_cand(active_assignments=1, load_limit=3)
    assert cand.capacity == 2
    assert make_cand(active_assignments=5, load_limit=3).capacity == 0
    assert cand.times_served(500) == 2
    assert cand.times_served(501) == 0
    assert cand.times_served(None) == 0
