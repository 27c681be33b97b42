"""The hard constraints of matching, in one place (DOMAIN.md "Match": skill tags, distance,
availability, constraints; issue 5: status, double booking, load limit, declined).

A candidate that violates any of these is never suggested, never offered and never put in a batch
plan. The vectorised batch path (:mod:`huzhu.needs.matching.batch`) implements the same rules on
arrays; its tests check it against :func:`violations`.
"""

from __future__ import annotations

import math

from huzhu.needs.matching.model import ACTIVE, Candidate, Interval, NeedSpec

EARTH_RADIUS_M = 6_371_008.8

STATUS = "status"
REQUESTER = "requester"
DECLINED = "declined"
SKILL = "skill"
CERTIFICATION = "certification"
GENDER = "gender"
STRENGTH = "strength"
LANGUAGE = "language"
LOAD_LIMIT = "load_limit"
AVAILABILITY = "availability"
DOUBLE_BOOKING = "double_booking"
DISTANCE = "distance"

#: Every violation code, in the order :func:`violations` reports them.
CODES = (
    STATUS,
    REQUESTER,
    DECLINED,
    SKILL,
    CERTIFICATION,
    GENDER,
    STRENGTH,
    LANGUAGE,
    LOAD_LIMIT,
    AVAILABILITY,
    DOUBLE_BOOKING,
    DISTANCE,
)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (spherical Earth, mean radius)."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def distance_m(need: NeedSpec, cand: Candidate) -> int:
    """Distance from the volunteer to the need's place in whole metres; the radius rule and the
    distance reason both use this integer."""
    return round(haversine_m(need.lat, need.lon, cand.lat, cand.lon))


def covering_interval(need: NeedSpec, cand: Candidate) -> Interval | None:
    """The availability interval the need's whole window fits in, if any."""
    for start, end in cand.availability:
        if start > need.start:
            return None
        if need.end <= end:
            return (start, end)
    return None


def overlaps_booking(need: NeedSpec, cand: Candidate) -> bool:
    """Whether the need's window overlaps one of the volunteer's bookings (half-open)."""
    return any(start < need.end and need.start < end for start, end in cand.bookings)


def windows_overlap(a: NeedSpec, b: NeedSpec) -> bool:
    """Two needs that one volunteer cannot both serve (their windows overlap)."""
    return a.start < b.end and b.start < a.end


def violations(need: NeedSpec, cand: Candidate) -> list[str]:
    """Every hard constraint ``cand`` breaks for ``need``, as codes from :data:`CODES`.

    * status: only ``active`` volunteers (not suspended or frozen — DOMAIN.md sanctions);
    * requester: nobody serves their own need; declined: a volunteer who declined is not asked
      again;
    * skill / certification: all required ones held;
    * gender, strength (physical strength), language (at least one shared) constraints;
    * load_limit: active assignments below the volunteer's limit;
    * availability: the whole window inside one (merged) availability interval;
    * double_booking: the window overlaps no existing booking;
    * distance: at most the need's radius, in whole metres.
    """
    found: list[str] = []
    if cand.status != ACTIVE:
        found.append(STATUS)
    if need.requester_id is not None and cand.id == need.requester_id:
        found.append(REQUESTER)
    if cand.id in need.declined_by:
        found.append(DECLINED)
    if not need.skills <= cand.skills:
        found.append(SKILL)
    if not need.certifications <= cand.certifications:
        found.append(CERTIFICATION)
    if need.gender is not None and cand.gender != need.gender:
        found.append(GENDER)
    if need.physical_strength and not cand.strong:
        found.append(STRENGTH)
    if need.languages and need.languages.isdisjoint(cand.languages):
        found.append(LANGUAGE)
    if cand.active_assignments >= cand.load_limit:
        found.append(LOAD_LIMIT)
    if covering_interval(need, cand) is None:
        found.append(AVAILABILITY)
    if overlaps_booking(need, cand):
        found.append(DOUBLE_BOOKING)
    if distance_m(need, cand) > need.radius_m:
        found.append(DISTANCE)
    return found


def eligible_metres(need: NeedSpec, cand: Candidate) -> int | None:
    """The distance in whole metres when ``cand`` breaks no rule, else ``None``; the cheapest
    and most selective checks come first and the first failure stops it."""
    if not (
        cand.status == ACTIVE
        and need.skills <= cand.skills
        and need.certifications <= cand.certifications
        and (need.gender is None or cand.gender == need.gender)
        and (not need.physical_strength or cand.strong)
        and (not need.languages or not need.languages.isdisjoint(cand.languages))
        and cand.active_assignments < cand.load_limit
        and cand.id not in need.declined_by
        and (need.requester_id is None or cand.id != need.requester_id)
        and covering_interval(need, cand) is not None
        and not overlaps_booking(need, cand)
    ):
        return None
    metres = distance_m(need, cand)
    return metres if metres <= need.radius_m else None


def eligible(need: NeedSpec, cand: Candidate) -> bool:
    """No violation at all (same rules as :func:`violations`, short-circuited)."""
    return eligible_metres(need, cand) is not None
