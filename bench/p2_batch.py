"""P2: batch assignment of 200 needs to 2,000 volunteers (ARCHITECTURE.md P2, issue 5).

candidate: ``huzhu.needs.matching.assign_batch`` — the minimum-cost assignment with a fairness
           term (numpy table of eligible pairs, scipy's sparse
           ``min_weight_full_bipartite_matching``, repair of overlapping needs given to one
           volunteer) — and the reasons of every assignment
           (``Plan.suggestions()``: score, components and reasons of each of the ~200 pairs, as
           the manager's batch page shows them).
baseline:  ``huzhu.needs.matching.greedy_nearest_first`` — each need in turn takes the nearest
           eligible volunteer still free, on the same input, with its reasons too.

The input is ``huzhu.needs.matching.synthetic(200, 2000, seed)`` (a city of ~5 km, ten need
types, a week of availability), one seed per round; the volunteers are converted once into a
``CandidatePool`` (as a manager's batch page would keep them while planning), outside the timing
— its build time is measured and reported separately.

Each round runs ``REPEATS`` times, interleaved: the plan alone, the plan with every pair's
reasons (the figure the target is checked on: what the page needs), and the plan with reasons
rendered as text in the active language (what a template adds on top). The figures are the
p50 and p99 (and min) over all runs of all rounds. Every plan is checked: no pair breaks a hard
constraint (``matching.violations``), no volunteer is over capacity or double-booked, and every
assignment has its reasons, with the pair cost the plan was costed with.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any

from bench.harness import (
    BenchError,
    Context,
    Result,
    alternate,
    fmt_seconds,
    median,
    percentile,
    say,
)

NEEDS = 200
VOLUNTEERS = 2_000
REPEATS = 40
POOL_REPEATS = 5
TARGET_SECONDS = 0.010
TARGET_SAVING = 0.10

PLAN = "plan"
REASONS = "plan + reasons"
TEXTS = "plan + reasons + texts"


def _with_reasons(make: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        plan = make()
        plan.suggestions()
        return plan

    return run


def _with_texts(make: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        plan = make()
        texts = [r.text for s in plan.suggestions().values() for r in s.reasons]
        if len(texts) < plan.assigned_count:
            raise BenchError("P2: an assignment without reasons")
        return plan

    return run


def _sample(variants: dict[str, Callable[[], Any]]) -> tuple[dict[str, list[float]], Any]:
    """``REPEATS`` timed runs of each variant, interleaved (the order rotates every run so
    none is always first after the other); returns the seconds per variant and a plan."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    plan = None
    for k in range(REPEATS):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            start = time.perf_counter()
            plan = variants[name]()
            times[name].append(time.perf_counter() - start)
    return times, plan


