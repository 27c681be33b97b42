"""The vectorised batch path against a straightforward scalar reference (ARCHITECTURE.md P2).

The fast path (latitude bands, per-value columns, array-built reasons, vectorised plan) must give
exactly the plan the plain version gives: the same pairs and costs to the last bit, the same
slots, fairness costs, total, load spread and unassigned needs, and every assignment's
suggestion equal to :func:`score` of its pair (score, components and reasons). The reference
below is that plain version: every pair through the scalar rules and scorer, greedy by sorting,
the plan assembled pair by pair, summed in the documented order.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.needs.matching import (
    Candidate,
    CandidatePool,
    NeedSpec,
    Weights,
    assign_batch,
    distance_m,
    eligible,
    greedy_nearest_first,
    score,
    synthetic,
)
from huzhu.needs.matching import batch as batch_module
from huzhu.needs.matching.arrays import PairTable
from huzhu.needs.matching.batch import (
    NO_ELIGIBLE,
    TAKEN,
    Assignment,
    LoadSpread,
    Plan,
    PlanReasons,
    Unassigned,
)
from huzhu.needs.matching.rules import covering_interval, windows_overlap
from huzhu.needs.matching.score import smoothed_rating
from huzhu.needs.tests.test_matching_properties import worlds
from huzhu.needs.tests.test_matching_rules import at, make_cand, make_need, place

Pair = tuple[int, int]


def reference_pairs(
    needs: list[NeedSpec], cands: list[Candidate], weights: Weights
) -> dict[Pair, tuple[int, float]]:
    """(need index, candidate index in id order) → (metres, cost), by the scalar rules."""
    ordered = sorted(cands, key=lambda c: c.id)
    return {
        (i, j): (distance_m(need, cand), score(need, cand, weights).cost)
        for i, need in enumerate(needs)
        for j, cand in enumerate(ordered)
        if eligible(need, cand)
    }


def reference_greedy(
    needs: list[NeedSpec], cands: list[Candidate], pairs: dict[Pair, tuple[int, float]]
) -> dict[int, int]:
    """Each need in order takes the nearest free eligible volunteer; ties to the lower id."""
    ordered = sorted(cands, key=lambda c: c.id)
    remaining = [c.capacity for c in ordered]
    given: dict[int, list[int]] = {}
    chosen: dict[int, int] = {}
    options: dict[int, list[tuple[int, int]]] = {}
    for (i, j), (metres, _) in pairs.items():
        options.setdefault(i, []).append((metres, j))
    for i, need in enumerate(needs):
        for _, j in sorted(options.get(i, [])):
            if remaining[j] <= 0:
                continue
            if any(windows_overlap(need, needs[k]) for k in given.get(j, [])):
                continue
            chosen[i] = j
            given.setdefault(j, []).append(i)
            remaining[j] -= 1
            break
    return chosen


def reference_plan(
    needs: list[NeedSpec],
    cands: list[Candidate],
    weights: Weights,
    chosen: dict[int, int],
    method: str,
    passes: int,
    fairness: float,
    repaired: bool,
    pairs: dict[Pair, tuple[int, float]],
) -> Plan:
    """The plan pair by pair with the scalar scorer (the version before the vectorised one);
    ``pairs`` are :func:`reference_pairs`."""
    ordered = sorted(cands, key=lambda c: c.id)
    by_volunteer: dict[int, list[tuple[float, int]]] = {}
    for i, j in sorted(chosen.items()):
        by_volunteer.setdefault(j, []).append((score(needs[i], ordered[j], weights).cost, i))
    assignments: dict[int, Assignment] = {}
    total = 0.0
    for j, items in by_volunteer.items():
        items.sort(key=lambda item: (item[0], needs[item[1]].id))
        for slot, (cost, i) in enumerate(items):
            extra = fairness * (ordered[j].active_assignments + slot)
            assignments[needs[i].id] = Assignment(needs[i].id, ordered[j].id, slot, extra, cost)
            total += cost + extra
    eligible_count = [0] * len(needs)
    for i, _ in pairs:
        eligible_count[i] += 1
    unassigned = tuple(
        Unassigned(
            need.id,
            TAKEN if eligible_count[i] else NO_ELIGIBLE,
            {"eligible": eligible_count[i]},
        )
        for i, need in enumerate(needs)
        if need.id not in assignments
    )
    ordered_assignments = {n.id: assignments[n.id] for n in needs if n.id in assignments}
    pool = sorted({j for (_, j) in pairs})
    counts = np.zeros(len(ordered), dtype=np.int64)
    for j in chosen.values():
        counts[j] += 1
    if pool:
        x = np.sort(counts[pool]).astype(np.float64)
        size, whole = len(x), float(x.sum())
        gini = 0.0
        if whole > 0:
            ranks = np.arange(1, size + 1, dtype=np.float64)
            gini = float(2.0 * (ranks * x).sum() / (size * whole) - (size + 1) / size)
        spread = LoadSpread(size, int((x > 0).sum()), int(x.max()), float(x.std()), max(0.0, gini))
    else:
        spread = LoadSpread(0, 0, 0, 0.0, 0.0)
    return Plan(method, ordered_assignments, unassigned, total, spread, passes, repaired)


def reference_assign(
    needs: list[NeedSpec],
    cands: list[Candidate],
    weights: Weights,
    fairness: float,
    pairs: dict[Pair, tuple[int, float]],
    *,
    fallback: bool = True,
) -> Plan:
    """``assign_batch`` with the reference table, greedy and plan; the solver itself (and the
    quick comparison of two mappings) is shared, the table it reads is checked equal above."""
    table = PairTable(needs, cands, weights)
    chosen, passes, repaired = batch_module._solve(table, fairness)
    if repaired and fallback:
        greedy = reference_greedy(needs, cands, pairs)
        quick = batch_module._quick_value
        if quick(table, greedy, fairness) < quick(table, chosen, fairness):
            return reference_plan(needs, cands, weights, greedy, "greedy", 1, fairness, True, pairs)
    return reference_plan(
        needs, cands, weights, chosen, "assignment", passes, fairness, repaired, pairs
    )


def assert_same_plan(got: Plan, expected: Plan, needs: list[Any], cands: list[Any]) -> None:
    assert got == expected
    assert got.total_cost == expected.total_cost  # to the last bit, not approximately
    for a, b in zip(got.assignments.values(), expected.assignments.values(), strict=True):
        assert (a.pair_cost, a.fairness_cost, a.cost) == (b.pair_cost, b.fairness_cost, b.cost)
    need_by_id = {n.id: n for n in needs}
    cand_by_id = {c.id: c for c in cands}
    suggestions = got.suggestions()
    assert list(suggestions) == list(got.assignments)
    for need_id, a in got.assignments.items():
        # the lazily built suggestion is exactly the scalar scorer's: numbers and reasons
        assert suggestions[need_id] == score(need_by_id[need_id], cand_by_id[a.candidate_id])
        assert a.suggestion.cost == a.pair_cost


def assert_table_matches_scalar(
    table: PairTable, weights: Weights, expected: dict[Pair, tuple[int, float]] | None = None
) -> None:
    needs, ordered = table.needs, table.candidates
    if expected is None:
        expected = reference_pairs(needs, ordered, weights)
    got = list(zip(table.rows.tolist(), table.cols.tolist(), strict=True))
    assert got == sorted(expected)  # same pairs, rows then columns ascending
    assert table.metres.tolist() == [expected[p][0] for p in got]
    assert table.cost.tolist() == [expected[p][1] for p in got]  # bit for bit
    for k, (i, j) in enumerate(got):
        need, cand = needs[i], ordered[j]
        s = score(need, cand, weights)
        assert table.score[k] == s.score
        assert {name: float(c[k]) for name, c in table.components.items()} == s.components
        assert table.smoothed[k] == smoothed_rating(cand.rating_sum, cand.rating_count, weights)
        assert table.times[k] == cand.times_served(need.requester_id)
        assert bool(table.preferred[k]) == (need.preferred_volunteer_id == cand.id)


# (needs, volunteers, seed, fairness): plain solves, repaired ones, one where greedy wins the
# fallback (60/40/19), one with two passes (80/60/47) and the benchmark's own size.
CASES = [
    (40, 300, 3, 0.15),
    (40, 300, 7, 0.0),
    (40, 300, 11, 0.0),
    (60, 40, 19, 0.15),
    (80, 60, 47, 0.15),
    (120, 400, 9, 0.5),
    (200, 2_000, 1, 0.15),
]


@pytest.mark.parametrize(("n", "m", "seed", "fairness"), CASES)
def test_plans_equal_the_scalar_reference(n: int, m: int, seed: int, fairness: float) -> None:
    needs, cands = synthetic(n, m, seed)
    weights = Weights()
    pool = CandidatePool(cands)
    pairs = reference_pairs(needs, cands, weights)
    table = PairTable(needs, pool, weights)
    assert_table_matches_scalar(table, weights, pairs)
    chosen = reference_greedy(needs, cands, pairs)
    assert batch_module._greedy(table) == chosen

    plan = assign_batch(needs, pool, weights, fairness)
    assert_same_plan(plan, reference_assign(needs, cands, weights, fairness, pairs), needs, cands)
    raw = assign_batch(needs, pool, weights, fairness, fallback=False)
    expected_raw = reference_assign(needs, cands, weights, fairness, pairs, fallback=False)
    assert_same_plan(raw, expected_raw, needs, cands)
    greedy = greedy_nearest_first(needs, pool, weights, fairness)
    expected = reference_plan(needs, cands, weights, chosen, "greedy", 1, fairness, False, pairs)
    assert_same_plan(greedy, expected, needs, cands)


def test_the_cases_cover_the_paths() -> None:
    """The cases above reach a repair, a second pass and the greedy fallback."""
    plans = {(n, m, s): assign_batch(*synthetic(n, m, s), fairness=f) for n, m, s, f in CASES[2:5]}
    assert plans[(40, 300, 11)].repaired
    assert plans[(60, 40, 19)].method == "greedy"
    raw = assign_batch(*synthetic(80, 60, 47), fairness=0.15, fallback=False)
    assert raw.passes == 2


# Needs and volunteers spread over ±8 km with radii up to 6 km, many volunteers due north or
# south of the centre at about a radius away: on the edge of a latitude band and of the radius.
EDGES = (500, 501, 502, 2_500, 2_501, 2_502, 6_000, 6_001, 6_002)
far_st = st.integers(-8_000, 8_000) | st.sampled_from(EDGES + tuple(-e for e in EDGES))


@st.composite
def spread_worlds(draw: st.DrawFn) -> tuple[list[NeedSpec], list[Candidate]]:
    needs = []
    for i in range(1, draw(st.integers(1, 4)) + 1):
        radius = draw(st.sampled_from((0, 1, 500, 2_500, 6_000)))
        north = draw(st.sampled_from((0, radius, radius + 1, -radius, -radius - 1)))
        lat, lon = place(north, draw(st.sampled_from((0, 1, 300))))
        needs.append(make_need(id=i, lat=lat, lon=lon, radius_m=radius, skills=frozenset()))
    cands = []
    for cid in draw(st.lists(st.integers(10, 40), min_size=1, max_size=8, unique=True)):
        lat, lon = place(draw(far_st), draw(st.sampled_from((0, 1)) | far_st))
        cands.append(make_cand(id=cid, lat=lat, lon=lon))
    return needs, cands


@settings(max_examples=150, deadline=None)
@given(spread_worlds())
def test_latitude_bands_drop_no_pair(world: tuple[list[NeedSpec], list[Candidate]]) -> None:
    needs, cands = world
    weights = Weights()
    assert_table_matches_scalar(PairTable(needs, cands, weights), weights)


@settings(max_examples=60, deadline=None)
@given(worlds(max_needs=5, max_cands=8))
def test_availability_cover_equals_the_scalar_one(
    world: tuple[list[NeedSpec], list[Candidate]],
) -> None:
    needs, cands = world
    for need in needs:
        for cand in cands:
            found = batch_module._cover(cand, *need.window_us)
            assert found == covering_interval(need, cand)


def test_reasons_are_built_on_first_use_and_kept() -> None:
    needs = [make_need(id=1), make_need(id=2, start=at(2, 10), end=at(2, 11))]
    plan = assign_batch(needs, [make_cand(id=10), make_cand(id=11)])
    source = plan.assignments[1].reasons_source
    assert isinstance(source, PlanReasons)
    assert source._built == {}  # making the plan built no reasons
    first = plan.assignments[1].suggestion
    assert plan.assignments[1].suggestion is first
    assert set(source._built) == {1}
    assert plan.assignments[1].reasons == first.reasons
    assert plan.suggestions() == {1: first, 2: plan.assignments[2].suggestion}
    bare = Assignment(1, 10, 0, 0.0, first.cost)
    assert bare == plan.assignments[1]  # reasons are not part of an assignment's identity
    with pytest.raises(ValueError, match="reasons"):
        _ = bare.suggestion


def test_a_stored_plan_keeps_its_reasons_without_the_table() -> None:
    needs, cands = synthetic(30, 120, 5)
    plan = assign_batch(needs, cands)
    assert plan.assignments
    copy = pickle.loads(pickle.dumps(plan))  # noqa: S301 - bytes made just above
    assert copy == plan
    assert copy.suggestions() == plan.suggestions()
    assert b"PairTable" not in pickle.dumps(plan)
