"""Batch mode (issue 5 "Batch mode"): when many needs are waiting for a volunteer — a lockdown
morning — plan them together and let a manager approve the plan.

:func:`batch_plan` takes the approved needs not offered yet in the manager's scope
("needs.plan_batch" on their node; optionally one building, one need type, one day), builds the
candidates of each from the database (``huzhu.needs.candidates``: the indexed pre-filter, then
the facts), and runs the pure minimum-cost assignment with a fairness term
(``huzhu.needs.matching.assign_batch``). The result lists each pair with its reasons and cost,
and each need left out with why. ``digest`` is the signed list of the plan's pairs: the
approval (``huzhu.needs.actions.batch.approve_batch_plan``) offers exactly the pairs of the plan
that was shown, less the ones the manager left out, and re-checks each against the hard
constraints at that moment.

One candidate pool for the whole batch: a volunteer eligible for several needs is one
:class:`~huzhu.needs.matching.Candidate` whose facts are the union of the per-need facts
(skills, certificates, availability over each need's days, bookings overlapping each window,
services to each requester); the core checks every rule per pair on them. The facts are
fetched per need (a fixed number of queries per need), so a plan costs O(needs) queries;
:data:`BATCH_LIMIT` bounds a plan (the earliest needs first; the rest wait for the next one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.needs.candidates import build_candidates, candidate_queryset, need_spec
from huzhu.needs.matching import Candidate, NeedSpec, Plan, Reason, assign_batch
from huzhu.needs.models import Need, NeedState, NeedType
from huzhu.orgs.models import Building
from huzhu.orgs.queries import get_setting

PLAN = "needs.plan_batch"
#: The most needs one plan takes (ARCHITECTURE.md P2 measures 200 needs × 2,000 volunteers).
BATCH_LIMIT = 200
#: A need whose place is unknown cannot be planned by distance: it is offered by hand.
PLACE_UNKNOWN = "place_unknown"
_SALT = "huzhu.needs.batch.plan"

Pair = tuple[int, int]


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One need and the volunteer the plan gives it, with why and at what cost."""

    need: Need
    volunteer_id: int
    volunteer_name: str
    cost: float
    fairness_cost: float
    reasons: tuple[Reason, ...]

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.reasons]

    @property
    def summary(self) -> str:
        return " · ".join(self.texts)


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A need the plan could not place, and why (``no_eligible``, ``taken``, ``place_unknown``)."""

    need: Need
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class BatchPlan:
    rows: tuple[PlanRow, ...]
    unassigned: tuple[LeftOut, ...]
    #: Approved needs in scope beyond :data:`BATCH_LIMIT` (planned next time).
    waiting: int
    method: str
    total_cost: float
    volunteers_used: int
    max_per_volunteer: int

    @property
    def pairs(self) -> tuple[Pair, ...]:
        return tuple((row.need.pk, row.volunteer_id) for row in self.rows)

    @property
    def digest(self) -> str:
        return plan_digest(self.pairs)

    @property
    def empty(self) -> bool:
        return not self.rows and not self.unassigned


def plan_digest(pairs: Iterable[Pair]) -> str:
    """The signed list of a plan's (need, volunteer) pairs, posted back with the approval."""
    return signing.dumps([[n, v] for n, v in sorted(pairs)], salt=_SALT, compress=True)


def pairs_of(digest: str) -> list[Pair]:
    """The pairs of a plan digest; a DomainError when it was altered."""
    try:
        raw = signing.loads(digest or "", salt=_SALT)
        pairs = [(int(n), int(v)) for n, v in raw]
    except (signing.BadSignature, TypeError, ValueError):
        raise DomainError(
            "needs.batch.digest", _("派单方案无效或已被改动，请重新生成方案。")
        ) from None
    return pairs


def kept_pairs(digest: str, leave_out: Iterable[int]) -> list[Pair]:
    """The pairs of the plan less the needs the manager left out."""
    left = set(leave_out)
    return [(n, v) for n, v in pairs_of(digest) if n not in left]


# --- which needs ------------------------------------------------------------------------------


def pending_needs(
    actor: Person,
    *,
    building: Building | None = None,
    need_type: NeedType | None = None,
    day: dt.date | None = None,
) -> QuerySet[Need]:
    """Approved needs not offered yet, starting in the future, where the actor plans batches,
    the earliest first."""
    qs = Need.objects.filter(state=NeedState.APPROVED, starts_at__gt=clock.now())
    if building is not None:
        qs = qs.filter(building=building)
    if need_type is not None:
        qs = qs.filter(need_type=need_type)
    if day is not None:
        start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        qs = qs.filter(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1))
    return (
        policy.visible_to(actor, PLAN, qs)
        .select_related("need_type", "community__alliance", "building__community", "household")
        .select_related("requester")
        .order_by("starts_at", "id")
    )