def _check(plan: Any, needs: list[Any], candidates: list[Any], label: str) -> None:
    from huzhu.needs.matching import violations

    by_need = {n.id: n for n in needs}
    by_cand = {c.id: c for c in candidates}
    taken: dict[int, list[Any]] = {}
    suggestions = plan.suggestions()
    if list(suggestions) != list(plan.assignments):
        raise BenchError(f"P2 {label}: reasons do not cover the plan")
    for a in plan.assignments.values():
        need, cand = by_need[a.need_id], by_cand[a.candidate_id]
        broken = violations(need, cand)
        if broken:
            raise BenchError(f"P2 {label}: need {need.id} → {cand.id} breaks {broken}")
        s = suggestions[a.need_id]
        if s.candidate_id != cand.id or s.cost != a.pair_cost or not s.reasons:
            raise BenchError(f"P2 {label}: need {need.id} has reasons of another pair")
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
        self.pool_seconds: list[float] = []

    def _input(self, round_no: int) -> tuple[list[Any], list[Any], Any]:
        from huzhu.needs.matching import CandidatePool, synthetic

        if round_no not in self.inputs:
            needs, candidates = synthetic(self.needs_n, self.volunteers_n, round_no + 1)
            pool = None
            for _ in range(POOL_REPEATS):
                start = time.perf_counter()
                pool = CandidatePool(candidates)
                self.pool_seconds.append(time.perf_counter() - start)
            self.inputs[round_no] = (needs, candidates, pool)
        return self.inputs[round_no]

    def _measure(self, make: Callable[[], Any], round_no: int, label: str) -> dict[str, Any]:
        needs, candidates, _ = self._input(round_no)
        times, plan = _sample({PLAN: make, REASONS: _with_reasons(make), TEXTS: _with_texts(make)})
        _check(plan, needs, candidates, label)
        return {
            "times": times,
            "seconds": median(times[REASONS]),
            "placed": plan.assigned_count,
            "cost": plan.total_cost,
            "stdev": plan.spread.stdev,
            "max": plan.spread.max_per_volunteer,
            "used": plan.spread.used,
            "method": plan.method,
            "repaired": plan.repaired,
        }

    def batch(self, round_no: int) -> dict[str, Any]:
        from huzhu.needs.matching import assign_batch

        needs, _, pool = self._input(round_no)
        return self._measure(lambda: assign_batch(needs, pool), round_no, "batch")

    def greedy(self, round_no: int) -> dict[str, Any]:
        from huzhu.needs.matching import greedy_nearest_first

        needs, _, pool = self._input(round_no)
        return self._measure(lambda: greedy_nearest_first(needs, pool), round_no, "greedy")

    @staticmethod
    def _all(rows: list[dict[str, Any]], variant: str) -> list[float]:
        return [t for r in rows for t in r["times"][variant]]

    @classmethod
    def _spread(cls, rows: list[dict[str, Any]], variant: str) -> str:
        values = cls._all(rows, variant)
        return (
            f"{variant}: min {fmt_seconds(min(values))} · p50 {fmt_seconds(median(values))} · "
            f"p99 {fmt_seconds(percentile(values, 99))}"
        )

    def run(self) -> list[Result]:
        say(
            f"  {self.needs_n} needs × {self.volunteers_n:,} volunteers, {REPEATS} runs per "
            f"round of each of: {PLAN}, {REASONS}, {TEXTS}"
        )
        cand, base = alternate(
            self.batch,
            self.greedy,
            self.ctx.rounds,
            label="P2",
            show=lambda r: (
                f"{REASONS} p50 {fmt_seconds(r['seconds'])}, {r['placed']} placed, "
                f"cost {r['cost']:.2f}, load sd {r['stdev']:.3f}"
            ),
        )
        full = self._all(cand, REASONS)
        p50, p99 = median(full), percentile(full, 99)
        plan_p50 = median(self._all(cand, PLAN))
        savings = [1 - c["cost"] / b["cost"] for c, b in zip(cand, base, strict=True)]
        saving = median(savings)
        pairs = list(zip(cand, base, strict=True))
        fewer = [c["placed"] < b["placed"] for c, b in pairs]
        fairer = all(c["stdev"] <= b["stdev"] for c, b in pairs)
        meets = p50 <= TARGET_SECONDS and saving >= TARGET_SAVING and fairer and not any(fewer)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        return [
            Result(
                id="P2",
                workload=f"batch assignment {self.needs_n} × {self.volunteers_n:,} volunteers",
                candidate=(
                    f"{fmt_seconds(p50)} p50 / {fmt_seconds(p99)} p99 with reasons "
                    f"(plan alone {fmt_seconds(plan_p50)}) · cost "
                    f"{median([r['cost'] for r in cand]):.2f} · load sd "
                    f"{median([r['stdev'] for r in cand]):.3f}"
                ),
                baseline=(
                    f"greedy {fmt_seconds(median(self._all(base, REASONS)))} with reasons · "
                    f"cost {median([r['cost'] for r in base]):.2f} · load sd "
                    f"{median([r['stdev'] for r in base]):.3f}"
                ),
                ratio=None,
                target=(
                    f"plan + reasons p50 ≤ {TARGET_SECONDS * 1000:.0f} ms, "
                    "cost ≥ 10% below greedy, fairer"
                ),
                meets=meets,
                notes=[
                    "cost saving against greedy per round: "
                    + " | ".join(f"{s:.1%}" for s in savings)
                    + f" (median {saving:.1%}); needs placed (batch/greedy): "
                    + " | ".join(f"{c['placed']}/{b['placed']}" for c, b in pairs)
                    + "; load standard deviation (batch/greedy): "
                    + " | ".join(f"{c['stdev']:.3f}/{b['stdev']:.3f}" for c, b in pairs)
                    + "; batch method per round: "
                    + " | ".join(
                        f"{c['method']}{' (repaired)' if c['repaired'] else ''}" for c in cand
                    ),
                    f"timing over {REPEATS} runs × {self.ctx.rounds} rounds (one synthetic "
                    "city per round), from a prepared CandidatePool: "
                    + "; ".join(self._spread(cand, v) for v in (PLAN, REASONS, TEXTS))
                    + ". The target is checked on plan + reasons (every assignment's score, "
                    "components and reasons, what the batch page shows); texts adds rendering "
                    "each reason in the active language (template work). Greedy baseline: "
                    + "; ".join(self._spread(base, v) for v in (PLAN, REASONS))
                    + ".",
                    "CandidatePool build (once per volunteer set, outside the timing): p50 "
                    f"{fmt_seconds(median(self.pool_seconds))}; load average at the end "
                    f"{load} on {os.cpu_count()} cores. Every plan checked: no hard constraint "
                    "broken, no volunteer over capacity or double-booked, reasons for every "
                    "assignment.",
                ],
                data={"candidate": cand, "baseline": base, "pool_seconds": self.pool_seconds},
            )
        ]


def run(ctx: Context) -> list[Result]:
    return P2(ctx).run()
