"""Mass testing on PostgreSQL: staff pressing "call next batch" at the same time call distinct,
consecutive batches (no household called twice, nobody notified twice); concurrent replays of
one key make one batch; a household checked in by two scanners at once is checked in once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from huzhu.audit.models import AuditEntry
from huzhu.core.errors import DomainError
from huzhu.lockdown import models as m
from huzhu.lockdown.actions import testing as ta
from huzhu.lockdown.tests.testing_support import populate, session
from huzhu.notify.models import Notification
from huzhu.timebank.tests.threads import in_threads

pytestmark = pytest.mark.postgres


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )


def test_concurrent_calls_make_consecutive_disjoint_batches(
    transactional_db: Any, world: Any, cast: Any
) -> None:
    _need_postgres()
    populate(world)
    s = session(world, cast, batch_size=1)
    staff = [cast.group_leader, cast.group_member, cast.branch_head]
    n = 6

    def work(i: int) -> Any:
        try:
            return ta.call_next_batch(actor=staff[i % 3], session=s, key=f"press-{i}").number
        except DomainError as exc:
            return exc.code

    results, errors = in_threads(n, work)
    assert errors == []
    assert sorted(results) == list(range(1, n + 1))
    called = list(
        m.QueueEntry.objects.filter(session=s, batch__isnull=False)
        .order_by("sequence")
        .values_list("sequence", "batch")
    )
    assert called == [(i, i) for i in range(1, n + 1)]  # in calling order, one each
    people = list(
        Notification.objects.filter(code="lockdown.testing.called").values_list(
            "person_id", flat=True
        )
    )
    assert len(people) == len(set(people))


def test_concurrent_replays_of_one_key_make_one_batch(
    transactional_db: Any, world: Any, cast: Any
) -> None:
    _need_postgres()
    populate(world)
    s = session(world, cast, batch_size=3)

    def work(i: int) -> int:
        return ta.call_next_batch(actor=cast.group_leader, session=s, key="double-tap").pk

    results, errors = in_threads(5, work)
    assert errors == [] and len(set(results)) == 1
    assert m.TestingBatch.objects.filter(session=s).count() == 1
    assert AuditEntry.objects.filter(code="lockdown.testing.batch_called").count() == 1


def test_one_household_checked_in_by_two_scanners(
    transactional_db: Any, world: Any, cast: Any
) -> None:
    _need_postgres()
    hh = populate(world)
    s = session(world, cast)
    target = hh["1号楼-102"].pk

    def work(i: int) -> Any:
        actor = cast.group_member if i % 2 else cast.group_leader
        return ta.check_in(actor=actor, session=s, household_id=target).checked_in_at

    results, errors = in_threads(4, work)
    assert errors == [] and len(set(results)) == 1
    assert AuditEntry.objects.filter(code="lockdown.testing.checked_in").count() == 1