def planning_buildings(actor: Person) -> QuerySet[Building]:
    """Buildings the actor plans for (the filter's options)."""
    return (
        policy.visible_to(actor, PLAN, Building.objects.all())
        .select_related("community")
        .order_by("community_id", "name", "id")
    )


# --- candidates of many needs ---------------------------------------------------------------


def _merge(a: Candidate, b: Candidate) -> Candidate:
    """One volunteer's facts for two needs as one candidate (the union of what each need
    fetched; what does not depend on the need is the same in both)."""
    return dataclasses.replace(
        a,
        skills=a.skills | b.skills,
        certifications=a.certifications | b.certifications,
        availability=(*a.availability, *b.availability),
        bookings=(*a.bookings, *b.bookings),
        load_limit=min(a.load_limit, b.load_limit),
        served_requesters={**a.served_requesters, **b.served_requesters},
    )


@dataclass(frozen=True, slots=True)
class BatchInput:
    """What the pure core is given: the placed needs' specs, one candidate pool, and the needs
    that cannot be planned (no known place) — plus the skill names for the reasons."""

    needs: tuple[Need, ...]
    specs: tuple[NeedSpec, ...]
    candidates: tuple[Candidate, ...]
    unplaced: tuple[Need, ...]
    skill_names: Mapping[str, str]


def batch_input(needs: Sequence[Need], *, at: dt.datetime | None = None) -> BatchInput:
    """The core's input for ``needs``: per need the SQL pre-filter and the facts, merged per
    volunteer."""
    now = at or clock.now()
    specs: list[NeedSpec] = []
    unplaced: list[Need] = []
    placed: list[Need] = []
    pool: dict[int, Candidate] = {}
    names: dict[str, str] = {}
    for need in needs:
        located = need_spec(need)
        names.update(located.skill_names)
        if not located.has_location:
            unplaced.append(need)
            continue
        placed.append(need)
        specs.append(located.spec)
        load_limit = int(get_setting("needs.volunteer_load_limit", need.scope_node()))
        people = candidate_queryset(need, at=now, load_limit=load_limit)
        found = build_candidates(need, people, at=now, load_limit=load_limit, has_location=True)
        for cand in found:
            known = pool.get(cand.id)
            pool[cand.id] = cand if known is None else _merge(known, cand)
    return BatchInput(
        tuple(placed),
        tuple(specs),
        tuple(pool[k] for k in sorted(pool)),
        tuple(unplaced),
        names,
    )


_NAMED = {"certification": "certifications", "skill": "skills"}


def named(reason: Reason, names: Mapping[str, str]) -> Reason:
    """The core matches skills by code; its skill and certification reasons show names."""
    key = _NAMED.get(reason.code)
    codes = reason.facts.get(key) if key else None
    if key is None or not isinstance(codes, list):
        return reason
    return Reason(reason.code, {**reason.facts, key: [names.get(c, c) for c in codes]})


def _left_out(need: Need, code: str, text: str) -> LeftOut:
    return LeftOut(need, code, text)


def solve(inp: BatchInput) -> Plan:
    """The pure core's plan for a batch input."""
    return assign_batch(list(inp.specs), list(inp.candidates))


def batch_plan(
    actor: Person,
    *,
    building: Building | None = None,
    need_type: NeedType | None = None,
    day: dt.date | None = None,
    limit: int = BATCH_LIMIT,
) -> BatchPlan:
    """The plan a manager sees ("needs.plan_batch" somewhere, else 403): the approved needs not
    offered yet in their scope, each given a volunteer by the minimum-cost assignment with a
    fairness term, with the reasons; the needs it could not place, with why."""
    if not policy.can_anywhere(actor, PLAN):
        raise PermissionDenied(PLAN)
    qs = pending_needs(actor, building=building, need_type=need_type, day=day)
    needs = list(qs[: limit + 1])
    waiting = 0
    if len(needs) > limit:
        waiting = qs.count() - limit
        needs = needs[:limit]
    inp = batch_input(needs)
    plan = solve(inp)
    by_id = {n.pk: n for n in inp.needs}
    rows = tuple(
        PlanRow(
            need=by_id[need_id],
            volunteer_id=a.candidate_id,
            volunteer_name=a.suggestion.candidate_name,
            cost=a.cost,
            fairness_cost=a.fairness_cost,
            reasons=tuple(named(r, inp.skill_names) for r in a.suggestion.reasons),
        )
        for need_id, a in plan.assignments.items()
    )
    left = [_left_out(by_id[u.need_id], u.code, u.text) for u in plan.unassigned]
    left += [
        _left_out(n, PLACE_UNKNOWN, _("服务地点未知，无法按距离安排，请单独派单"))
        for n in inp.unplaced
    ]
    left.sort(key=lambda item: (item.need.starts_at, item.need.pk))
    return BatchPlan(
        rows=rows,
        unassigned=tuple(left),
        waiting=waiting,
        method=plan.method,
        total_cost=plan.total_cost,
        volunteers_used=plan.spread.used,
        max_per_volunteer=plan.spread.max_per_volunteer,
    )
