"""A deterministic, city-scale synthetic world for tests and ``make bench`` (ARCHITECTURE.md P2).

Needs and volunteers lie within ~5 km of a city-centre point; need types are the taxonomy of
DOMAIN.md "Publish" (陪诊, 代购, 维修, 理发, 家政, 心理, 物资 …); availability windows, bookings and
need windows fall in one week. The same ``seed`` always gives the same data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from huzhu.needs.matching.model import (
    ACTIVE,
    FEMALE,
    FROZEN,
    MALE,
    SUSPENDED,
    Candidate,
    Interval,
    NeedSpec,
)

CENTRE = (31.2300, 121.4700)
CITY_RADIUS_M = 5_000
WEEK_START = datetime(2026, 11, 23, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday


@dataclass(frozen=True, slots=True)
class NeedType:
    code: str
    skill: str
    certification: str | None
    radius_m: int
    strong_share: float
    hours: tuple[int, int]


NEED_TYPES = (
    NeedType("escort", "陪诊", None, 4_000, 0.0, (2, 4)),
    NeedType("shopping", "代购", None, 3_000, 0.1, (1, 2)),
    NeedType("repair", "维修", "电工", 5_000, 0.5, (1, 3)),
    NeedType("haircut", "理发", "理发", 3_000, 0.0, (1, 1)),
    NeedType("housework", "家政", None, 3_000, 0.3, (2, 3)),
    NeedType("counselling", "心理", "心理咨询", 5_000, 0.0, (1, 2)),
    NeedType("supplies", "物资", None, 4_000, 0.6, (1, 2)),
    NeedType("meals", "送餐", None, 2_500, 0.0, (1, 1)),
    NeedType("bathing", "助浴", "护理", 3_000, 0.4, (1, 2)),
    NeedType("companion", "陪聊", None, 3_000, 0.0, (1, 3)),
)

RESIDENT_ID_BASE = 1_000_000


def _point(rng: random.Random, radius_m: float) -> tuple[float, float]:
    """A uniform point in a disc around the centre."""
    r = radius_m * math.sqrt(rng.random())
    angle = rng.random() * 2 * math.pi
    lat = CENTRE[0] + (r * math.cos(angle)) / 111_320
    lon = CENTRE[1] + (r * math.sin(angle)) / (111_320 * math.cos(math.radians(CENTRE[0])))
    return lat, lon


def _slot(rng: random.Random, day: int, first_hour: int, last_hour: int, hours: int) -> Interval:
    start = WEEK_START + timedelta(days=day, hours=rng.randint(first_hour, last_hour))
    return (start, start + timedelta(hours=hours))


def synthetic(
    n_needs: int, n_volunteers: int, seed: int = 0
) -> tuple[list[NeedSpec], list[Candidate]]:
    """``n_needs`` pending needs and ``n_volunteers`` volunteers of one city district."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    residents = [RESIDENT_ID_BASE + k for k in range(max(1, n_needs * 3 // 4))]
    candidates: list[Candidate] = []
    for vid in range(1, n_volunteers + 1):
        lat, lon = _point(rng, CITY_RADIUS_M)
        types = rng.sample(NEED_TYPES, rng.choice((1, 1, 2, 2, 3)))
        skills = frozenset(t.skill for t in types)
        certs = frozenset(t.certification for t in types if t.certification and rng.random() < 0.7)
        availability = []
        for day in rng.sample(range(7), rng.randint(2, 5)):
            availability.append(_slot(rng, day, 7, 16, rng.randint(3, 6)))
        bookings = []
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            bookings.append(_slot(rng, rng.randrange(7), 8, 18, rng.randint(1, 2)))
        rating_count = rng.choice((0, 1, 2, 5, 10, 20, 40, 60))
        mean = rng.uniform(3.6, 5.0)
        rating_sum = min(5 * rating_count, max(rating_count, round(mean * rating_count)))
        offered = rng.randint(0, 40)
        accepted = round(offered * rng.uniform(0.4, 1.0))
        served = {}
        if rng.random() < 0.15:
            served[rng.choice(residents)] = rng.randint(1, 6)
        load_limit = rng.choice((2, 3, 3, 4))
        status_roll = rng.random()
        status = ACTIVE if status_roll < 0.95 else (SUSPENDED if status_roll < 0.98 else FROZEN)
        candidates.append(
            Candidate(
                id=vid,
                name=f"志愿者{vid}",
                lat=lat,
                lon=lon,
                skills=skills,
                certifications=certs,
                gender=rng.choice((FEMALE, MALE)),
                strong=rng.random() < 0.45,
                languages=frozenset({"普通话"} | ({"上海话"} if rng.random() < 0.3 else set())),
                availability=availability,
                bookings=bookings,
                status=status,
                active_assignments=rng.choice((0, 0, 0, 1, 1, 2)) % load_limit,
                load_limit=load_limit,
                recent_load=rng.choice((0, 0, 1, 2, 3, 4, 6, 9)),
                rating_sum=rating_sum,
                rating_count=rating_count,
                offered=offered,
                accepted=accepted,
                no_shows=min(accepted, rng.choice((0, 0, 0, 0, 1, 2))),
                served_requesters=served,
            )
        )
    needs: list[NeedSpec] = []
    served_by: dict[int, list[int]] = {}
    for cand in candidates:
        for rid in cand.served_requesters:
            served_by.setdefault(rid, []).append(cand.id)
    for nid in range(1, n_needs + 1):
        kind = rng.choice(NEED_TYPES)
        lat, lon = _point(rng, CITY_RADIUS_M)
        start, end = _slot(rng, rng.randrange(7), 8, 18, rng.randint(*kind.hours))
        requester = rng.choice(residents)
        gender = None
        if kind.code == "bathing" or rng.random() < 0.08:
            gender = rng.choice((FEMALE, MALE))
        preferred = None
        if requester in served_by and rng.random() < 0.5:
            preferred = rng.choice(served_by[requester])
        needs.append(
            NeedSpec(
                id=nid,
                type_code=kind.code,
                start=start,
                end=end,
                lat=lat,
                lon=lon,
                radius_m=kind.radius_m,
                skills=frozenset({kind.skill}),
                certifications=frozenset({kind.certification})
                if kind.certification
                else frozenset(),
                gender=gender,
                physical_strength=rng.random() < kind.strong_share,
                languages=frozenset({"上海话"}) if rng.random() < 0.1 else frozenset(),
                requester_id=requester,
                declined_by=frozenset(rng.sample(range(1, n_volunteers + 1), min(2, n_volunteers)))
                if rng.random() < 0.2 and n_volunteers
                else frozenset(),
                preferred_volunteer_id=preferred,
            )
        )
    return needs, candidates
