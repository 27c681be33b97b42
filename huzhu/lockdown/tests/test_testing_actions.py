"""Mass testing sessions, action by action (DOMAIN.md "Lockdown operations": 核酸检测).

Acceptance 3: calling batches in order notifies exactly those households; check-ins update the
per-building counts; the follow-up list is exactly the untested households."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from huzhu.accounts.models import Household
from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.core.models import AppendOnlyError
from huzhu.lockdown import household_code
from huzhu.lockdown import models as m
from huzhu.lockdown import testing_queries as tq
from huzhu.lockdown.actions import testing as ta
from huzhu.lockdown.tests.testing_support import T0, at, label, members_of, populate, session
from huzhu.notify.models import Notification

pytestmark = pytest.mark.django_db

CALLED = "lockdown.testing.called"


def _notified() -> set[int]:
    return set(Notification.objects.filter(code=CALLED).values_list("person_id", flat=True))


def _queue(s: Any) -> list[str]:
    return [
        label(e.household)
        for e in m.QueueEntry.objects.filter(session=s)
        .select_related("household__building")
        .order_by("sequence")
    ]


def _batch(s: Any, number: int) -> list[str]:
    return [
        label(e.household)
        for e in m.QueueEntry.objects.filter(session=s, batch=number)
        .select_related("household__building")
        .order_by("sequence")
    ]


def _counts(s: Any) -> dict[str, tuple[int, int, int, int]]:
    return {c.name: (c.total, c.tested, c.pending, c.absent) for c in tq.building_counts(s)}


def test_calling_order_check_ins_counts_and_follow_up(world: Any, cast: Any) -> None:
    """Acceptance 3, end to end through the actions."""
    hh = populate(world)
    s = session(world, cast, batch_size=3)
    assert s.state == m.TestingState.OPEN
    # The calling order: building, then floor, then room (10th floor after the 2nd).
    assert _queue(s) == [
        "1号楼-101",
        "1号楼-102",
        "1号楼-201",
        "1号楼-301",
        "1号楼-302",
        "2号楼-101",
        "2号楼-201",
        "2号楼-1001",
    ]
    leader, member = cast.group_leader, cast.group_member

    # Batch 1: exactly the first three households' members are told to come down.
    with at(T0):
        b1 = ta.call_next_batch(actor=leader, session=s, key="call-1")
    assert (b1.number, b1.households) == (1, 3)
    first = [hh["1号楼-101"], hh["1号楼-102"], hh["1号楼-201"]]
    assert _batch(s, 1) == ["1号楼-101", "1号楼-102", "1号楼-201"]
    assert _notified() == members_of(first)
    assert cast.resident.pk in _notified() and len(_notified()) == 3  # 101: 1, 102: 2, 201: 0
    note = Notification.objects.filter(code=CALLED, person=cast.resident).get()
    assert "第 1 批" in note.title and "小区东门广场" in note.body and note.urgent

    # A retry of the same call (same key) answers the same batch and notifies nobody again.
    again = ta.call_next_batch(actor=leader, session=s, key="call-1")
    assert again.pk == b1.pk
    assert Notification.objects.filter(code=CALLED).count() == 3

    # Check-ins: by search (household id) and by the scanned household code; absence.
    ta.check_in(actor=member, session=s, household_id=hh["1号楼-101"].pk)
    e = ta.check_in_by_code(
        actor=member, session=s, token=household_code.make_code(hh["1号楼-102"])
    )
    assert e.check_in_method == m.CheckInMethod.CODE
    ta.mark_absent(actor=member, session=s, household_id=hh["1号楼-201"].pk)
    # A household of a later batch comes early: it is checked in and never called.
    ta.check_in(actor=member, session=s, household_id=hh["2号楼-101"].pk)
    assert _counts(s) == {"1号楼": (5, 2, 2, 1), "2号楼": (3, 1, 2, 0)}

    # Batch 2 skips the household already tested.
    before = _notified()
    b2 = ta.call_next_batch(actor=member, session=s, key="call-2")
    assert b2.number == 2
    second = [hh["1号楼-301"], hh["1号楼-302"], hh["2号楼-201"]]
    assert _batch(s, 2) == ["1号楼-301", "1号楼-302", "2号楼-201"]
    assert _notified() - before == members_of(second)
    assert hh["2号楼-101"].pk not in set(
        m.QueueEntry.objects.filter(session=s, batch__isnull=False).values_list(
            "household_id", flat=True
        )
    )

    ta.check_in(actor=member, session=s, household_id=hh["1号楼-301"].pk)
    ta.mark_absent(actor=member, session=s, household_id=hh["1号楼-302"].pk)
    # The absent household comes down after all: tested, no longer absent.
    ta.check_in(actor=member, session=s, household_id=hh["1号楼-302"].pk)

    before = _notified()
    b3 = ta.call_next_batch(actor=leader, session=s, key="call-3")
    assert (b3.number, _batch(s, 3)) == (3, ["2号楼-1001"])
    assert _notified() - before == members_of([hh["2号楼-1001"]])
    with pytest.raises(DomainError) as exc:
        ta.call_next_batch(actor=leader, session=s, key="call-4")
    assert exc.value.code == "lockdown.testing.queue_empty"

    # Per building: tested / not yet / absent.
    assert _counts(s) == {"1号楼": (5, 4, 0, 1), "2号楼": (3, 1, 2, 0)}
    assert tq.totals(tq.building_counts(s)) == {
        "total": 8,
        "tested": 5,
        "pending": 2,
        "absent": 1,
    }
    # The follow-up list is exactly the untested households.
    tested = {hh[x].pk for x in ("1号楼-101", "1号楼-102", "1号楼-301", "1号楼-302", "2号楼-101")}
    everyone = set(Household.objects.filter(community=world.community).values_list("pk", flat=True))
    follow = [e.household_id for e in tq.follow_up(s)]
    assert set(follow) == everyone - tested
    assert [label(e.household) for e in tq.follow_up(s)] == [
        "1号楼-201",
        "2号楼-201",
        "2号楼-1001",
    ]
    assert [e.status for e in tq.follow_up(s)] == ["absent", "pending", "pending"]

    # Every member of every called household was told exactly once.
    called = [hh[x] for x in hh if x != "2号楼-101"]
    assert _notified() == members_of(called)
    assert Notification.objects.filter(code=CALLED).count() == len(members_of(called))

    # Closing: the list stays; no more calls or check-ins.
    ta.close_session(actor=leader, session=s)
    with pytest.raises(DomainError) as exc:
        ta.check_in(actor=member, session=s, household_id=hh["2号楼-201"].pk)
    assert exc.value.code == "lockdown.testing.bad_state"
    assert {e.household_id for e in tq.follow_up(s)} == everyone - tested

    codes = list(
        AuditEntry.objects.filter(code__startswith="lockdown.testing.").values_list(
            "code", flat=True
        )
    )
    assert codes.count("lockdown.testing.batch_called") == 3
    assert codes.count("lockdown.testing.checked_in") == 5
    assert codes.count("lockdown.testing.absent") == 2
    assert codes.count("lockdown.testing.created") == 1
    assert codes.count("lockdown.testing.opened") == 1
    assert codes.count("lockdown.testing.closed") == 1


def test_create_is_idempotent_and_checked(world: Any, cast: Any) -> None:
    s = session(world, cast)
    assert session(world, cast).pk == s.pk
    assert AuditEntry.objects.filter(code="lockdown.testing.created").count() == 1
    base: dict[str, Any] = {
        "community": world.community,
        "title": "核酸",
        "place": "东门",
        "starts_at": T0,
        "batch_size": 5,
        "buildings": [world.building],
    }
    with pytest.raises(PermissionDenied):
        ta.create_session(actor=cast.volunteer, group=world.group, key="v", **base)
    with pytest.raises(Http404):
        ta.create_session(actor=cast.outsider, key="o", **base)
    with pytest.raises(DomainError) as exc:
        ta.create_session(actor=cast.branch_head, key="b", **{**base, "batch_size": 0})
    assert exc.value.code == "lockdown.testing.batch_size"
    with pytest.raises(DomainError) as exc:
        ta.create_session(
            actor=cast.branch_head, key="c", **{**base, "buildings": [world.other_building]}
        )
    assert exc.value.code == "lockdown.testing.building_community"
    with pytest.raises(DomainError) as exc:
        ta.create_session(actor=cast.branch_head, key="d", **{**base, "place": " "})
    assert exc.value.code == "lockdown.field.required"


def test_draft_has_no_queue_until_opened(world: Any, cast: Any) -> None:
    populate(world)
    s = session(world, cast, draft=True)
    assert s.state == m.TestingState.DRAFT and not m.QueueEntry.objects.filter(session=s)
    with pytest.raises(DomainError) as exc:
        ta.call_next_batch(actor=cast.group_leader, session=s, key="k")
    assert exc.value.code == "lockdown.testing.bad_state"
    assert not tq.may_view(cast.resident, s)  # residents do not see a draft
    ta.open_session(actor=cast.group_member, session=s)
    s = ta.open_session(actor=cast.group_member, session=s)  # idempotent by state
    assert m.QueueEntry.objects.filter(session=s).count() == 8
    assert tq.may_view(cast.resident, s)


def test_who_may_run_and_view(world: Any, cast: Any) -> None:
    s = session(world, cast)
    for person in (cast.volunteer, cast.resident, cast.building_manager, cast.district_admin):
        with pytest.raises(PermissionDenied):
            ta.call_next_batch(actor=person, session=s, key="x")
    with pytest.raises(Http404):
        ta.call_next_batch(actor=cast.outsider, session=s, key="x")
    assert tq.is_staff(cast.district_admin, s) and not tq.may_run(cast.district_admin, s)
    assert tq.may_run(cast.branch_head, s) and tq.may_run(cast.group_member, s)
    assert not tq.may_view(cast.volunteer, s)  # no household in a covered building


def test_check_in_and_absent_rules(world: Any, cast: Any) -> None:
    hh = populate(world)
    s = session(world, cast, batch_size=2)
    leader = cast.group_leader
    # Not called yet: cannot be absent.
    with pytest.raises(DomainError) as exc:
        ta.mark_absent(actor=leader, session=s, household_id=hh["1号楼-101"].pk)
    assert exc.value.code == "lockdown.testing.not_called"
    ta.call_next_batch(actor=leader, session=s, key="1")
    e = ta.check_in(actor=leader, session=s, household_id=hh["1号楼-101"].pk)
    again = ta.check_in(actor=leader, session=s, household_id=hh["1号楼-101"].pk)
    assert again.checked_in_at == e.checked_in_at
    assert AuditEntry.objects.filter(code="lockdown.testing.checked_in").count() == 1
    with pytest.raises(DomainError) as exc:
        ta.mark_absent(actor=leader, session=s, household_id=hh["1号楼-101"].pk)
    assert exc.value.code == "lockdown.testing.already_checked_in"
    # A household outside the session (the other community's) is refused.
    with pytest.raises(DomainError) as exc:
        ta.check_in(actor=leader, session=s, household_id=world.other_household.pk)
    assert exc.value.code == "lockdown.testing.not_in_queue"
    with pytest.raises(DomainError) as exc:
        ta.check_in_by_code(
            actor=leader, session=s, token=household_code.make_code(world.other_household)
        )
    assert exc.value.code == "lockdown.testing.not_in_queue"
    # A tampered or empty code.
    token = household_code.make_code(hh["1号楼-102"])
    for bad, code in (
        (token[:-2] + "xx", "lockdown.household_code.invalid"),
        ("", "lockdown.household_code.required"),
        ("a" * 500, "lockdown.household_code.invalid"),
    ):
        with pytest.raises(DomainError) as exc:
            ta.check_in_by_code(actor=leader, session=s, token=bad)
        assert exc.value.code == code
    # A code with stray whitespace (a scanner's line break) still reads.
    assert household_code.read_code(f" {token}\n") == hh["1号楼-102"].pk


def test_batches_are_append_only(world: Any, cast: Any) -> None:
    populate(world)
    s = session(world, cast)
    b = ta.call_next_batch(actor=cast.group_leader, session=s, key="1")
    with pytest.raises(AppendOnlyError):
        b.save()
    with pytest.raises(AppendOnlyError):
        b.delete()


def test_search_and_screen_state(world: Any, cast: Any) -> None:
    hh = populate(world)
    s = session(world, cast, batch_size=2)
    assert [label(e.household) for e in tq.search_queue(s, "1号楼 302")] == ["1号楼-302"]
    assert [label(e.household) for e in tq.search_queue(s, "2-1001")] == ["2号楼-1001"]
    assert {label(e.household) for e in tq.search_queue(s, "101")} == {"1号楼-101", "2号楼-101"}
    assert tq.search_queue(s, "") == []
    state = tq.screen_state(s)
    assert (state["batch"], state["households"], state["waiting"]) == (0, [], 8)
    ta.call_next_batch(actor=cast.group_leader, session=s, key="1")
    ta.check_in(actor=cast.group_leader, session=s, household_id=hh["1号楼-101"].pk)
    state = tq.screen_state(s)
    assert state["batch"] == 1 and (state["first"], state["last"]) == (1, 2)
    assert state["households"] == ["1号楼 101", "1号楼 102"]
    assert (state["waiting"], state["tested"]) == (6, 1)
