"""Batch mode (issue 5 "Batch mode"; ARCHITECTURE.md P2): when many needs are pending — a
lockdown morning — assign them together by minimum-cost assignment with a fairness term, and give
the manager a :class:`Plan` to approve.

Model. Volunteer *j* may take ``capacity = load_limit − active_assignments`` needs, never two with
overlapping windows. Giving *j* its *k*-th need of the plan (k = 0, 1, …) costs the pair cost
(``weights.total − score``, see ``score.py``) plus ``fairness · (active_assignments + k)``: each
extra need on the same person costs more (DOMAIN.md "fairness (spread load)"). A plan's total
cost is the sum of these over its assignments.

Solve. Columns of the cost matrix are volunteer slots (a volunteer repeated up to its capacity,
each copy with its slot's fairness cost). The matrix is sparse (only eligible pairs are entries)
and each need has its own "left out" column costing more than any whole plan, so
``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` first assigns as many needs as
possible, then minimises cost. Overlapping windows are not expressible in an assignment
problem, so a volunteer given overlapping needs keeps the cheapest non-overlapping ones and the
rest are solved again (with that volunteer barred from windows overlapping what it kept) until
nothing changes.
Without such a repair the result is optimal; with one it is compared with the greedy baseline and
the better plan is returned, so a plan is never worse than greedy nearest-first.

Reasons. A plan's numbers (pairs, slots, costs, totals, load spread) come from the pair table;
each assignment's :class:`Suggestion` (score, components, reasons) is built from the same arrays
when first read (:class:`PlanReasons`, ``Assignment.suggestion``, ``Plan.suggestions()``), and
equals what :func:`huzhu.needs.matching.score.score` gives for that pair.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import NamedTuple

import numpy as np
from django.utils import timezone
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from huzhu.needs.matching.arrays import BoolArray, CandidatePool, FloatArray, IntArray, PairTable
from huzhu.needs.matching.model import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    Candidate,
    Interval,
    NeedSpec,
    Reason,
    Suggestion,
    Weights,
)
from huzhu.needs.matching.score import explain
from huzhu.needs.matching.texts import unassigned_text

#: Extra cost of each further need given to the same volunteer (in score units, 0..1 scale).
DEFAULT_FAIRNESS = 0.15

NO_ELIGIBLE = "no_eligible"
TAKEN = "taken"


class PlanReasons:
    """The reasons of one plan's pairs, built when first asked for (a plan is cheap to make and
    to compare; the page that shows it asks for every pair's reasons, a caller that only needs
    the numbers asks for none).

    The facts come from the arrays the pair costs were computed from (:class:`PairTable`:
    distance in whole metres, smoothed rating, times served, preferred, the five components),
    so a reason carries exactly the values used in the score, without scoring the pair again;
    only the availability interval is looked up (a binary search over the volunteer's
    intervals). The availability reason uses the time zone current when the reasons are first
    built.
    """

    __slots__ = ("_built", "_facts", "_pairs", "_table", "_tz")

    def __init__(self, table: PairTable, pairs: Mapping[int, tuple[int, int, int]]) -> None:
        #: need id → (need index, candidate index, pair position in ``table``)
        self._table: PairTable | None = table
        self._pairs = pairs
        self._facts: dict[int, _PairFacts] | None = None
        self._built: dict[int, Suggestion] = {}
        self._tz: tzinfo | None = None

    def __getstate__(self) -> dict[int, Suggestion]:
        # A stored plan keeps its reasons, not the pair table and volunteer pool behind them.
        return self.all()

    def __setstate__(self, state: dict[int, Suggestion]) -> None:
        self._table = None
        self._pairs = {need_id: (-1, -1, -1) for need_id in state}
        self._facts = None
        self._built = dict(state)
        self._tz = None

    def _gather(self, table: PairTable) -> dict[int, _PairFacts]:
        """Each pair's facts as Python values, gathered from the arrays in one go."""
        need_ids = list(self._pairs)
        at = np.array([self._pairs[nid][2] for nid in need_ids], dtype=np.int64)
        rows = table.rows[at]
        comps = table.components
        columns = zip(
            table.metres[at].tolist(),
            table.smoothed[at].tolist(),
            table.times[at].tolist(),
            table.preferred[at].tolist(),
            table.score[at].tolist(),
            table.cost[at].tolist(),
            *(comps[name][at].tolist() for name in COMPONENTS),
            table.starts[rows].tolist(),
            table.ends[rows].tolist(),
            strict=True,
        )
        self._tz = timezone.get_current_timezone()
        return {nid: _PairFacts(*values) for nid, values in zip(need_ids, columns, strict=True)}

    def suggestion(self, need_id: int) -> Suggestion:
        """The assignment of ``need_id`` as a :class:`Suggestion` with its reasons."""
        found = self._built.get(need_id)
        if found is not None:
            return found
        table = self._table
        if table is None:  # pragma: no cover - an unpickled plan has every suggestion built
            raise KeyError(need_id)
        if self._facts is None:
            self._facts = self._gather(table)
        i, j, _ = self._pairs[need_id]
        need, cand = table.needs[i], table.candidates[j]
        f = self._facts[need_id]
        found = Suggestion(
            need_id=need.id,
            candidate_id=cand.id,
            candidate_name=cand.name,
            score=f.score,
            cost=f.cost,
            components={
                "distance": f.distance,
                "rating": f.rating,
                "reliability": f.reliability,
                "fairness": f.fairness,
                "continuity": f.continuity,
            },
            reasons=explain(
                need,
                cand,
                f.metres,
                f.smoothed,
                f.times,
                f.preferred,
                _cover(cand, f.start_us, f.end_us),
                self._tz,
            ),
        )
        self._built[need_id] = found
        return found

    def all(self) -> dict[int, Suggestion]:
        """Every pair's suggestion, by need id (in the plan's order)."""
        return {need_id: self.suggestion(need_id) for need_id in self._pairs}


