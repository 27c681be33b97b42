"""On PostgreSQL: 20 volunteers accepting the same need at once produce exactly one accepted
assignment; the other 19 are told it is taken (issue 5, acceptance 3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection

from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.needs import actions
from huzhu.needs.models import Assignment, AssignmentState, Need, NeedState
from huzhu.needs.tests.support import give_points, need_type, volunteer
from huzhu.timebank.actions.ledger import person_account
from huzhu.timebank.models import Hold
from huzhu.timebank.tests.threads import in_threads

pytestmark = pytest.mark.postgres

N = 20


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locks and concurrent connections need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )


def _offered_to_twenty(cast: Any, world: Any, **kw: Any) -> tuple[Need, list[Assignment]]:
    start = clock.now() + dt.timedelta(days=1)
    need = actions.publish_need(
        actor=cast.resident,
        need_type=need_type(),
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        description="上门理发",
        **kw,
    )
    actions.review_need(actor=cast.building_manager, need=need, approve=True)
    people = [volunteer(world, f"志愿者{i}", phone=f"1370000{i:04d}") for i in range(N)]
    opened = actions.offer_need(actor=cast.building_manager, need=need, volunteers=people)
    assert len(opened) == N
    return need, opened


def _race(assignments: list[Assignment]) -> tuple[list[Any], list[BaseException]]:
    def work(i: int) -> str:
        a = Assignment.objects.select_related("volunteer").get(pk=assignments[i].pk)
        try:
            actions.accept_assignment(actor=a.volunteer, assignment=a)
            return "won"
        except DomainError as exc:
            return exc.code

    return in_threads(N, work)


def test_twenty_concurrent_accepts_one_winner(transactional_db: Any, cast: Any, world: Any) -> None:
    _need_postgres()
    need, opened = _offered_to_twenty(cast, world)
    results, errors = _race(opened)
    assert errors == []
    assert sorted(results) == ["needs.need.taken"] * (N - 1) + ["won"]
    held = Assignment.objects.filter(need=need, state=AssignmentState.ACCEPTED)
    assert held.count() == 1
    assert Assignment.objects.filter(need=need, state=AssignmentState.WITHDRAWN).count() == N - 1
    need.refresh_from_db()
    assert need.state == NeedState.ACCEPTED
    assert need.events.filter(transition="accept").count() == 1


def test_twenty_concurrent_accepts_hold_the_points_once(
    transactional_db: Any, cast: Any, world: Any
) -> None:
    _need_postgres()
    give_points(cast.resident, world, 5, "seed")
    need, opened = _offered_to_twenty(cast, world, pay_with_points=True, points=300)
    results, errors = _race(opened)
    assert errors == []
    assert results.count("won") == 1
    assert Hold.objects.filter(idempotency_key=f"need:{need.pk}:hold").count() == 1
    account = person_account(cast.resident)
    account.refresh_from_db()
    assert (account.balance, account.held) == (500, 300)


def test_ten_concurrent_publishes_with_one_key_make_one_need(
    transactional_db: Any, cast: Any, world: Any
) -> None:
    """A retried publish (the same idempotency key) that races the first writes nothing."""
    _need_postgres()
    start = clock.now() + dt.timedelta(days=1)
    kind = need_type()

    def work(i: int) -> int:
        need = actions.publish_need(
            actor=cast.resident,
            need_type=kind,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=1),
            description="上门理发",
            key="publish-race",
        )
        return need.pk

    results, errors = in_threads(10, work)
    assert errors == []
    assert len(set(results)) == 1
    assert Need.objects.filter(publish_key="publish-race").count() == 1
