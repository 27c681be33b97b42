"""Batch assignment (issue 5 "Batch mode", ARCHITECTURE.md P2): minimum cost with a fairness
term, capacity, no double booking, never worse than greedy nearest-first."""

from __future__ import annotations

import pytest

from huzhu.needs.matching import (
    CandidatePool,
    Plan,
    Weights,
    assign_batch,
    distance_m,
    eligible,
    greedy_nearest_first,
    score,
    synthetic,
)
from huzhu.needs.matching import arrays as arrays_module
from huzhu.needs.matching.arrays import PairTable
from huzhu.needs.matching.rules import windows_overlap
from huzhu.needs.tests.test_matching_rules import at, make_cand, make_need, place


def assert_valid(plan: Plan, needs: list, cands: list) -> None:  # type: ignore[type-arg]
    """No hard constraint broken, no capacity exceeded, nobody double-booked."""
    by_id = {c.id: c for c in cands}
    need_by_id = {n.id: n for n in needs}
    given: dict[int, list] = {}  # type: ignore[type-arg]
    for need_id, assignment in plan.assignments.items():
        need, cand = need_by_id[need_id], by_id[assignment.candidate_id]
        assert eligible(need, cand)
        given.setdefault(cand.id, []).append(need)
    for cid, got in given.items():
        assert len(got) <= by_id[cid].capacity
        for a in got:
            for b in got:
                assert a is b or not windows_overlap(a, b)
    assert set(plan.assignments) | {u.need_id for u in plan.unassigned} == set(need_by_id)
    assert not set(plan.assignments) & {u.need_id for u in plan.unassigned}
    assert plan.total_cost == pytest.approx(sum(a.cost for a in plan.assignments.values()))


def test_assignment_places_more_needs_than_greedy() -> None:
    # Need 1 comes first; greedy gives it the only volunteer need 2 could use.
    n1 = make_need(id=1, skills=frozenset(), certifications=frozenset())
    n2 = make_need(id=2)
    near = make_cand(id=10, lat=place(100)[0], lon=place(100)[1], load_limit=1)
    other_lat, other_lon = place(900)
    generalist = make_cand(id=11, lat=other_lat, lon=other_lon, skills=frozenset({"代购"}))
    greedy = greedy_nearest_first([n1, n2], [near, generalist])
    plan = assign_batch([n1, n2], [near, generalist])
    assert {k: a.candidate_id for k, a in greedy.assignments.items()} == {1: 10}
    assert [(u.need_id, u.code) for u in greedy.unassigned] == [(2, "taken")]
    assert {k: a.candidate_id for k, a in plan.assignments.items()} == {1: 11, 2: 10}
    assert plan.at_least_as_good_as(greedy)
    assert not greedy.at_least_as_good_as(plan)
    assert_valid(plan, [n1, n2], [near, generalist])


def test_capacity_is_load_limit_minus_active_assignments() -> None:
    needs = [make_need(id=i, start=at(2, 8 + i), end=at(2, 8.5 + i)) for i in range(3)]
    busy = make_cand(id=10, active_assignments=2, load_limit=3)
    plan = assign_batch(needs, [busy])
    assert plan.assigned_count == 1
    assert [u.code for u in plan.unassigned] == ["taken", "taken"]
    assert plan.unassigned[0].text == "符合条件的 1 位志愿者都已排满或时间冲突"
    roomy = make_cand(id=10, active_assignments=0, load_limit=3)
    assert assign_batch(needs, [roomy], fairness=0).assigned_count == 3


def test_overlapping_needs_are_never_given_to_one_volunteer() -> None:
    first = make_need(id=1, start=at(2, 9), end=at(2, 10))
    second = make_need(id=2, start=at(2, 9.5), end=at(2, 10.5))
    near = make_cand(id=10, availability=[(at(2, 8), at(2, 12))])
    plan = assign_batch([first, second], [near], fairness=0)
    assert plan.assigned_count == 1
    assert plan.repaired
    assert_valid(plan, [first, second], [near])
    far_lat, far_lon = place(2_500)
    backup = make_cand(id=11, lat=far_lat, lon=far_lon)
    plan = assign_batch([first, second], [near, backup], fairness=0)
    assert plan.assigned_count == 2
    assert {a.candidate_id for a in plan.assignments.values()} == {10, 11}
    assert_valid(plan, [first, second], [near, backup])


def test_fairness_term_spreads_the_load() -> None:
    needs = [make_need(id=1, start=at(2, 8), end=at(2, 9)), make_need(id=2)]
    near = make_cand(id=10, recent_load=0, served_requesters={})
    lat, lon = place(1_400)
    bit_farther = make_cand(id=11, lat=lat, lon=lon, recent_load=0, served_requesters={})
    piled = assign_batch(needs, [near, bit_farther], fairness=0.0)
    assert {a.candidate_id for a in piled.assignments.values()} == {10}
    assert piled.spread.max_per_volunteer == 2
    spread = assign_batch(needs, [near, bit_farther], fairness=0.15)
    assert {a.candidate_id for a in spread.assignments.values()} == {10, 11}
    assert spread.spread.max_per_volunteer == 1
    assert spread.spread.gini == 0.0
    assert piled.spread.gini == pytest.approx(0.5)


