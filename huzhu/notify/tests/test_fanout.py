"""Broadcast fan-out, receipts, replies, tally and re-send through the actions."""

from __future__ import annotations

from typing import Any

import pytest

from huzhu.accounts.models import Person, RoleGrant
from huzhu.core.errors import DomainError
from huzhu.notify import actions, queries
from huzhu.notify.models import Broadcast, BroadcastStatus, Receipt

pytestmark = pytest.mark.django_db


def _volunteers(world: Any, n: int) -> list[Person]:
    people = []
    for i in range(n):
        p = Person(
            name=f"志愿者{i}",
            community=world.community,
            household=world.household if i % 2 else None,
        )
        p.set_phone(f"135{i:08d}")
        p.set_unusable_password()
        p.save()
        RoleGrant.objects.create(
            person=p, role="volunteer", scope_kind="community", community=world.community
        )
        people.append(p)
    return people


def _broadcast(cast: Any, world: Any, capture: Any, **kw: Any) -> Broadcast:
    with capture(execute=True):
        b = actions.create_broadcast(
            actor=cast.branch_head,
            audience={"community": world.community.pk, "roles": ["volunteer"]},
            title="明早核酸",
            body="请回复能否到岗",
            reply_kind="yes_no",
            **kw,
        )
    b.refresh_from_db()
    return b


def test_fan_out_in_batches_reaches_every_volunteer_once(
    world: Any, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vols = _volunteers(world, 7)
    b = Broadcast.objects.create(
        alliance=world.alliance,
        community=world.community,
        author=cast.branch_head,
        title="t",
        body="b",
        audience={"community": world.community.pk, "roles": ["volunteer"]},
        status=BroadcastStatus.SENDING,
    )
    assert actions.fan_out(b.pk, batch=3) == 8  # 7 + cast.volunteer
    b.refresh_from_db()
    assert b.status == BroadcastStatus.SENT and b.recipient_count == 8
    assert set(Receipt.objects.filter(broadcast=b).values_list("person_id", flat=True)) == {
        *(p.pk for p in vols),
        cast.volunteer.pk,
    }
    # Running it again (a crashed worker retried) writes nothing twice.
    b.status = BroadcastStatus.SENDING
    b.save()
    assert actions.fan_out(b.pk, batch=2) == 8
    assert Receipt.objects.filter(broadcast=b).count() == 8
    # A crash half-way: some batches written, others not; the re-run completes it.
    lost = sorted(Receipt.objects.filter(broadcast=b).values_list("person_id", flat=True))[::2]
    Receipt.objects.filter(broadcast=b, person_id__in=lost).delete()
    b.status = BroadcastStatus.SENDING
    b.save()
    assert actions.fan_out(b.pk, batch=2) == 8
    assert sorted(
        Receipt.objects.filter(broadcast=b).values_list("person_id", flat=True)
    ) == sorted({*(p.pk for p in vols), cast.volunteer.pk})


def test_reply_tally_and_resend_to_silent(
    world: Any, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vols = _volunteers(world, 4)
    b = _broadcast(cast, world, django_capture_on_commit_callbacks)
    assert b.status == BroadcastStatus.SENT and b.recipient_count == 5
    r0 = Receipt.objects.get(broadcast=b, person=vols[0])
    actions.reply_to_broadcast(actor=vols[0], receipt=r0, value="是")
    r1 = Receipt.objects.get(broadcast=b, person=vols[1])
    actions.mark_read(actor=vols[1], receipt=r1)
    with pytest.raises(DomainError):
        actions.reply_to_broadcast(actor=vols[1], receipt=r1, value="maybe")
    assert queries.tally_totals(b) == {"delivered": 5, "read": 2, "replied": 1}
    assert queries.reply_counts(b) == [("yes", 1)]
    assert queries.unread_count(vols[2]) == 1
    n = actions.resend_to_silent(actor=cast.branch_head, broadcast=b, which="unread")
    assert n == 3
    resent = set(
        Receipt.objects.filter(broadcast=b, resend_count=1).values_list("person_id", flat=True)
    )
    assert resent == {vols[2].pk, vols[3].pk, cast.volunteer.pk}
