"""Property tests of the matching core (issue 5, acceptance 2): for random needs and volunteers,
no suggestion — ranked or batch — ever breaks a hard constraint, the reasons carry exactly the
facts used in the score, ranking is sorted and deterministic, a batch plan never exceeds a
capacity or double-books, and it is never worse than greedy nearest-first."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

from django.utils import timezone, translation
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.needs.matching import (
    Candidate,
    CandidatePool,
    NeedSpec,
    Suggestion,
    Weights,
    assign_batch,
    distance_m,
    eligible,
    greedy_nearest_first,
    rank,
    score,
    violations,
)
from huzhu.needs.matching.arrays import PairTable
from huzhu.needs.matching.rules import windows_overlap
from huzhu.needs.matching.score import (
    combine,
    continuity_component,
    fairness_component,
    proximity,
    rating_component,
    reliability_component,
    smoothed_rating,
)
from huzhu.needs.tests.test_matching_batch import assert_valid
from huzhu.needs.tests.test_matching_rules import at, place

SKILLS = ("理发", "代购", "维修")
CERTS = ("理发", "电工")
LANGS = ("普通话", "上海话")
REQUESTERS = (500, 501, 502)
CAND_IDS = tuple(range(1, 9))

# Windows and availability fall in one busy day so that eligible pairs and clashes are common;
# the permissive value comes first in each sampled_from (hypothesis favours the first).
half_hours = st.integers(min_value=0, max_value=24)


def _moment(k: int) -> Any:
    return at(0, k / 2)


@st.composite
def intervals(draw: st.DrawFn, shortest: int, longest: int) -> tuple[Any, Any]:
    start = draw(half_hours)
    return (_moment(start), _moment(start + draw(st.integers(shortest, longest))))


@st.composite
def needs_st(draw: st.DrawFn, need_id: int) -> NeedSpec:
    start = draw(half_hours)
    lat, lon = place(draw(st.integers(-1_500, 1_500)), draw(st.integers(-1_500, 1_500)))
    return NeedSpec(
        id=need_id,
        type_code="t",
        start=_moment(start),
        end=_moment(start + draw(st.integers(1, 6))),
        lat=lat,
        lon=lon,
        radius_m=draw(st.sampled_from((5_000, 2_500, 5_000, 1_000, 0))),
        skills=draw(st.frozensets(st.sampled_from(SKILLS), max_size=1)),
        certifications=draw(st.sampled_from((frozenset(), frozenset(), frozenset({"理发"})))),
        gender=draw(st.sampled_from((None, None, None, "female", "male"))),
        physical_strength=draw(st.sampled_from((False, False, True))),
        languages=draw(st.sampled_from((frozenset(), frozenset(), frozenset({"上海话"})))),
        requester_id=draw(st.sampled_from((None, *REQUESTERS, 1))),
        declined_by=draw(st.frozensets(st.sampled_from(CAND_IDS), max_size=1)),
        preferred_volunteer_id=draw(st.none() | st.sampled_from(CAND_IDS)),
    )


@st.composite
def cands_st(draw: st.DrawFn, cand_id: int) -> Candidate:
    lat, lon = place(draw(st.integers(-1_500, 1_500)), draw(st.integers(-1_500, 1_500)))
    rating_count = draw(st.integers(0, 50))
    offered = draw(st.integers(0, 30))
    accepted = draw(st.integers(0, offered))
    # Half the volunteers hold everything and are free all day (so eligible pairs, shared
    # volunteers and clashes are common); the others are random in every attribute.
    friendly = draw(st.booleans())
    anything: dict[str, Any] = {}
    if friendly:
        anything = {
            "skills": frozenset(SKILLS),
            "certifications": frozenset(CERTS),
            "strong": True,
            "languages": frozenset(LANGS),
            "availability": [(_moment(0), _moment(48))],
            "status": "active",
            "active_assignments": draw(st.integers(0, 1)),
            "load_limit": draw(st.integers(2, 4)),
        }
    fields: dict[str, Any] = dict(
        id=cand_id,
        name=f"v{cand_id}",
        lat=lat,
        lon=lon,
        skills=draw(st.frozensets(st.sampled_from(SKILLS), min_size=1, max_size=3)),
        certifications=draw(st.frozensets(st.sampled_from(CERTS), max_size=2)),
        gender=draw(st.sampled_from((None, "female", "male"))),
        strong=draw(st.sampled_from((True, False, True))),
        languages=draw(st.frozensets(st.sampled_from(LANGS), min_size=1, max_size=2)),
        availability=draw(st.lists(intervals(6, 40), min_size=1, max_size=3)),
        bookings=draw(st.lists(intervals(1, 4), max_size=2)),
        status=draw(st.sampled_from(("active",) * 6 + ("suspended", "frozen"))),
        active_assignments=draw(st.sampled_from((0, 0, 0, 1, 2))),
        load_limit=draw(st.sampled_from((3, 2, 4, 1, 3, 0))),
        recent_load=draw(st.integers(0, 12)),
        rating_sum=draw(st.integers(rating_count, 5 * rating_count)),
        rating_count=rating_count,
        offered=offered,
        accepted=accepted,
        no_shows=draw(st.integers(0, accepted)),
        served_requesters=draw(
            st.dictionaries(st.sampled_from(REQUESTERS), st.integers(1, 5), max_size=2)
        ),
    )
    fields.update(anything)
    return Candidate(**fields)


@st.composite
def worlds(
    draw: st.DrawFn, max_needs: int = 6, max_cands: int = 8
) -> tuple[list[NeedSpec], list[Candidate]]:
    n = draw(st.integers(1, max_needs))
    ids = draw(st.lists(st.sampled_from(CAND_IDS), min_size=1, max_size=max_cands, unique=True))
    needs = [draw(needs_st(i)) for i in range(1, n + 1)]
    return needs, [draw(cands_st(cid)) for cid in ids]


fairness_st = st.sampled_from((0.0, 0.05, 0.15, 0.5))
PROPS = settings(max_examples=150, deadline=None)


def _half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)) // 1)


def check_facts(need: NeedSpec, cand: Candidate, suggestion: Suggestion, weights: Weights) -> None:
    """Every reason's facts are the candidate's real values, and the components — hence the
    score — are recomputed from those facts alone."""
    facts = {r.code: r.facts for r in suggestion.reasons}
    comps = suggestion.components
    metres = facts["distance"]["metres"]
    assert metres == distance_m(need, cand)
    assert facts["distance"]["radius_m"] == need.radius_m
    assert comps["distance"] == proximity(metres, need.radius_m)  # type: ignore[arg-type]

    rating = facts["rating"]
    assert (rating["rating_sum"], rating["rating_count"]) == (cand.rating_sum, cand.rating_count)
    assert rating["smoothed"] == smoothed_rating(cand.rating_sum, cand.rating_count, weights)
    if cand.rating_count:
        tenths = _half_up(Fraction(cand.rating_sum * 10, cand.rating_count))
        assert rating["average"] == f"{tenths // 10}.{tenths % 10}"
    else:
        assert "average" not in rating
    assert comps["rating"] == rating_component(rating["smoothed"])  # type: ignore[arg-type]

    rel = facts["reliability"]
    assert (rel["offered"], rel["accepted"], rel["no_shows"]) == (
        cand.offered,
        cand.accepted,
        cand.no_shows,
    )
    if cand.offered:
        assert rel["accept_rate_pct"] == _half_up(Fraction(cand.accepted * 100, cand.offered))
    assert comps["reliability"] == reliability_component(
        rel["offered"],  # type: ignore[arg-type]
        rel["accepted"],  # type: ignore[arg-type]
        rel["no_shows"],  # type: ignore[arg-type]
        weights,
    )

    assert facts["fairness"] == {"recent_load": cand.recent_load}
    assert comps["fairness"] == fairness_component(cand.recent_load, weights)

    times = cand.times_served(need.requester_id)
    preferred = need.preferred_volunteer_id == cand.id
    if "continuity" in facts:
        assert facts["continuity"] == {"times_served": times, "preferred": preferred}
        assert times > 0 or preferred
    else:
        assert times == 0 and not preferred
    assert comps["continuity"] == continuity_component(preferred, times, weights)

    if need.certifications:
        assert facts["certification"]["certifications"] == sorted(need.certifications)
        assert need.certifications <= cand.certifications
    available = facts["availability"]
    cover = (available["available_from"], available["available_until"])
    assert cover in [(s.isoformat(), e.isoformat()) for s, e in cand.availability]
    local = timezone.localtime(need.start)
    assert available["weekday"] == local.weekday()

    assert suggestion.score == combine(weights, **comps)
    assert suggestion.cost == weights.total - suggestion.score
    assert (suggestion.need_id, suggestion.candidate_id) == (need.id, cand.id)
    assert all(0.0 <= value <= 1.0 for value in comps.values())
    for language in ("zh-hans", "en"):
        with translation.override(language):
            assert all(reason.text for reason in suggestion.reasons)


@PROPS
@given(worlds(max_needs=3, max_cands=8))
def test_rank_suggests_exactly_the_eligible_sorted_and_deterministic(
    world: tuple[list[NeedSpec], list[Candidate]],
) -> None:
    needs, cands = world
    weights = Weights()
    for need in needs:
        for cand in cands:
            assert eligible(need, cand) == (violations(need, cand) == [])
        ranked = rank(need, cands, weights)
        assert {s.candidate_id for s in ranked} == {c.id for c in cands if eligible(need, c)}
        by_id = {c.id: c for c in cands}
        for suggestion in ranked:
            assert violations(need, by_id[suggestion.candidate_id]) == []
            check_facts(need, by_id[suggestion.candidate_id], suggestion, weights)
        keys = [(-s.score, s.candidate_id) for s in ranked]
        assert keys == sorted(keys)
        assert rank(need, list(reversed(cands)), weights) == ranked
        assert rank(need, cands, weights, limit=2) == ranked[:2]


@PROPS
@given(worlds(), fairness_st)
def test_batch_never_breaks_a_rule_and_never_loses_to_greedy(
    world: tuple[list[NeedSpec], list[Candidate]], fairness: float
) -> None:
    needs, cands = world
    weights = Weights()
    plan = assign_batch(needs, cands, weights, fairness)
    greedy = greedy_nearest_first(needs, cands, weights, fairness)
    raw = assign_batch(needs, cands, weights, fairness, fallback=False)
    for candidate_plan in (plan, greedy, raw):
        assert_valid(candidate_plan, needs, cands)
    assert plan.at_least_as_good_as(greedy)
    if not raw.repaired:
        assert raw == plan
    by_id = {c.id: c for c in cands}
    need_by_id = {n.id: n for n in needs}
    for need_id, assignment in plan.assignments.items():
        cand = by_id[assignment.candidate_id]
        check_facts(need_by_id[need_id], cand, assignment.suggestion, weights)
        assert assignment.fairness_cost == fairness * (cand.active_assignments + assignment.slot)
    if plan.assignments:
        assert plan.spread.max_per_volunteer >= 1
        assert plan.spread.used <= plan.spread.pool


def _brute_force(
    needs: list[NeedSpec], cands: list[Candidate], weights: Weights, fairness: float
) -> tuple[int, float]:
    """The best feasible plan by enumeration: most needs placed, then least cost."""
    options = [[None, *[c for c in cands if eligible(n, c)]] for n in needs]
    best = (0, 0.0)
    for choice in itertools.product(*options):
        given: dict[int, list[NeedSpec]] = {}
        total = 0.0
        for need, cand in zip(needs, choice, strict=True):
            if cand is not None:
                given.setdefault(cand.id, []).append(need)
                total += score(need, cand, weights).cost
        by_id = {c.id: c for c in cands}
        ok = True
        for cid, got in given.items():
            if len(got) > by_id[cid].capacity or any(
                windows_overlap(a, b) for a, b in itertools.combinations(got, 2)
            ):
                ok = False
                break
            active = by_id[cid].active_assignments
            total += sum(fairness * (active + k) for k in range(len(got)))
        if not ok:
            continue
        count = sum(1 for cand in choice if cand is not None)
        if count > best[0] or (count == best[0] and total < best[1]):
            best = (count, total)
    return best


@PROPS
@given(worlds(max_needs=4, max_cands=3), fairness_st)
def test_batch_is_optimal_when_no_repair_was_needed(
    world: tuple[list[NeedSpec], list[Candidate]], fairness: float
) -> None:
    needs, cands = world
    weights = Weights()
    plan = assign_batch(needs, cands, weights, fairness)
    best_count, best_cost = _brute_force(needs, cands, weights, fairness)
    assert plan.assigned_count <= best_count
    if not plan.repaired:
        assert plan.assigned_count == best_count
        assert plan.total_cost <= best_cost + 1e-9


@PROPS
@given(worlds(max_needs=5, max_cands=8))
def test_vectorised_table_equals_the_scalar_rules(
    world: tuple[list[NeedSpec], list[Candidate]],
) -> None:
    needs, cands = world
    weights = Weights()
    table = PairTable(needs, cands, weights)
    searched = CandidatePool(cands)
    searched.padded = None  # the binary-search path used for candidates with many intervals
    other = PairTable(needs, searched, weights)
    assert other.rows.tolist() == table.rows.tolist()
    assert other.cols.tolist() == table.cols.tolist()
    got = {
        (int(i), int(j)): (int(m), float(c))
        for i, j, m, c in zip(table.rows, table.cols, table.metres, table.cost, strict=True)
    }
    expected = {
        (i, j): (distance_m(need, cand), score(need, cand, weights).cost)
        for i, need in enumerate(needs)
        for j, cand in enumerate(table.candidates)
        if eligible(need, cand)
    }
    assert got.keys() == expected.keys()
    for key, (metres, cost) in got.items():
        assert metres == expected[key][0]
        assert abs(cost - expected[key][1]) <= 1e-12
