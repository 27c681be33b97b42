"""Batch mode (issue 5 "Batch mode"): the plan a manager sees is the pure core's plan of the
approved needs in their scope, with reasons; approving offers exactly the pairs kept, re-checks
each against the hard constraints at that moment (a stale pair is skipped with the rule it
breaks), is idempotent by its key and writes one audit entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from huzhu.accounts.models import AvailabilitySlot, Person, RoleGrant, Status
from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.needs import actions
from huzhu.needs.actions.batch import approve_batch_plan
from huzhu.needs.matching import assign_batch, violations
from huzhu.needs.models import Assignment, AssignmentState, Need, NeedState
from huzhu.needs.plans import (
    PLACE_UNKNOWN,
    batch_input,
    batch_plan,
    kept_pairs,
    pairs_of,
    pending_needs,
    plan_digest,
)
from huzhu.needs.tests.support import T0, at, need_type, publish, volunteer

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
A = AssignmentState


def free_all_week(person: Person) -> None:
    for day in range(7):
        AvailabilitySlot.objects.create(
            person=person, weekday=day, start_time=dt.time(7), end_time=dt.time(21)
        )


def crew(world: Any, cast: Any, n: int = 3) -> list[Person]:
    """``n`` volunteers free all week, living in the community (the cast's volunteer first)."""
    people = [cast.volunteer]
    for i in range(n - 1):
        people.append(volunteer(world, f"志愿者{i}", phone=f"1360000{i:04d}"))
    for p in people:
        free_all_week(p)
    return people


def approved_need(cast: Any, hours: int, **kw: Any) -> Need:
    """A haircut need of the cast's resident (building 1) starting ``hours`` after T0 + 1 day."""
    need = publish(cast, starts_in=dt.timedelta(days=1, hours=hours), **kw)
    return actions.review_need(actor=cast.building_manager, need=need, approve=True)


def other_community_need(world: Any, cast: Any) -> Need:
    p = Person(name="外区居民", community=world.other_community, household=world.other_household)
    p.set_phone("13700000077")
    p.save()
    start = T0 + dt.timedelta(days=1)
    need = actions.publish_need(
        actor=p, need_type=need_type(), starts_at=start, ends_at=start + H, description="外区"
    )
    return actions.review_need(actor=cast.outsider, need=need, approve=True)


def building2_need(world: Any, cast: Any) -> Need:
    """A need in building 2: the branch head plans it, the building manager of 1 does not."""
    home = world.building.community.households.exclude(building=world.building).first()
    p = Person(name="二号楼居民", community=world.community, household=home)
    p.set_phone("13700000088")
    p.save()
    RoleGrant.objects.create(
        person=p, role="resident", scope_kind="community", community=p.community
    )
    start = T0 + dt.timedelta(days=1, hours=5)
    need = actions.publish_need(
        actor=p, need_type=need_type(), starts_at=start, ends_at=start + H, description="二号楼"
    )
    return actions.review_need(actor=cast.branch_head, need=need, approve=True)


def test_the_plan_shown_is_the_batch_result(world: Any, cast: Any) -> None:
    with at(T0):
        people = crew(world, cast)
        needs = [approved_need(cast, h) for h in (0, 0, 2, 4)]
        plan = batch_plan(cast.building_manager)
        inp = batch_input(list(pending_needs(cast.building_manager)))
        expected = assign_batch(list(inp.specs), list(inp.candidates))
    shown = {r.need.pk: r.volunteer_id for r in plan.rows}
    assert shown == {k: a.candidate_id for k, a in expected.assignments.items()}
    assert set(shown) == {n.pk for n in needs}  # 3 volunteers, 2 at the same time: all placed
    assert set(shown.values()) <= {p.pk for p in people}
    assert plan.total_cost == pytest.approx(expected.total_cost)
    assert shown[needs[0].pk] != shown[needs[1].pk]  # one volunteer cannot be in two places
    for row in plan.rows:
        assert row.reasons and row.summary  # each pair says why, in words
        assert "米" in row.summary
    assert plan.unassigned == ()
    assert pairs_of(plan.digest) == sorted(plan.pairs)


def test_needs_nobody_can_take_are_listed_with_why(world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast, 1)
        first = approved_need(cast, 0)
        second = approved_need(cast, 0)  # the same hour: the only volunteer is taken
        strong = approved_need(cast, 3, needs_strength=True)  # nobody can lift
        nowhere = approved_need(cast, 6)
        Need.objects.filter(pk=nowhere.pk).update(
            latitude_e6=None, longitude_e6=None, building=None, household=None
        )
        plan = batch_plan(cast.branch_head)
    assert len(plan.rows) == 1 and plan.rows[0].need.pk in (first.pk, second.pk)
    why = {u.need.pk: (u.code, u.text) for u in plan.unassigned}
    taken = second.pk if plan.rows[0].need.pk == first.pk else first.pk
    assert why[taken][0] == "taken"
    assert why[strong.pk] == ("no_eligible", why[strong.pk][1]) and why[strong.pk][1]
    assert why[nowhere.pk][0] == PLACE_UNKNOWN
    assert "服务地点未知" in why[nowhere.pk][1]


def test_out_of_scope_needs_are_not_planned(world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        mine = approved_need(cast, 0)
        there = building2_need(world, cast)
        other = other_community_need(world, cast)
        offered_already = approved_need(cast, 2)
        actions.offer_need(
            actor=cast.building_manager, need=offered_already, volunteers=[cast.volunteer]
        )
        submitted = publish(cast, starts_in=dt.timedelta(days=1, hours=7))

        def planned(actor: Person) -> set[int]:
            plan = batch_plan(actor)
            return {r.need.pk for r in plan.rows} | {u.need.pk for u in plan.unassigned}

        assert planned(cast.building_manager) == {mine.pk}
        assert planned(cast.branch_head) == {mine.pk, there.pk}
        assert planned(cast.outsider) == {other.pk}
        assert submitted.pk not in planned(cast.branch_head)
        for who in ("volunteer", "resident", "broker"):
            with pytest.raises(PermissionDenied):
                batch_plan(cast[who])


def test_approval_offers_exactly_the_kept_pairs(world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        needs = [approved_need(cast, h) for h in (0, 2, 4)]
        plan = batch_plan(cast.building_manager)
        assert len(plan.rows) == 3
        left_out = needs[1].pk
        pairs = kept_pairs(plan.digest, [left_out])
        result = approve_batch_plan(actor=cast.building_manager, pairs=pairs, key="k1")
    kept = {(n, v) for n, v in plan.pairs if n != left_out}
    assert set(result.offered) == kept and not result.skipped and not result.replay
    got = set(Assignment.objects.values_list("need_id", "volunteer_id"))
    assert got == kept
    assert all(a.state == A.OFFERED and a.reasons for a in Assignment.objects.all())
    states = dict(Need.objects.values_list("pk", "state"))
    assert states[left_out] == NeedState.APPROVED
    assert {states[n] for n, _ in kept} == {NeedState.OFFERED}
    entries = AuditEntry.objects.filter(code="needs.batch.approved")
    assert entries.count() == 1
    assert entries[0].actor_id == cast.building_manager.pk
    assert sorted(entries[0].new_values["offered"]) == sorted(f"{n}:{v}" for n, v in kept)


def test_a_stale_pair_is_refused_with_the_rule_it_breaks(world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        needs = [approved_need(cast, h) for h in (0, 2, 4)]
        plan = batch_plan(cast.building_manager)
        given = {r.need.pk: r.volunteer_id for r in plan.rows}
        # Since the plan was made: one volunteer was suspended, one need was cancelled.
        suspended = Person.objects.get(pk=given[needs[0].pk])
        suspended.status = Status.SUSPENDED
        suspended.status_until = T0 + dt.timedelta(days=7)
        suspended.save()
        actions.cancel_need(actor=cast.resident, need=needs[2], reason="不需要了")
        result = approve_batch_plan(actor=cast.building_manager, pairs=list(plan.pairs), key="k2")
    skipped = {s.need_id: s for s in result.skipped}
    assert set(skipped) == {needs[0].pk, needs[2].pk}
    assert skipped[needs[0].pk].codes[0] == "status"
    assert suspended.name in skipped[needs[0].pk].message
    assert "暂停服务" in skipped[needs[0].pk].message
    assert skipped[needs[2].pk].codes == ("state",)
    assert "已取消" in skipped[needs[2].pk].message
    assert result.offered == ((needs[1].pk, given[needs[1].pk]),)
    assert not Assignment.objects.filter(need=needs[0]).exists()


def test_every_hard_constraint_is_checked_again(world: Any, cast: Any) -> None:
    """A volunteer booked at that hour since the plan: double booking, from the core's rules."""
    with at(T0):
        crew(world, cast, 2)
        need = approved_need(cast, 0)
        plan = batch_plan(cast.building_manager)
        chosen = Person.objects.get(pk=plan.rows[0].volunteer_id)
        busy = approved_need(cast, 0)
        actions.offer_need(actor=cast.building_manager, need=busy, volunteers=[chosen])
        actions.accept_assignment(
            actor=chosen, assignment=Assignment.objects.get(need=busy, volunteer=chosen)
        )
        result = approve_batch_plan(actor=cast.building_manager, pairs=list(plan.pairs), key="k")
    assert result.offered == ()
    assert result.skipped[0].need_id == need.pk
    assert "double_booking" in result.skipped[0].codes
    assert "已有其他服务" in result.skipped[0].message


def test_a_replay_answers_the_first_approval(world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        needs = [approved_need(cast, h) for h in (0, 2)]
        plan = batch_plan(cast.building_manager)
        actions.cancel_need(actor=cast.resident, need=needs[1], reason="不需要了")
        first = approve_batch_plan(actor=cast.building_manager, pairs=list(plan.pairs), key="r")
        again = approve_batch_plan(actor=cast.building_manager, pairs=list(plan.pairs), key="r")
    assert again.replay and not first.replay
    assert again.offered == first.offered and len(first.offered) == 1
    assert [(s.need_id, s.codes) for s in again.skipped] == [
        (s.need_id, s.codes) for s in first.skipped
    ]
    assert again.skipped[0].message == first.skipped[0].message
    assert Assignment.objects.count() == 1
    assert AuditEntry.objects.filter(code="needs.batch.approved").count() == 1
    # Another manager's same key is their own approval.
    assert not approve_batch_plan(actor=cast.branch_head, pairs=[], key="r").replay


def test_pairs_out_of_scope_or_altered_are_refused(world: Any, cast: Any) -> None:
    with at(T0):
        crew(world, cast)
        there = building2_need(world, cast)
        plan = batch_plan(cast.branch_head)
        # The building manager of building 1 approving a pair of building 2: skipped.
        result = approve_batch_plan(actor=cast.building_manager, pairs=list(plan.pairs), key="s")
        assert [(s.need_id, s.codes) for s in result.skipped] == [(there.pk, ("scope",))]
        # The branch head of the other community: not even told it exists.
        result = approve_batch_plan(actor=cast.outsider, pairs=list(plan.pairs), key="o")
        assert [(s.need_id, s.codes) for s in result.skipped] == [(there.pk, ("unknown",))]
        assert not Assignment.objects.exists()
        with pytest.raises(DomainError) as err:
            kept_pairs(plan.digest[:-2] + "xx", [])
        assert err.value.code == "needs.batch.digest"
        with pytest.raises(DomainError) as err:
            approve_batch_plan(actor=cast.branch_head, pairs=[(1, 2), (1, 3)], key="d")
        assert err.value.code == "needs.batch.duplicate"
        with pytest.raises(PermissionDenied):
            approve_batch_plan(actor=cast.volunteer, pairs=[], key="v")
        assert kept_pairs(plan_digest([(3, 4), (1, 2)]), [3]) == [(1, 2)]


def test_the_plan_never_breaks_a_rule_on_fresh_candidates(world: Any, cast: Any) -> None:
    """Every pair of the merged pool is valid against the per-need facts (what approval checks)."""
    from huzhu.needs.candidates import build_candidates, need_spec

    with at(T0):
        people = crew(world, cast, 4)
        AvailabilitySlot.objects.filter(person=people[1], weekday=1).delete()  # not on Tuesday
        for h in (0, 1, 2, 24, 26):
            approved_need(cast, h)
        plan = batch_plan(cast.branch_head)
        assert plan.rows
        for row in plan.rows:
            located = need_spec(row.need)
            cand = build_candidates(row.need, [Person.objects.get(pk=row.volunteer_id)])
            assert cand and violations(located.spec, cand[0]) == []
            assert row.volunteer_id != people[1].pk or row.need.starts_at.weekday() != 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_with_one_key_approve_once(world: Any, cast: Any) -> None:
    """Five posts of the same approval at once (PostgreSQL): one approval, the others answer it."""
    from django.db import connection

    from huzhu.timebank.tests.threads import in_threads

    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    with at(T0):
        crew(world, cast)
        for h in (0, 2, 4):
            approved_need(cast, h)
        plan = batch_plan(cast.building_manager)
        manager = Person.objects.get(pk=cast.building_manager.pk)

        def work(i: int) -> Any:
            return approve_batch_plan(actor=manager, pairs=list(plan.pairs), key="same")

        results, errors = in_threads(5, work)
    assert not errors, errors
    assert sorted(r.replay for r in results) == [False, True, True, True, True]
    assert {r.offered for r in results} == {tuple(sorted(plan.pairs))}
    assert Assignment.objects.count() == 3
    assert AuditEntry.objects.filter(code="needs.batch.approved").count() == 1
