"""P2: batch assignment of 200 needs to 2,000 volunteers (ARCHITECTURE.md P2, issue 5).

candidate: ``huzhu.needs.matching.assign_batch`` — the minimum-cost assignment with a fairness
           term (numpy table of eligible pairs, scipy ``linear_sum_assignment``, repair of
           overlapping needs given to one volunteer), the plan with every assignment's reasons.
baseline:  ``huzhu.needs.matching.greedy_nearest_first`` — each need in turn takes the nearest
           eligible volunteer still free, on the same input.

The input is ``huzhu.needs.matching.synthetic(200, 2000, seed)`` (a city of ~5 km, ten need
types, a week of availability), one seed per round; the volunteers are converted once into a
``CandidatePool`` (as a manager's batch page would keep them while planning), outside the timing.
Each round times both ``REPEATS`` times (median) and compares their plans: needs placed, total
cost, load spread. Every plan is checked: no pair breaks a hard constraint
(``matching.violations``), no volunteer is over capacity or double-booked.
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

from bench.harness import BenchError, Context, Result, alternate, fmt_seconds, median, say

NEEDS = 200
VOLUNTEERS = 2_000
REPEATS = 15
TARGET_SECONDS = 0.010
TARGET_SAVING = 0.10


def _timed(fn: Any) -> tuple[float, Any]:
    times = []
    out = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _check(plan: Any, needs: list[Any], candidates: list[Any], label: str) -> None:
    from huzhu.needs.matching import violations

    by_need = {n.id: n for n in needs}
    by_cand = {c.id: c for c in candidates}
    taken: dict[int, list[Any]] = {}
    for a in plan.assignments.values():
        need, cand = by_need[a.need_id], by_cand[a.candidate_id]
        broken = violations(need, cand)
        if broken:
            raise BenchError(f"P2 {label}: need {need.id} → {cand.id} breaks {broken}")
        taken.setdefault(cand.id, []).append(need)
    for cid, given in taken.items():
        cand = by_cand[cid]
        if len(given) > cand.load_limit - cand.active_assignments:
            raise BenchError(f"P2 {label}: volunteer {cid} over capacity")
        spans = sorted((n.start, n.end) for n in given)
        for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
            if s2 < e1:
                raise BenchError(f"P2 {label}: volunteer {cid} double-booked")


class P2:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.needs_n = ctx.scaled(NEEDS, minimum=20)
        self.volunteers_n = ctx.scaled(VOLUNTEERS, minimum=200)
        self.inputs: dict[int, tuple[list[Any], list[Any], Any]] = {}

    def _input(self, round_no: int) -> tuple[list[Any], list[Any], Any]:
        from huzhu.needs.matching import CandidatePool, synthetic

        if round_no not in self.inputs:
            needs, candidates = synthetic(self.needs_n, self.volunteers_n, round_no + 1)
            self.inputs[round_no] = (needs, candidates, CandidatePool(candidates))
        return self.inputs[round_no]

    def batch(self, round_no: int) -> dict[str, Any]:
        from huzhu.needs.matching import assign_batch

        needs, candidates, pool = self._input(round_no)
        seconds, plan = _timed(lambda: assign_batch(needs, pool))
        _check(plan, needs, candidates, "batch")
        return self._row(seconds, plan)

    def greedy(self, round_no: int) -> dict[str, Any]:
        from huzhu.needs.matching import greedy_nearest_first

        needs, candidates, pool = self._input(round_no)
        seconds, plan = _timed(lambda: greedy_nearest_first(needs, pool))
        _check(plan, needs, candidates, "greedy")
        return self._row(seconds, plan)

    @staticmethod
    def _row(seconds: float, plan: Any) -> dict[str, Any]:
        return {
            "seconds": seconds,
            "placed": plan.assigned_count,
            "cost": plan.total_cost,
            "stdev": plan.spread.stdev,
            "max": plan.spread.max_per_volunteer,
            "used": plan.spread.used,
            "method": getattr(plan, "method", ""),
        }

    def run(self) -> list[Result]:
        say(f"  {self.needs_n} needs × {self.volunteers_n:,} volunteers, {REPEATS} runs per round")
        cand, base = alternate(
            self.batch,
            self.greedy,
            self.ctx.rounds,
            label="P2",
            show=lambda r: (
                f"{fmt_seconds(r['seconds'])}, {r['placed']} placed, cost {r['cost']:.2f}, "
                f"load sd {r['stdev']:.3f}"
            ),
        )
        seconds = median([r["seconds"] for r in cand])
        savings = [1 - c["cost"] / b["cost"] for c, b in zip(cand, base, strict=True)]
        saving = median(savings)
        pairs = list(zip(cand, base, strict=True))
        fewer = [c["placed"] < b["placed"] for c, b in pairs]
        fairer = all(c["stdev"] <= b["stdev"] for c, b in zip(cand, base, strict=True))
        meets = seconds <= TARGET_SECONDS and saving >= TARGET_SAVING and fairer and not any(fewer)
        return [
            Result(
                id="P2",
                workload=f"batch assignment {self.needs_n} × {self.volunteers_n:,} volunteers",
                candidate=(
                    f"{fmt_seconds(seconds)} · cost {median([r['cost'] for r in cand]):.2f} · "
                    f"load sd {median([r['stdev'] for r in cand]):.3f}"
                ),
                baseline=(
                    f"greedy {fmt_seconds(median([r['seconds'] for r in base]))} · cost "
                    f"{median([r['cost'] for r in base]):.2f} · load sd "
                    f"{median([r['stdev'] for r in base]):.3f}"
                ),
                ratio=None,
                target=f"≤ {TARGET_SECONDS * 1000:.0f} ms, cost ≥ 10% below greedy, fairer",
                meets=meets,
                notes=[
                    "cost saving against greedy per round: "
                    + " | ".join(f"{s:.1%}" for s in savings)
                    + f" (median {saving:.1%}); needs placed (batch/greedy): "
                    + " | ".join(
                        f"{c['placed']}/{b['placed']}" for c, b in zip(cand, base, strict=True)
                    )
                    + "; load standard deviation (batch/greedy): "
                    + " | ".join(
                        f"{c['stdev']:.3f}/{b['stdev']:.3f}"
                        for c, b in zip(cand, base, strict=True)
                    ),
                    "timing: assign_batch from a prepared CandidatePool to the plan with every "
                    "assignment's reasons (median of "
                    f"{REPEATS} runs per round, one synthetic city per round); every plan checked: "
                    "no hard constraint broken, no volunteer over capacity or double-booked.",
                ],
                data={"candidate": cand, "baseline": base},
            )
        ]


def run(ctx: Context) -> list[Result]:
    return P2(ctx).run()
