"""Helpers for the needs tests: a frozen clock, need types, volunteers, and needs in a state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import time_machine

from huzhu.accounts.models import Person, RoleGrant
from huzhu.needs import actions
from huzhu.needs.models import Assignment, Need, NeedType
from huzhu.orgs.actions import set_setting
from huzhu.timebank.actions.ledger import credit_service, person_account

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2 March 2026, 09:00 in Shanghai: the tests' "now".
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


@contextmanager
def at(moment: dt.datetime) -> Iterator[None]:
    """Freeze the one clock (huzhu.core.clock) at ``moment``."""
    with time_machine.travel(moment, tick=False):
        yield


def balance(person: Person) -> int:
    """The person's cached points balance, as stored now (hundredths)."""
    account = person_account(person)
    account.refresh_from_db()
    return int(account.balance)


def need_type(code: str = "haircut", name: str = "理发", minutes: int = 60) -> NeedType:
    return NeedType.objects.get_or_create(
        code=code,
        defaults={"name": name, "name_en": code.title(), "default_duration_minutes": minutes},
    )[0]


def volunteer(world: Any, name: str, *, phone: str, gender: str = "U") -> Person:
    """Another volunteer of ``world.community``."""
    p = Person(name=name, community=world.community, gender=gender)
    p.set_phone(phone)
    p.save()
    RoleGrant.objects.create(
        person=p, role="volunteer", scope_kind="community", community=world.community
    )
    return p


def give_points(person: Person, world: Any, hours: int, key: str) -> None:
    credit_service(
        actor=None, volunteer=person, hours=Decimal(hours), community=world.community, key=key
    )


def override(actor: Person, world: Any, key: str, value: Any) -> None:
    """A community setting, through the settings action (as the branch head)."""
    set_setting(actor=actor, node=world.community, key=key, value=value)


def publish(cast: Any, *, starts_in: dt.timedelta = dt.timedelta(days=1), **kw: Any) -> Need:
    """The resident publishes a haircut need starting ``starts_in`` from now, one hour long."""
    from huzhu.core import clock

    start = clock.now() + starts_in
    fields: dict[str, Any] = {
        "actor": cast.resident,
        "need_type": need_type(),
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=1),
        "description": "上门理发，老人行动不便",
    }
    fields.update(kw)
    return actions.publish_need(**fields)


def approved(cast: Any, **kw: Any) -> Need:
    need = publish(cast, **kw)
    return actions.review_need(actor=cast.building_manager, need=need, approve=True)


def offered(cast: Any, volunteers: list[Person] | None = None, **kw: Any) -> Need:
    need = approved(cast, **kw)
    actions.offer_need(
        actor=cast.building_manager, need=need, volunteers=volunteers or [cast.volunteer]
    )
    need.refresh_from_db()
    return need


def assignment_of(need: Need, person: Person) -> Assignment:
    return Assignment.objects.get(need=need, volunteer=person)


def accepted(cast: Any, **kw: Any) -> Need:
    need = offered(cast, **kw)
    actions.accept_assignment(actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer))
    need.refresh_from_db()
    return need