class _PairFacts(NamedTuple):
    metres: int
    smoothed: float
    times: int
    preferred: bool
    score: float
    cost: float
    distance: float
    rating: float
    reliability: float
    fairness: float
    continuity: float
    start_us: int
    end_us: int


def _cover(cand: Candidate, start_us: int, end_us: int) -> Interval | None:
    """The availability interval the window ``[start_us, end_us)`` fits in (the same one as
    ``rules.covering_interval``): merged intervals are disjoint and sorted, so the flattened
    bounds ``(s0, e0, s1, e1, …)`` increase and only the interval around the start can hold
    the window."""
    flat = cand.availability_us
    index = bisect_right(flat, start_us)
    if index % 2 == 1 and end_us <= flat[index]:
        return cand.availability[index // 2]
    return None


@dataclass(frozen=True, slots=True)
class Assignment:
    """One need given to one volunteer in a plan: its slot on that volunteer (0 = the first
    need of the plan for them), the fairness cost of that slot and the pair's cost
    (``weights.total − score``). ``suggestion`` (score, components and reasons) is built when
    first read."""

    need_id: int
    candidate_id: int
    slot: int
    fairness_cost: float
    pair_cost: float
    reasons_source: PlanReasons | None = field(default=None, compare=False, repr=False)

    @property
    def cost(self) -> float:
        return self.pair_cost + self.fairness_cost

    @property
    def suggestion(self) -> Suggestion:
        """The pair scored and explained (built on first use, then kept)."""
        if self.reasons_source is None:
            raise ValueError("this assignment was made without its plan's reasons")
        return self.reasons_source.suggestion(self.need_id)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.suggestion.reasons


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

    def suggestions(self) -> dict[int, Suggestion]:
        """Every assignment's :class:`Suggestion` (score, components, reasons) by need id, in
        the plan's order; built on first use (see :class:`PlanReasons`)."""
        return {need_id: a.suggestion for need_id, a in self.assignments.items()}

    def at_least_as_good_as(self, other: Plan, tolerance: float = 1e-9) -> bool:
        """More needs placed wins; with as many placed, the lower total cost wins."""
        if self.assigned_count != other.assigned_count:
            return self.assigned_count > other.assigned_count
        return self.total_cost <= other.total_cost + tolerance


def _spread(table: PairTable, chosen_cols: IntArray) -> LoadSpread:
    m = len(table.candidates)
    in_pool = np.bincount(table.cols, minlength=m) > 0
    size = int(in_pool.sum())
    if size == 0:
        return LoadSpread(0, 0, 0, 0.0, 0.0)
    counts = np.bincount(chosen_cols, minlength=m)
    x = np.sort(counts[in_pool]).astype(np.float64)
    total = float(x.sum())
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
    chosen: Mapping[int, int],
    method: str,
    passes: int,
    fairness: float,
    repaired: bool = False,
) -> Plan:
    """Turn need index → candidate index into a Plan. A volunteer's needs take its slots in
    order of pair cost (then need id); the total adds, volunteer by volunteer in the order of
    their first need and slot by slot, each pair cost and its slot's fairness cost. Reasons
    are left to :class:`PlanReasons`."""
    n = len(table.needs)
    rows = np.array(sorted(chosen), dtype=np.int64)
    cols = np.array([chosen[i] for i in rows.tolist()], dtype=np.int64)
    pair = table.pair_index(rows, cols)
    cost = table.cost[pair]
    ids = np.array([need.id for need in table.needs], dtype=np.int64)
    need_ids = ids[rows]
    # slot: rank among the volunteer's needs by (cost, need id)
    by_volunteer = np.lexsort((need_ids, cost, cols))
    first = np.ones(len(rows), dtype=bool)
    first[1:] = cols[by_volunteer][1:] != cols[by_volunteer][:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
    slot = np.empty(len(rows), dtype=np.int64)
    slot[by_volunteer] = np.arange(len(rows)) - group_start
    extra = fairness * (table.active[cols] + slot)
    # the order the total is summed in: volunteers by their first need, then slot
    first_row = np.full(len(table.candidates), n, dtype=np.int64)
    np.minimum.at(first_row, cols, rows)
    summing = np.lexsort((slot, first_row[cols]))
    total = 0.0
    for c, e in zip(cost[summing].tolist(), extra[summing].tolist(), strict=True):
        total += c + e
    source = PlanReasons(
        table,
        dict(
            zip(
                need_ids.tolist(),
                zip(rows.tolist(), cols.tolist(), pair.tolist(), strict=True),
                strict=True,
            )
        ),
    )
    assignments = {
        need_id: Assignment(need_id, cand_id, k, e, c, source)
        for need_id, cand_id, k, e, c in zip(
            need_ids.tolist(),
            table.pool.ids[cols].tolist(),
            slot.tolist(),
            extra.tolist(),
            cost.tolist(),
            strict=True,
        )
    }
    counts = table.eligible_count().tolist()
    placed = set(rows.tolist())
    unassigned = tuple(
        Unassigned(need.id, TAKEN if counts[i] else NO_ELIGIBLE, {"eligible": counts[i]})
        for i, need in enumerate(table.needs)
        if i not in placed
    )
    return Plan(method, assignments, unassigned, total, _spread(table, cols), passes, repaired)


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
        # Sparse min-cost full matching: every need also has its own "left out" column that
        # costs more than any whole plan, so the solver first places as many needs as it can,
        # then saves cost. Real entries are shifted by 1 (an edge must weigh non-zero; every row
        # is matched once, so the shift adds the same to every matching).
        n_rows, n_cols = len(need_ids), int(slots.sum())
        left_out = (float(entry.max()) + 2.0) * (n_rows + 1)
        graph = csr_array(
            (
                np.concatenate([entry + 1.0, np.full(n_rows, left_out)]),
                (
                    np.concatenate([row_local[pair_of], np.arange(n_rows)]),
                    np.concatenate([col_start[inverse[pair_of]] + k, n_cols + np.arange(n_rows)]),
                ),
            ),
            shape=(n_rows, n_cols + n_rows),
        )
        r_idx, c_idx = min_weight_full_bipartite_matching(graph)
        real = c_idx < n_cols
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
    remaining = table.capacity.tolist()
    # each need's candidates nearest first, then by index (= by id)
    nearest = table.cols[np.lexsort((table.cols, table.metres, table.rows))].tolist()
    bounds = table.row_ptr.tolist()
    overlap = table.overlap
    given: dict[int, list[int]] = {}
    chosen: dict[int, int] = {}
    for i in range(len(table.needs)):
        for j in nearest[bounds[i] : bounds[i + 1]]:
            if remaining[j] <= 0:
                continue
            others = given.get(j)
            if others is not None and any(overlap[i, other] for other in others):
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
