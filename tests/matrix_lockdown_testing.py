"""Permission-matrix rules for mass testing (huzhu/lockdown/views_testing.py and
huzhu/lockdown/api/testing.py; see tests/matrix_common.py), merged by tests/matrix_lockdown.py.

The in-scope session is run by the cast's group leader for ``world.group`` and covers both
buildings of the community (the cast's resident lives in 1号楼-101, the first household of the
calling order); the other community's one is run by its branch head (the outsider) for
``world.other_group`` and covers its 9号楼. "lockdown.run_testing": branch head, group leader
and group member of the running group; "lockdown.view_testing" adds the district admin;
residents of a covered building see an opened session and its calling screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import BH, DA, EVERYONE, GL, GM, Rule

RESIDENT = "resident"
RUN = frozenset({BH, GL, GM})
STAFF = RUN | {DA}
READERS = STAFF | {RESIDENT}


def _session(world: Any, cast: Any, own: bool, step: str) -> Any:
    from huzhu.core import clock
    from huzhu.lockdown.actions import testing as ta

    leader = cast.group_leader if own else cast.outsider
    community = world.community if own else world.other_community
    s = ta.create_session(
        actor=leader,
        community=community,
        group=world.group if own else world.other_group,
        title="全员核酸",
        place="东门广场",
        starts_at=clock.now(),
        batch_size=5,
        buildings=[world.building, world.community.buildings.exclude(pk=world.building.pk)[0]]
        if own
        else [world.other_building],
        key=f"matrix-testing-{own}-{step}-{clock.now().timestamp()}",
        draft=step == "draft",
    )
    if step == "called":
        ta.call_next_batch(actor=leader, session=s, key="matrix-call")
    s.refresh_from_db()
    return s


def _household(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {
        "household": (world.household if own else world.other_household).pk,
        "household_id": (world.household if own else world.other_household).pk,
        "idempotency_key": "matrix-testing",
    }


def _key(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: {**fields, "idempotency_key": "matrix-testing"}


def _form(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: dict(fields)


def _create_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from huzhu.core import clock

    community = world.community if own else world.other_community
    return {
        "community_id": community.pk,
        "group_id": (world.group if own else world.other_group).pk,
        "title": "全员核酸",
        "place": "东门广场",
        "starts_at": clock.now().isoformat(),
        "batch_size": 10,
        "building_ids": list(community.buildings.values_list("pk", flat=True)),
        "idempotency_key": "matrix-testing-create",
    }


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    f"testing_{step}": (lambda s: lambda w, c, own: _session(w, c, own, s))(step)
    for step in ("draft", "open", "called")
}

TS = "/api/v1/lockdown/testing-sessions/{session_id}"

API_RULES: dict[str, Rule] = {
    "GET /api/v1/lockdown/testing-sessions": Rule(None, EVERYONE),
    "POST /api/v1/lockdown/testing-sessions": Rule("group", RUN, method="POST", data=_create_body),
    f"GET {TS}": Rule("testing_open", READERS),
    f"POST {TS}/open": Rule("testing_draft", RUN, method="POST", data=_key()),
    f"POST {TS}/close": Rule("testing_open", RUN, method="POST", data=_key()),
    f"POST {TS}/call-next": Rule("testing_open", RUN, method="POST", data=_key()),
    f"POST {TS}/check-in": Rule("testing_open", RUN, method="POST", data=_household),
    f"POST {TS}/absent": Rule("testing_called", RUN, method="POST", data=_household),
    f"GET {TS}/counts": Rule("testing_open", STAFF),
    f"GET {TS}/search": Rule("testing_open", STAFF, data=_form(q="1号楼 101")),
    f"GET {TS}/follow-up": Rule("testing_open", STAFF),
    f"GET {TS}/follow-up.xlsx": Rule("testing_open", STAFF),
    f"GET {TS}/screen": Rule("testing_open", READERS),
}


PAGE_RULES: dict[str, Rule] = {
    "lockdown:testing_sessions": Rule(None, EVERYONE),
    # Creating a session: whoever holds "lockdown.run_testing" somewhere (the outsider in its
    # own community); the form lists only their groups.
    "lockdown:testing_create": Rule(None, RUN | {"outsider"}),
    "lockdown:household_code": Rule(None, EVERYONE),
    "lockdown:testing_session": Rule("testing_open", READERS),
    "lockdown:testing_step": Rule("testing_open", RUN, method="POST", data=_form(step="close")),
    "lockdown:testing_call": Rule("testing_open", RUN, method="POST", data=_form(key="m")),
    "lockdown:testing_check_in": Rule("testing_open", RUN, method="POST", data=_household),
    "lockdown:testing_absent": Rule("testing_called", RUN, method="POST", data=_household),
    "lockdown:testing_screen": Rule("testing_open", READERS),
    "lockdown:testing_screen_data": Rule("testing_open", READERS),
    "lockdown:testing_board": Rule("testing_open", STAFF),
    "lockdown:testing_follow_up": Rule("testing_open", STAFF),
}
