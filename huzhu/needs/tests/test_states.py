"""The one state machine of a need (huzhu/needs/states.py): its table, and that every
transition has exactly one action behind it."""

from __future__ import annotations

import pytest

from huzhu.core.errors import ConflictError
from huzhu.needs import actions, states
from huzhu.needs.models import Need
from huzhu.needs.states import FINAL_STATES, TRANSITIONS, NeedState

S = NeedState

# Each transition of the table and the action that takes it.
ACTION_OF = {
    "approve": actions.review_need,
    "reject": actions.review_need,
    "offer": actions.offer_need,
    "rematch": actions.decline_assignment,  # and the sweeper's lapse_offers
    "accept": actions.accept_assignment,
    "check_in": actions.check_in,
    "confirm": actions.confirm_need,
    "rate": actions.rate_need,
    "cancel": actions.cancel_need,
    "expire": actions.expire_need,
    "no_show": actions.mark_no_show,
}


def test_every_transition_has_an_action() -> None:
    assert set(ACTION_OF) == set(TRANSITIONS)


def test_the_loop_of_domain_md() -> None:
    path = [
        ("approve", S.SUBMITTED, S.APPROVED),
        ("offer", S.APPROVED, S.OFFERED),
        ("accept", S.OFFERED, S.ACCEPTED),
        ("check_in", S.ACCEPTED, S.IN_SERVICE),
        ("confirm", S.IN_SERVICE, S.COMPLETED),
        ("rate", S.COMPLETED, S.RATED),
    ]
    for name, source, target in path:
        assert states.allowed(source, name)
        assert states.check(source, name).target == target


def test_every_state_is_reachable_from_submitted() -> None:
    seen = {S.SUBMITTED.value}
    frontier = [S.SUBMITTED.value]
    while frontier:
        state = frontier.pop()
        for name in states.next_names(state):
            target = TRANSITIONS[name].target
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(NeedState.values)


def test_final_states_have_no_way_out() -> None:
    for state in FINAL_STATES:
        assert states.next_names(state) == []
    # Completed is not final: it waits for the rating.
    assert states.next_names(S.COMPLETED) == ["rate"]


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (S.SUBMITTED, "offer"),
        (S.APPROVED, "accept"),
        (S.REJECTED, "approve"),
        (S.IN_SERVICE, "cancel"),
        (S.COMPLETED, "cancel"),
        (S.RATED, "rate"),
        (S.SUBMITTED, "no_show"),
        (S.ACCEPTED, "expire"),
    ],
)
def test_a_transition_from_the_wrong_state_is_a_conflict(state: str, name: str) -> None:
    with pytest.raises(ConflictError) as err:
        states.check(state, name)
    assert err.value.code == "needs.need.bad_state"
    assert err.value.status == 409
    assert err.value.details == {"state": state, "transition": name}


def test_who_may_take_each_transition() -> None:
    assert TRANSITIONS["approve"].parties == ("needs.review",)
    assert TRANSITIONS["accept"].parties == (states.VOLUNTEER,)
    assert states.REQUESTER in TRANSITIONS["confirm"].parties
    assert "needs.manage" in TRANSITIONS["confirm"].parties  # from the paper slip
    assert TRANSITIONS["expire"].parties == (states.SYSTEM,)
    assert states.SYSTEM not in TRANSITIONS["cancel"].parties


def test_audit_codes_are_namespaced_and_unique() -> None:
    codes = [t.audit_code for t in TRANSITIONS.values()]
    assert len(codes) == len(set(codes))
    assert all(code.startswith("needs.need.") for code in codes)


def test_state_values_fit_the_column() -> None:
    width = Need._meta.get_field("state").max_length
    assert width is not None
    assert all(len(v) <= width for v in NeedState.values)
