"""Scoring and ranking (DOMAIN.md "Match": distance, fairness — spread load —, reliability,
continuity — the same volunteer for a recurring need —, each with the reason it was suggested).

Each component is normalised to 0..1 by a small pure function below; the batch path applies the
same formulas to arrays in the same order of operations, so a pair's cost is the same number in
both. Every :class:`Reason` carries exactly the facts that went into its component.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import tzinfo

from django.utils import timezone

from huzhu.needs.matching.model import (
    DEFAULT_WEIGHTS,
    Candidate,
    Interval,
    NeedSpec,
    Reason,
    Suggestion,
    Weights,
)
from huzhu.needs.matching.rules import covering_interval, distance_m, eligible_metres

# --- the components (0..1, higher is better) ----------------------------------------------


def proximity(metres: int, radius_m: int) -> float:
    """1 at the door, 0 at the edge of the need's radius (linear)."""
    if radius_m <= 0:
        return 1.0 if metres <= 0 else 0.0
    return max(0.0, 1.0 - metres / radius_m)


def smoothed_rating(rating_sum: int, rating_count: int, weights: Weights) -> float:
    """Bayesian average in stars: the prior counts as ``rating_prior_weight`` ratings."""
    prior = weights.rating_prior_mean * weights.rating_prior_weight
    return (prior + rating_sum) / (weights.rating_prior_weight + rating_count)


def rating_component(smoothed: float) -> float:
    return min(1.0, max(0.0, (smoothed - 1.0) / 4.0))


def reliability_component(offered: int, accepted: int, no_shows: int, weights: Weights) -> float:
    """Smoothed accept rate, reduced by the share of accepted services not shown up for."""
    prior = weights.accept_prior_rate * weights.accept_prior_weight
    rate = (accepted + prior) / (offered + weights.accept_prior_weight)
    miss = min(1.0, no_shows / (accepted + weights.accept_prior_weight))
    return min(1.0, max(0.0, rate * (1.0 - miss)))


def fairness_component(recent_load: int, weights: Weights) -> float:
    return 1.0 / (1.0 + recent_load / weights.fairness_scale)


def continuity_component(preferred: bool, times_served: int, weights: Weights) -> float:
    if preferred:
        return 1.0
    return min(times_served, weights.continuity_saturation) / weights.continuity_saturation


def combine(
    weights: Weights,
    distance: float,
    rating: float,
    reliability: float,
    fairness: float,
    continuity: float,
) -> float:
    """The score: the weighted sum, always in this order (the batch path relies on it)."""
    return (
        weights.distance * distance
        + weights.rating * rating
        + weights.reliability * reliability
        + weights.fairness * fairness
        + weights.continuity * continuity
    )


# --- display helpers (integers in, exact) --------------------------------------------------


def average_tenths(rating_sum: int, rating_count: int) -> int:
    """Average stars in tenths, rounded half up, from integer sum and count (48 → 4.8★)."""
    return (rating_sum * 20 + rating_count) // (2 * rating_count)


def percent(part: int, whole: int) -> int:
    """``part / whole`` as a whole percentage, rounded half up."""
    return (part * 200 + whole) // (2 * whole)


def part_of_day(hour: int) -> str:
    if hour < 6:
        return "night"
    if hour < 12:
        return "morning"
    if hour < 18:
        return "afternoon"
    return "evening"


# --- suggestions ---------------------------------------------------------------------------


def _value(need: NeedSpec, cand: Candidate, weights: Weights, metres: int) -> float:
    return combine(
        weights,
        proximity(metres, need.radius_m),
        rating_component(smoothed_rating(cand.rating_sum, cand.rating_count, weights)),
        reliability_component(cand.offered, cand.accepted, cand.no_shows, weights),
        fairness_component(cand.recent_load, weights),
        continuity_component(
            need.preferred_volunteer_id == cand.id, cand.times_served(need.requester_id), weights
        ),
    )


