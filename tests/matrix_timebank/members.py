"""Permission-matrix rules for the time bank's members routes (see tests/matrix_common.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import BH, BM, DA, EVERYONE, FO, Rule

MANAGERS = frozenset({BH, FO})
VIEWERS = frozenset({BH, FO, BM, DA})


def _membership(world: Any, cast: Any, own: bool) -> Any:
    """A trial membership of the resident (own) or of a person of the other community."""
    import datetime as dt

    from huzhu.accounts.models import Person
    from huzhu.core import clock
    from huzhu.timebank.models import Membership

    if own:
        person = cast.resident
    else:
        person = Person(
            name="外区会员", community=world.other_community, household=world.other_household
        )
        person.set_phone("13700000088")
        person.set_unusable_password()
        person.save()
    today = clock.today()
    return Membership.objects.create(
        person=person,
        community=person.community,
        tier="trial",
        joined_on=today,
        ends_on=today + dt.timedelta(days=364),
    )


def _payment(receipt: str) -> Callable[[Any, Any, bool], dict[str, Any]]:
    def data(world: Any, cast: Any, own: bool) -> dict[str, Any]:
        from huzhu.core import clock

        return {
            "tier": "trial",
            "amount_fen": 10000,
            "method": "cash",
            "receipt_number": receipt,
            "paid_on": clock.today().isoformat(),
            "idempotency_key": f"matrix-{receipt}",
        }

    return data


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {"membership": _membership}

PAGE_RULES: dict[str, Rule] = {
    "timebank:member_list": Rule(None, VIEWERS | {"outsider"}, other_param="community"),
    "timebank:member_export": Rule(None, VIEWERS | {"outsider"}, other_param="community"),
    "timebank:member_join": Rule(None, MANAGERS | {"outsider"}),
    "timebank:member_detail": Rule("membership", VIEWERS),
    "timebank:member_renew": Rule("membership", MANAGERS),
    "timebank:my_membership": Rule(None, EVERYONE),
    "timebank:leaderboard": Rule(None, EVERYONE),
}

API_RULES: dict[str, Rule] = {
    "GET /api/v1/timebank/members": Rule(None, VIEWERS | {"outsider"}, other_param="community"),
    "POST /api/v1/timebank/people/{person_id}/membership": Rule(
        "person", MANAGERS, method="POST", data=_payment("MX-JOIN")
    ),
    "GET /api/v1/timebank/members/{membership_id}": Rule("membership", VIEWERS),
    "POST /api/v1/timebank/members/{membership_id}/renew": Rule(
        "membership", MANAGERS, method="POST", data=_payment("MX-RENEW")
    ),
    "GET /api/v1/timebank/me/membership": Rule(None, EVERYONE),
    "GET /api/v1/timebank/leaderboard": Rule(None, EVERYONE),
}