def test_second_need_on_a_volunteer_pays_the_fairness_slot() -> None:
    needs = [make_need(id=1, start=at(2, 8), end=at(2, 9)), make_need(id=2)]
    cand = make_cand(id=10, active_assignments=1, load_limit=4)
    plan = assign_batch(needs, [cand], fairness=0.2)
    slots = sorted((a.slot, a.fairness_cost) for a in plan.assignments.values())
    assert slots[0] == (0, pytest.approx(0.2))  # one active assignment already
    assert slots[1] == (1, pytest.approx(0.4))
    expected = sum(score(n, cand).cost for n in needs) + 0.6
    assert plan.total_cost == pytest.approx(expected)


def test_unassigned_reasons() -> None:
    nobody = make_need(id=1, skills=frozenset({"心理"}), certifications=frozenset({"心理咨询"}))
    plan = assign_batch([nobody], [make_cand()])
    assert [(u.need_id, u.code, dict(u.facts)) for u in plan.unassigned] == [
        (1, "no_eligible", {"eligible": 0})
    ]
    assert plan.unassigned[0].text == "没有符合条件的志愿者"
    assert plan.assigned_count == 0
    assert plan.total_cost == 0.0
    assert plan.cost_per_assigned == 0.0


def test_empty_inputs_and_duplicates() -> None:
    assert assign_batch([], [make_cand()]).assigned_count == 0
    plan = assign_batch([make_need()], [])
    assert [u.code for u in plan.unassigned] == ["no_eligible"]
    with pytest.raises(ValueError, match="need ids"):
        assign_batch([make_need(id=1), make_need(id=1)], [make_cand()])
    with pytest.raises(ValueError, match="candidate ids"):
        assign_batch([make_need()], [make_cand(id=3), make_cand(id=3)])
    with pytest.raises(ValueError, match="fairness"):
        assign_batch([make_need()], [make_cand()], fairness=-1)


def test_assignments_carry_their_reasons() -> None:
    plan = assign_batch([make_need()], [make_cand()])
    assignment = plan.assignments[1]
    assert assignment.suggestion.summary.startswith("1.2 公里 · 理发 认证 · 周三上午有空")
    assert assignment.cost == assignment.suggestion.cost + assignment.fairness_cost


@pytest.mark.parametrize(("seed", "padded"), [(3, True), (7, True), (3, False)])
def test_vectorised_rules_and_costs_match_the_scalar_ones(seed: int, padded: bool) -> None:
    needs, cands = synthetic(40, 300, seed)
    pool = CandidatePool(cands)
    assert pool.padded is not None
    if not padded:
        pool.padded = None  # the binary-search path for candidates with many intervals
    table = PairTable(needs, pool, Weights())
    got = {
        (int(i), int(j)): (int(m), float(c))
        for i, j, m, c in zip(table.rows, table.cols, table.metres, table.cost, strict=True)
    }
    expected = {}
    for i, need in enumerate(needs):
        for j, cand in enumerate(table.candidates):
            if eligible(need, cand):
                expected[(i, j)] = (distance_m(need, cand), score(need, cand).cost)
    assert got.keys() == expected.keys()
    assert len(got) >= 30
    for key, (metres, cost) in got.items():
        assert metres == expected[key][0]
        assert cost == expected[key][1]  # bit for bit: plans are costed with these


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_city_scale_plan_is_well_below_greedy(seed: int) -> None:
    """ARCHITECTURE.md P2 on the benchmark's data (no timing here: that is `make bench`)."""
    needs, cands = synthetic(200, 2_000, seed)
    pool = CandidatePool(cands)
    plan = assign_batch(needs, pool)
    greedy = greedy_nearest_first(needs, pool)
    assert_valid(plan, needs, cands)
    assert_valid(greedy, needs, cands)
    assert plan.at_least_as_good_as(greedy)
    assert plan.assigned_count >= greedy.assigned_count
    assert plan.cost_per_assigned <= 0.9 * greedy.cost_per_assigned
    assert plan.spread.max_per_volunteer <= greedy.spread.max_per_volunteer
    assert plan.spread.stdev <= greedy.spread.stdev
    assert assign_batch(needs, cands) == plan  # a prepared pool changes nothing


def test_many_intervals_use_the_search_path() -> None:
    many = [(at(day, 8), at(day, 9)) for day in range(6)] + [(at(2, 8), at(2, 12))]
    cands = [make_cand(id=10, availability=many), make_cand(id=11, bookings=many[:5])]
    monkeypatched = arrays_module.PAD_LIMIT
    try:
        arrays_module.PAD_LIMIT = 2
        pool = CandidatePool(cands)
    finally:
        arrays_module.PAD_LIMIT = monkeypatched
    assert pool.padded is None
    needs = [
        make_need(id=1, start=at(2, 8.5), end=at(2, 9.5)),  # 11 is booked Wed 8–9
        make_need(id=2, start=at(3, 8), end=at(3, 8.5)),  # only 10 is free on Thursday
        make_need(id=3, start=at(2, 10), end=at(2, 11)),
    ]
    table = PairTable(needs, pool, Weights())
    expected = [
        (i, j) for i, n in enumerate(needs) for j, c in enumerate(pool.candidates) if eligible(n, c)
    ]
    assert list(zip(table.rows.tolist(), table.cols.tolist(), strict=True)) == expected
    assert expected == [(0, 0), (1, 0), (2, 0), (2, 1)]


def test_synthetic_is_deterministic() -> None:
    assert synthetic(20, 50, 9) == synthetic(20, 50, 9)
    assert synthetic(20, 50, 9) != synthetic(20, 50, 10)