def _availability_reason(need: NeedSpec, cover: Interval, tz: tzinfo | None = None) -> Reason:
    local = need.start.astimezone(tz or timezone.get_current_timezone())
    return Reason(
        "availability",
        {
            "weekday": local.weekday(),
            "part": part_of_day(local.hour),
            "available_from": cover[0].isoformat(),
            "available_until": cover[1].isoformat(),
        },
    )


def explain(
    need: NeedSpec,
    cand: Candidate,
    metres: int,
    smoothed: float,
    times: int,
    preferred: bool,
    cover: Interval | None,
    tz: tzinfo | None = None,
) -> tuple[Reason, ...]:
    """The reasons of one pair, from the facts its score was computed from: the distance in
    whole metres, the smoothed rating, the times ``cand`` served the requester, whether it is
    the preferred volunteer and the availability interval the window fits in (``None``: no
    availability reason). ``tz`` is the time zone of the availability reason (default: the
    current one). :func:`score` and the batch plan both explain through here."""
    reasons = [Reason("distance", {"metres": metres, "radius_m": need.radius_m})]
    if need.certifications:
        reasons.append(Reason("certification", {"certifications": sorted(need.certifications)}))
    if need.skills:
        skills = need.skills - need.certifications if need.certifications else need.skills
        if skills:
            reasons.append(Reason("skill", {"skills": sorted(skills)}))
    if cover is not None:
        reasons.append(_availability_reason(need, cover, tz))
    rating_facts: dict[str, object] = {
        "rating_sum": cand.rating_sum,
        "rating_count": cand.rating_count,
        "smoothed": smoothed,
    }
    if cand.rating_count:
        tenths = average_tenths(cand.rating_sum, cand.rating_count)
        rating_facts["average"] = f"{tenths // 10}.{tenths % 10}"
    reasons.append(Reason("rating", rating_facts))
    if preferred or times:
        reasons.append(Reason("continuity", {"times_served": times, "preferred": preferred}))
    reasons.append(
        Reason(
            "reliability",
            {
                "offered": cand.offered,
                "accepted": cand.accepted,
                "no_shows": cand.no_shows,
                "accept_rate_pct": percent(cand.accepted, cand.offered) if cand.offered else 0,
            },
        )
    )
    reasons.append(Reason("fairness", {"recent_load": cand.recent_load}))
    return tuple(reasons)


def score(need: NeedSpec, cand: Candidate, weights: Weights = DEFAULT_WEIGHTS) -> Suggestion:
    """Score one pair and explain it. Meant for eligible candidates (see ``rules``); for an
    ineligible one the numbers are still computed but there is no availability reason."""
    metres = distance_m(need, cand)
    smoothed = smoothed_rating(cand.rating_sum, cand.rating_count, weights)
    preferred = need.preferred_volunteer_id == cand.id
    times = cand.times_served(need.requester_id)
    components = {
        "distance": proximity(metres, need.radius_m),
        "rating": rating_component(smoothed),
        "reliability": reliability_component(cand.offered, cand.accepted, cand.no_shows, weights),
        "fairness": fairness_component(cand.recent_load, weights),
        "continuity": continuity_component(preferred, times, weights),
    }
    value = combine(weights, **components)
    cover = covering_interval(need, cand)
    return Suggestion(
        need_id=need.id,
        candidate_id=cand.id,
        candidate_name=cand.name,
        score=value,
        cost=weights.total - value,
        components=components,
        reasons=explain(need, cand, metres, smoothed, times, preferred, cover),
    )


def rank(
    need: NeedSpec,
    candidates: Iterable[Candidate],
    weights: Weights = DEFAULT_WEIGHTS,
    limit: int = 50,
) -> list[Suggestion]:
    """The ``limit`` best eligible candidates, best first; equal scores go by candidate id.

    Only a number is computed per candidate; reasons are built for the ``limit`` kept ones.
    """
    if limit <= 0:
        return []
    keyed: list[tuple[float, int, Candidate]] = []
    for cand in candidates:
        metres = eligible_metres(need, cand)
        if metres is not None:
            keyed.append((-_value(need, cand, weights, metres), cand.id, cand))
    best = heapq.nsmallest(limit, keyed, key=lambda item: (item[0], item[1]))
    return [score(need, cand, weights) for _, _, cand in best]
