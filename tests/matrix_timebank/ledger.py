"""Permission-matrix rules for the time bank's ledger routes (see tests/matrix_common.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.matrix_common import BH, BM, DA, EVERYONE, FO, Rule

PAPER_ROLES = frozenset({BH, BM})
LEDGER_VIEWERS = frozenset({BH, BM, FO, DA})
REVERSERS = frozenset({BH, DA})


def _other_person(world: Any) -> Any:
    from huzhu.accounts.models import Person

    p = Person.objects.filter(name="外区居民").first()
    if p is None:
        p = Person(
            name="外区居民", community=world.other_community, household=world.other_household
        )
        p.set_phone("13700000077")
        p.set_unusable_password()
        p.save()
    return p


def _checker_free_entry(world: Any, cast: Any, own: bool) -> Any:
    """A pending slip entered by a third manager, so every allowed role of the cast may
    check it (nobody of the cast is its author)."""
    from huzhu.accounts.models import Person, RoleGrant
    from huzhu.core import clock
    from huzhu.timebank.models import PaperEntry

    community = world.community if own else world.other_community
    enterer = Person(name="另一位楼长", community=community)
    enterer.set_phone("13700000088" if own else "13700000089")
    enterer.set_unusable_password()
    enterer.save()
    RoleGrant.objects.create(
        person=enterer, role="branch_head", scope_kind="community", community=community
    )
    person = cast.resident if own else _other_person(world)
    return PaperEntry.objects.create(
        community=community,
        building=world.building if own else world.other_building,
        person=person,
        kind="earn",
        hours=Decimal(1),
        service_date=clock.today(),
        slip_number=f"M-{int(own)}",
        entered_by=enterer,
        entered_at=clock.now(),
        idempotency_key=f"matrix-paper-{own}",
    )


def _service_day(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.timebank.models import ServiceDay

    community = world.community if own else world.other_community
    return ServiceDay.objects.create(community=community, date=dt.date(2030, 3, 5), name="首存日")


def _transaction(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.timebank import actions

    person = cast.resident if own else _other_person(world)
    return actions.credit_service(
        actor=None,
        volunteer=person,
        hours=Decimal(2),
        community=person.community,
        key=f"matrix-tx-{own}",
    )


def _fund_everyone(world: Any, cast: Any) -> Any:
    """Give every member of the cast points and return a payee account nobody of the cast
    owns (the call runs inside the matrix's rolled-back transaction)."""
    from huzhu.timebank import actions
    from huzhu.timebank.models import Account, AccountKind

    for person in cast.values():
        actions.credit_service(
            actor=None,
            volunteer=person,
            hours=Decimal(1),
            community=person.community,
            key=f"matrix-fund-{person.pk}",
        )
    return Account.objects.get_or_create(kind=AccountKind.FUND, name="互助基金")[0]


def _transfer_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    payee = _fund_everyone(world, cast)
    return {"payee_account": payee.pk, "amount": 10, "idempotency_key": "matrix-transfer"}


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "paper_entry": _checker_free_entry,
    "service_day": _service_day,
    "transaction": _transaction,
}

PAGE_RULES: dict[str, Rule] = {
    "timebank:my_points": Rule(None, EVERYONE),
    "timebank:my_points_export": Rule(None, EVERYONE),
    "timebank:person_statement": Rule("person", LEDGER_VIEWERS),
    "timebank:transaction_reverse": Rule("transaction", REVERSERS),
    "timebank:service_days": Rule("community", frozenset({BH})),
    "timebank:service_day_delete": Rule("service_day", frozenset({BH}), method="POST"),
    "timebank:paper_list": Rule(None, frozenset({BH, BM, "outsider"})),
    "timebank:paper_create": Rule(None, frozenset({BH, BM, "outsider"})),
    "timebank:paper_export": Rule(None, frozenset({BH, BM, "outsider"})),
    "timebank:paper_detail": Rule("paper_entry", PAPER_ROLES),
}

API_RULES: dict[str, Rule] = {
    "GET /api/v1/timebank/me": Rule(None, EVERYONE),
    "GET /api/v1/timebank/me/statement": Rule(None, EVERYONE),
    "GET /api/v1/timebank/people/{person_id}/statement": Rule("person", LEDGER_VIEWERS),
    "POST /api/v1/timebank/transfers": Rule(None, EVERYONE, method="POST", data=_transfer_body),
    "POST /api/v1/timebank/transactions/{transaction_id}/reverse": Rule(
        "transaction",
        REVERSERS,
        method="POST",
        data=lambda w, c, own: {
            "reason": "录错",
            "evidence": "登记本照片",
            "idempotency_key": "matrix-reverse",
        },
    ),
    "GET /api/v1/timebank/communities/{community_id}/service-days": Rule(
        "community", frozenset({BH})
    ),
    "POST /api/v1/timebank/communities/{community_id}/service-days": Rule(
        "community",
        frozenset({BH}),
        method="POST",
        data=lambda w, c, own: {"date": "2030-05-04", "name": "青年节"},
    ),
    "DELETE /api/v1/timebank/service-days/{day_id}": Rule(
        "service_day", frozenset({BH}), method="DELETE"
    ),
    "GET /api/v1/timebank/paper": Rule(None, frozenset({BH, BM, "outsider"})),
    "POST /api/v1/timebank/paper": Rule(
        "person",
        PAPER_ROLES,
        method="POST",
        data=lambda w, c, own: {
            "person_id": (c.resident if own else _other_person(w)).pk,
            "kind": "earn",
            "hours": "1.5",
            "service_date": "2026-01-05",
            "slip_number": "MX-1",
            "idempotency_key": "matrix-paper-new",
        },
    ),
    "GET /api/v1/timebank/paper/{entry_id}": Rule("paper_entry", PAPER_ROLES),
    "POST /api/v1/timebank/paper/{entry_id}/check": Rule(
        "paper_entry",
        PAPER_ROLES,
        method="POST",
        data=lambda w, c, own: {"approve": False, "reason": "与登记本不符"},
    ),
}
