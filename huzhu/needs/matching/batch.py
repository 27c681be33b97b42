"""Batch mode (issue 5 "Batch mode"; ARCHITECTURE.md P2): when many needs are pending — a
lockdown morning — assign them together by minimum-cost assignment with a fairness term, and give
the manager a :class:`Plan` to approve.

Model. Volunteer *j* may take ``capacity = load_limit − active_assignments`` needs, never two with
overlapping windows. Giving *j* its *k*-th need of the plan (k = 0, 1, …) costs the pair cost
(``weights.total − score``, see ``score.py``) plus ``fairness · (active_assignments + k)``: each
extra need on the same person costs more (DOMAIN.md "fairness (spread load)"). A plan's total
cost is the sum of these over its assignments.

Solve. Columns of the cost matrix are volunteer slots (a volunteer repeated up to its capacity,
each copy with its slot's fairness cost); ineligible pairs get a cost larger than any whole plan,
so ``scipy.optimize.linear_sum_assignment`` first assigns as many needs as possible, then
minimises cost. Overlapping windows are not expressible in an assignment problem, so a volunteer
given overlapping needs keeps the cheapest non-overlapping ones and the rest are solved again
(with that volunteer barred from windows overlapping what it kept) until nothing changes.
Without such a repair the result is optimal; with one it is compared with the greedy baseline and
the better plan is returned, so a plan is never worse than greedy nearest-first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from huzhu.needs.matching.arrays import BoolArray, CandidatePool, FloatArray, IntArray, PairTable
from huzhu.needs.matching.model import DEFAULT_WEIGHTS, Candidate, NeedSpec, Suggestion, Weights
from huzhu.needs.matching.rules import eligible
from huzhu.needs.matching.score import score
from huzhu.needs.matching.texts import unassigned_text

#: Extra cost of each further need given to the same volunteer (in score units, 0..1 scale).
DEFAULT_FAIRNESS = 0.15

NO_ELIGIBLE = "no_eligible"
TAKEN = "taken"


@dataclass(frozen=True, slots=True)
class Assignment:
    """One need given to one volunteer in a plan, with why (``suggestion.reasons``)."""

    need_id: int
    candidate_id: int
    slot: int
    fairness_cost: float
    suggestion: Suggestion

    @property
    def cost(self) -> float:
        return self.suggestion.cost + self.fairness_cost


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A need the plan could not place: ``no_eligible`` (nobody meets its constraints) or
    ``taken`` (the ``facts['eligible']`` volunteers who do are full or busy then)."""

    need_id: int
    code: str
    facts: Mapping[str, object]

    @property
    def text(self) -> str:
        return unassigned_text(self.code, self.facts)


@dataclass(frozen=True, slots=True)
class LoadSpread:
    """How the plan spreads work over the ``pool`` (volunteers eligible for at least one need):
    how many got work, the most any one got, and the standard deviation and Gini coefficient of
    the number of needs each pool member got (0 = perfectly even)."""

    pool: int
    used: int
    max_per_volunteer: int
    stdev: float
    gini: float


@dataclass(frozen=True, slots=True)
class Plan:
    """A proposed batch assignment for a manager to approve.

    ``method`` is ``"assignment"`` or ``"greedy"`` (the baseline, or the fallback when it beat a
    repaired assignment); ``passes`` counts assignment solves; ``repaired`` says overlapping
    windows had to be repaired, so the assignment is no longer guaranteed optimal.
    """

    method: str
    assignments: Mapping[int, Assignment]
    unassigned: tuple[Unassigned, ...]
    total_cost: float
    spread: LoadSpread
    passes: int
    repaired: bool = False

    @property
    def assigned_count(self) -> int:
        return len(self.assignments)

    @property
    def cost_per_assigned(self) -> float:
        return self.total_cost / self.assigned_count if self.assignments else 0.0

    def at_least_as_good_as(self, other: Plan, tolerance: float = 1e-9) -> bool:
        """More needs placed wins; with as many placed, the lower total cost wins."""
        if self.assigned_count != other.assigned_count:
            return self.assigned_count > other.assigned_count
        return self.total_cost <= other.total_cost + tolerance


def _spread(table: PairTable, chosen: Mapping[int, int]) -> LoadSpread:
    pool = np.unique(table.cols)
    if len(pool) == 0:
        return LoadSpread(0, 0, 0, 0.0, 0.0)
    counts = np.zeros(len(table.candidates), dtype=np.int64)
    for j in chosen.values():
        counts[j] += 1
    x = np.sort(counts[pool]).astype(np.float64)
    total = float(x.sum())
    size = len(x)
    gini = 0.0
    if total > 0:
        ranks = np.arange(1, size + 1, dtype=np.float64)
        gini = float(2.0 * (ranks * x).sum() / (size * total) - (size + 1) / size)
    return LoadSpread(
        pool=size,
        used=int((x > 0).sum()),
        max_per_volunteer=int(x.max()),
        stdev=float(x.std()),
        gini=max(0.0, gini),
    )


