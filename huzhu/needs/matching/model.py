"""Plain data of the matching core (DOMAIN.md "The core loop", step 3 *Match*).

No ORM here: the queries layer turns rows into these frozen dataclasses, the core turns them into
ranked :class:`Suggestion` objects or a batch :class:`~huzhu.needs.matching.batch.Plan`.
Datetimes are aware; intervals are half-open ``[start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from huzhu.needs.matching.texts import render_reason

Interval = tuple[datetime, datetime]

FEMALE = "female"
MALE = "male"
GENDERS: tuple[str | None, ...] = (None, FEMALE, MALE)

ACTIVE = "active"
SUSPENDED = "suspended"
FROZEN = "frozen"
STATUSES = (ACTIVE, SUSPENDED, FROZEN)


def micros(value: datetime) -> int:
    """Exact microseconds since the epoch (whole seconds from the float, micros from the field)."""
    return math.floor(value.timestamp()) * 1_000_000 + value.microsecond


def _flat_micros(intervals: Sequence[Interval]) -> tuple[int, ...]:
    return tuple(micros(moment) for interval in intervals for moment in interval)


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")


def normalise_intervals(
    intervals: Iterable[Interval], what: str = "interval"
) -> tuple[Interval, ...]:
    """Sort half-open intervals, drop empty ones and merge the ones that overlap or touch.

    Availability ``09:00–12:00`` plus ``12:00–14:00`` therefore means "free 09:00–14:00": the
    rule "the need's window fits inside one availability interval" is checked on this form.
    Merging bookings does not change whether a window overlaps one of them.
    """
    items: list[Interval] = []
    for start, end in intervals:
        _aware(start, what)
        _aware(end, what)
        if end > start:
            items.append((start, end))
    items.sort()
    merged: list[Interval] = []
    for start, end in items:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class NeedSpec:
    """What a need asks for (DOMAIN.md "Publish"): type, window, place and constraints.

    ``skills``/``certifications`` must all be held by the volunteer; ``languages``, when not
    empty, lists the languages the resident can be served in and the volunteer must speak at
    least one of them. ``declined_by`` are volunteers who declined this need (never offered
    again); ``preferred_volunteer_id`` is the continuity wish of a recurring need.
    """

    id: int
    type_code: str
    start: datetime
    end: datetime
    lat: float
    lon: float
    radius_m: int
    skills: frozenset[str] = frozenset()
    certifications: frozenset[str] = frozenset()
    gender: str | None = None
    physical_strength: bool = False
    languages: frozenset[str] = frozenset()
    requester_id: int | None = None
    declined_by: frozenset[int] = frozenset()
    preferred_volunteer_id: int | None = None
    #: The window in epoch microseconds, for the vectorised batch path.
    window_us: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _aware(self.start, "need start")
        _aware(self.end, "need end")
        if self.end <= self.start:
            raise ValueError("need window must end after it starts")
        object.__setattr__(self, "window_us", (micros(self.start), micros(self.end)))
        if self.radius_m < 0:
            raise ValueError("radius_m must not be negative")
        if self.gender not in GENDERS:
            raise ValueError(f"unknown gender constraint {self.gender!r}")

    @property
    def window(self) -> Interval:
        return (self.start, self.end)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A volunteer as the matcher sees them (the supply side of DOMAIN.md "Match").

    Ratings are kept as integer sums and counts (no float storage); averages are computed for
    display and scoring. ``recent_load`` counts services in the last 30 days (fairness),
    ``served_requesters`` maps a requester id to the times this volunteer served them
    (continuity). ``availability`` and ``bookings`` are normalised on construction.
    """

    id: int
    name: str
    lat: float
    lon: float
    skills: frozenset[str] = frozenset()
    certifications: frozenset[str] = frozenset()
    gender: str | None = None
    strong: bool = False
    languages: frozenset[str] = frozenset()
    availability: Sequence[Interval] = ()
    bookings: Sequence[Interval] = ()
    status: str = ACTIVE
    active_assignments: int = 0
    load_limit: int = 3
    recent_load: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    offered: int = 0
    accepted: int = 0
    no_shows: int = 0
    served_requesters: Mapping[int, int] = field(default_factory=dict)
    #: ``availability``/``bookings`` flattened to epoch microseconds ``(s0, e0, s1, e1, …)``,
    #: computed once here for the vectorised batch path.
    availability_us: tuple[int, ...] = field(init=False, repr=False, compare=False)
    bookings_us: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        availability = normalise_intervals(self.availability, "availability")
        bookings = normalise_intervals(self.bookings, "booking")
        object.__setattr__(self, "availability", availability)
        object.__setattr__(self, "bookings", bookings)
        object.__setattr__(self, "availability_us", _flat_micros(availability))
        object.__setattr__(self, "bookings_us", _flat_micros(bookings))
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.gender not in GENDERS:
            raise ValueError(f"unknown gender {self.gender!r}")

    @property
    def capacity(self) -> int:
        """How many more needs this volunteer may take (load limit − active assignments)."""
        return max(0, self.load_limit - self.active_assignments)

    def times_served(self, requester_id: int | None) -> int:
        if requester_id is None:
            return 0
        return self.served_requesters.get(requester_id, 0)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each part of the score counts; every part is normalised to 0..1 first.

    Defaults: distance 0.35, rating 0.20, reliability 0.20, fairness 0.15, continuity 0.10
    (they sum to 1, so a score is in 0..1 and a pair's cost is ``total − score``).

    * rating: Bayesian average ``(prior_mean·prior_weight + sum) / (prior_weight + count)`` so one
      5★ rating (→ 4.17) does not beat forty ratings averaging 4.8★ (→ 4.71); mapped 1★..5★ → 0..1.
    * reliability: smoothed accept rate ``(accepted + accept_prior_rate·accept_prior_weight) /
      (offered + accept_prior_weight)`` times ``1 − no_shows / (accepted + accept_prior_weight)``.
    * fairness: ``1 / (1 + recent_load / fairness_scale)`` — 1 with no recent services, ½ at
      ``fairness_scale`` services in the last 30 days (DOMAIN.md: spread load).
    * continuity: 1 for the preferred volunteer of a recurring need, else
      ``min(times served this requester, continuity_saturation) / continuity_saturation``.
    """

    distance: float = 0.35
    rating: float = 0.20
    reliability: float = 0.20
    fairness: float = 0.15
    continuity: float = 0.10
    rating_prior_mean: float = 4.0
    rating_prior_weight: int = 5
    accept_prior_rate: float = 0.8
    accept_prior_weight: int = 5
    fairness_scale: int = 4
    continuity_saturation: int = 3

    def __post_init__(self) -> None:
        for name in ("distance", "rating", "reliability", "fairness", "continuity"):
            if getattr(self, name) < 0:
                raise ValueError(f"weight {name} must not be negative")
        if self.rating_prior_weight <= 0 or self.accept_prior_weight <= 0:
            raise ValueError("prior weights must be positive")
        if self.fairness_scale <= 0 or self.continuity_saturation <= 0:
            raise ValueError("fairness_scale and continuity_saturation must be positive")

    @property
    def total(self) -> float:
        return self.distance + self.rating + self.reliability + self.fairness + self.continuity


DEFAULT_WEIGHTS = Weights()

COMPONENTS = ("distance", "rating", "reliability", "fairness", "continuity")


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a candidate was suggested: a code and the facts used in the score.

    ``text`` is rendered from the facts in the active language each time it is read, so a
    suggestion computed in a task reads right in the language of whoever looks at it.
    """

    code: str
    facts: Mapping[str, object]

    @property
    def text(self) -> str:
        return render_reason(self.code, self.facts)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A ranked candidate for a need: score (higher is better), the normalised components it
    was made of, the pair's cost for batch assignment (``weights.total − score``) and the
    reasons in words (DOMAIN.md: "each with the reason it was suggested")."""

    need_id: int
    candidate_id: int
    candidate_name: str
    score: float
    cost: float
    components: Mapping[str, float]
    reasons: tuple[Reason, ...]

    @property
    def summary(self) -> str:
        return " · ".join(reason.text for reason in self.reasons)

    def reason(self, code: str) -> Reason | None:
        for item in self.reasons:
            if item.code == code:
                return item
        return None