def _plan(
    table: PairTable,
    chosen: dict[int, int],
    method: str,
    passes: int,
    fairness: float,
    repaired: bool = False,
) -> Plan:
    """Turn need index → candidate index into a Plan, re-checking every pair with the scalar
    rules and scoring it with the scalar scorer (so reasons and cost come from one place)."""
    by_volunteer: dict[int, list[tuple[float, int, Suggestion]]] = {}
    for i, j in sorted(chosen.items()):
        need, cand = table.needs[i], table.candidates[j]
        if not eligible(need, cand):  # pragma: no cover - float edge between the two paths
            continue
        suggestion = score(need, cand, table.weights)
        by_volunteer.setdefault(j, []).append((suggestion.cost, need.id, suggestion))
    assignments: dict[int, Assignment] = {}
    total = 0.0
    for j, items in by_volunteer.items():
        items.sort(key=lambda item: (item[0], item[1]))
        base = table.candidates[j].active_assignments
        for slot, (_, need_id, suggestion) in enumerate(items):
            extra = fairness * (base + slot)
            assignments[need_id] = Assignment(
                need_id, suggestion.candidate_id, slot, extra, suggestion
            )
            total += suggestion.cost + extra
    placed = {i: j for i, j in chosen.items() if table.needs[i].id in assignments}
    counts = table.eligible_count()
    unassigned = tuple(
        Unassigned(need.id, TAKEN if counts[i] else NO_ELIGIBLE, {"eligible": int(counts[i])})
        for i, need in enumerate(table.needs)
        if need.id not in assignments
    )
    ordered = {need.id: assignments[need.id] for need in table.needs if need.id in assignments}
    return Plan(method, ordered, unassigned, total, _spread(table, placed), passes, repaired)


def _keep_non_overlapping(
    table: PairTable, got_i: IntArray, got_j: IntArray, got_cost: FloatArray
) -> tuple[BoolArray, bool]:
    """Which new assignments to keep: all of a volunteer's single new need; of several, the
    cheapest ones whose windows do not overlap. Also says whether anything was dropped."""
    counts = np.bincount(got_j, minlength=len(table.candidates))
    several = counts[got_j] > 1
    keep = ~several
    dropped = False
    if several.any():
        groups: dict[int, list[tuple[float, int, int]]] = {}
        for t in np.flatnonzero(several).tolist():
            groups.setdefault(int(got_j[t]), []).append((float(got_cost[t]), int(got_i[t]), t))
        for items in groups.values():
            items.sort()
            kept: list[int] = []
            for _, i, t in items:
                if any(table.overlap[i, other] for other in kept):
                    dropped = True
                    continue
                kept.append(i)
                keep[t] = True
    return keep, dropped


def _solve(table: PairTable, fairness: float) -> tuple[dict[int, int], int, bool]:
    """Min-cost assignment over volunteer slots, repaired for overlapping windows.

    Returns need index → candidate index, the number of passes and whether a repair happened.
    """
    n, m = len(table.needs), len(table.candidates)
    rows, cols, cost = table.rows, table.cols, table.cost
    remaining = table.capacity.copy()
    taken = np.zeros(m, dtype=np.int64)
    blocked: BoolArray | None = None  # needs a volunteer may no longer take (built on repair)
    pending = np.zeros(n, dtype=bool)
    pending[rows] = True
    chosen = np.full(n, -1, dtype=np.int64)
    passes = 0
    repaired = False
    while True:
        sel = pending[rows] & (remaining[cols] > 0)
        if blocked is not None:
            sel &= ~blocked[rows, cols]
        if not sel.any():
            break
        passes += 1
        p_rows, p_cols, p_cost = rows[sel], cols[sel], cost[sel]
        # one column per volunteer slot; slot k costs fairness · (active + taken + k) more
        vols, inverse = np.unique(p_cols, return_inverse=True)
        slots = np.minimum(remaining[vols], np.bincount(inverse))
        col_start = np.cumsum(slots) - slots
        need_ids, row_local = np.unique(p_rows, return_inverse=True)
        reps = slots[inverse]
        pair_of = np.repeat(np.arange(len(p_rows)), reps)
        k = np.arange(len(pair_of)) - np.repeat(np.cumsum(reps) - reps, reps)
        owner = p_cols[pair_of]
        entry = p_cost[pair_of] + fairness * (table.active[owner] + taken[owner] + k)
        # larger than any whole plan: the solver places as many needs as it can, then saves cost
        forbidden = (float(entry.max()) + 1.0) * (len(need_ids) + 1)
        matrix = np.full((len(need_ids), int(slots.sum())), forbidden)
        matrix[row_local[pair_of], col_start[inverse[pair_of]] + k] = entry
        r_idx, c_idx = linear_sum_assignment(matrix)
        real = matrix[r_idx, c_idx] < forbidden
        got_i = need_ids[r_idx[real]]
        got_j = np.repeat(vols, slots)[c_idx[real]]
        if len(got_i) == 0:
            break
        # pairs are sorted by (row, column), so a pair's position is a binary search away
        got_cost = p_cost[np.searchsorted(p_rows * m + p_cols, got_i * m + got_j)]
        keep, dropped = _keep_non_overlapping(table, got_i, got_j, got_cost)
        kept_i, kept_j = got_i[keep], got_j[keep]
        chosen[kept_i] = kept_j
        pending[kept_i] = False
        np.subtract.at(remaining, kept_j, 1)
        np.add.at(taken, kept_j, 1)
        if not dropped:
            break
        repaired = True
        if blocked is None:
            blocked = np.zeros((n, m), dtype=bool)
            kept_i = np.flatnonzero(chosen >= 0)
            kept_j = chosen[kept_i]
        for i, j in zip(kept_i.tolist(), kept_j.tolist(), strict=True):
            blocked[:, j] |= table.overlap[:, i]
    placed = np.flatnonzero(chosen >= 0)
    return dict(zip(placed.tolist(), chosen[placed].tolist(), strict=True)), passes, repaired


def _quick_value(table: PairTable, chosen: Mapping[int, int], fairness: float) -> tuple[int, float]:
    """``(−needs placed, total cost)`` of a mapping from the vectorised pair costs (equal to
    the scalar ones, see the tests): lower is better. Used to pick between two candidate plans
    without building either's reasons."""
    if not chosen:
        return (0, 0.0)
    m = len(table.candidates)
    rows = np.fromiter(chosen.keys(), dtype=np.int64, count=len(chosen))
    cols = np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen))
    pair = np.searchsorted(table.rows * m + table.cols, rows * m + cols)
    counts = np.bincount(cols, minlength=m)
    # slots 0..c−1 of a volunteer with a active assignments: fairness · (c·a + c(c−1)/2)
    slots = fairness * (counts * table.active + counts * (counts - 1) / 2)
    return (-len(chosen), float(table.cost[pair].sum() + slots.sum()))


def _greedy(table: PairTable) -> dict[int, int]:
    """Each need in the given order takes the nearest eligible volunteer still free for it
    (capacity left, no overlapping need already given); equal distances go to the lower id."""
    remaining = table.capacity.copy()
    given: dict[int, list[int]] = {}
    chosen: dict[int, int] = {}
    for i in range(len(table.needs)):
        lo, hi = int(table.row_ptr[i]), int(table.row_ptr[i + 1])
        if lo == hi:
            continue
        js: IntArray = table.cols[lo:hi]
        dist = table.metres[lo:hi].astype(np.float64)
        dist[remaining[js] <= 0] = np.inf
        while True:
            pick = int(np.argmin(dist))
            if not np.isfinite(dist[pick]):
                break
            j = int(js[pick])
            if any(table.overlap[i, other] for other in given.get(j, ())):
                dist[pick] = np.inf
                continue
            chosen[i] = j
            given.setdefault(j, []).append(i)
            remaining[j] -= 1
            break
    return chosen


def assign_batch(
    needs: Sequence[NeedSpec],
    candidates: Sequence[Candidate] | CandidatePool,
    weights: Weights = DEFAULT_WEIGHTS,
    fairness: float = DEFAULT_FAIRNESS,
    *,
    fallback: bool = True,
) -> Plan:
    """Assign ``needs`` to ``candidates`` at minimum total cost (see the module docstring).

    ``candidates`` may be a prepared :class:`CandidatePool` (columns built once, reused).
    Never breaks a hard constraint, never exceeds a volunteer's capacity, never double-books.
    With ``fallback`` a repaired solution is compared with greedy nearest-first and the better
    one is returned (``Plan.method`` says which).
    """
    if fairness < 0:
        raise ValueError("fairness must not be negative")
    table = PairTable(needs, candidates, weights)
    chosen, passes, repaired = _solve(table, fairness)
    if repaired and fallback:
        greedy = _greedy(table)
        if _quick_value(table, greedy, fairness) < _quick_value(table, chosen, fairness):
            return _plan(table, greedy, "greedy", 1, fairness, repaired)
    return _plan(table, chosen, "assignment", passes, fairness, repaired)


def greedy_nearest_first(
    needs: Sequence[NeedSpec],
    candidates: Sequence[Candidate] | CandidatePool,
    weights: Weights = DEFAULT_WEIGHTS,
    fairness: float = DEFAULT_FAIRNESS,
) -> Plan:
    """The baseline of ARCHITECTURE.md P2: needs in order, each to the nearest free eligible
    volunteer. Its plan is costed exactly like :func:`assign_batch`'s."""
    table = PairTable(needs, candidates, weights)
    return _plan(table, _greedy(table), "greedy", 1, fairness)
