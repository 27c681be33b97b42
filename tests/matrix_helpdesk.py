"""Permission-matrix rules for the helpdesk (huzhu/helpdesk: pages and API; see
tests/matrix_common.py).

The in-scope question is asked by the cast's resident and routed to ``world.group`` (客服关爱,
the default group), whose member and leader answer it; the other community's one is asked by a
resident there and routed to that community's 客服关爱 group (created on first use), where the
outsider is the branch head."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import ALL, BH, EVERYONE, GL, GM, Rule

RESIDENT = "resident"
ANSWERERS = frozenset({GM, GL, BH})
READERS = ANSWERERS | {RESIDENT}
PUBLISHERS = frozenset({GL, BH})


def _other_asker(world: Any) -> Any:
    from huzhu.accounts.models import Person, RoleGrant

    p = Person.objects.filter(name="外区提问居民").first()
    if p is None:
        p = Person(
            name="外区提问居民", community=world.other_community, household=world.other_household
        )
        p.set_phone("13700000055")
        p.set_unusable_password()
        p.save()
        RoleGrant.objects.create(
            person=p, role="resident", scope_kind="community", community=world.other_community
        )
    return p


def _question(world: Any, cast: Any, own: bool, answered: bool = False) -> Any:
    from huzhu.helpdesk import actions

    asker = cast.resident if own else _other_asker(world)
    q = actions.ask_question(actor=asker, text="明天几点做核酸？", key=f"matrix-{answered}")
    if answered:
        q = actions.answer_question(
            actor=cast.group_member if own else cast.outsider,
            question=q,
            answer="早上7点。",
            key="matrix-answer",
        )
    return q


def _faq(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.helpdesk import actions

    return actions.publish_faq(
        actor=cast.group_leader if own else cast.outsider,
        question=_question(world, cast, own, answered=True),
        key="matrix-publish",
    )


def _rule(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.helpdesk import actions

    return actions.save_rule(
        actor=cast.branch_head if own else cast.outsider,
        community=world.community if own else world.other_community,
        category="团购配送",
        keywords="团购\n蔬菜",
        group=world.group if own else world.other_group,
    )


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "hd_question_new": lambda w, c, own: _question(w, c, own),
    "hd_question_answered": lambda w, c, own: _question(w, c, own, answered=True),
    "hd_faq": _faq,
    "hd_rule": _rule,
}


def _data(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: dict(fields)


def _key(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: {**fields, "idempotency_key": "matrix-helpdesk"}


def _reassign_page(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {"group": (world.subgroup if own else world.other_group).pk, "reason": "转派"}


def _reassign_api(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {
        "group_id": (world.subgroup if own else world.other_group).pk,
        "reason": "转派",
        "idempotency_key": "matrix-reassign",
    }


def _rule_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {
        "community_id": (world.community if own else world.other_community).pk,
        "category": "物资",
        "keywords": ["物资"],
        "group_id": (world.group if own else world.other_group).pk,
        "idempotency_key": "matrix-rule",
    }


def _rule_change(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    body = _rule_body(world, cast, own)
    del body["community_id"]
    return body


Q = "/api/v1/helpdesk/questions/{question_id}"
F = "/api/v1/helpdesk/faq/{faq_id}"

PAGE_RULES: dict[str, Rule] = {
    "helpdesk:ask": Rule(None, ALL),
    "helpdesk:mine": Rule(None, EVERYONE),
    # The queue: whoever may answer somewhere (the outsider in its own community).
    "helpdesk:queue": Rule(None, ANSWERERS | {"outsider"}),
    "helpdesk:question": Rule("hd_question_new", READERS),
    "helpdesk:question_take": Rule("hd_question_new", ANSWERERS, method="POST"),
    "helpdesk:question_answer": Rule(
        "hd_question_new", ANSWERERS, method="POST", data=_data(answer="7点", key="m")
    ),
    "helpdesk:question_reassign": Rule(
        "hd_question_new", ANSWERERS, method="POST", data=_reassign_page
    ),
    "helpdesk:question_close": Rule(
        "hd_question_new", READERS, method="POST", data=_data(reason="重复")
    ),
    "helpdesk:question_publish": Rule(
        "hd_question_answered",
        PUBLISHERS,
        method="POST",
        data=_data(question="几点做核酸？", answer="7点", visibility="community", key="m"),
    ),
    "helpdesk:faq": Rule(None, EVERYONE),
    "helpdesk:faq_helped": Rule("hd_faq", ALL, method="POST"),
    "helpdesk:faq_active": Rule("hd_faq", PUBLISHERS, method="POST", data=_data(active="0")),
    "helpdesk:rules": Rule(None, frozenset({BH, "outsider"})),
    "helpdesk:rule_edit": Rule("hd_rule", frozenset({BH})),
}

API_RULES: dict[str, Rule] = {
    "POST /api/v1/helpdesk/questions": Rule(
        None, ALL, method="POST", data=_key(text="明天几点做核酸？")
    ),
    "GET /api/v1/helpdesk/questions/mine": Rule(None, EVERYONE),
    "GET /api/v1/helpdesk/questions": Rule(None, EVERYONE),
    f"GET {Q}": Rule("hd_question_new", READERS),
    f"POST {Q}/take": Rule("hd_question_new", ANSWERERS, method="POST", data=_key()),
    f"POST {Q}/answer": Rule("hd_question_new", ANSWERERS, method="POST", data=_key(answer="7点")),
    f"POST {Q}/reassign": Rule("hd_question_new", ANSWERERS, method="POST", data=_reassign_api),
    f"POST {Q}/close": Rule("hd_question_new", READERS, method="POST", data=_key(reason="重复")),
    f"POST {Q}/publish": Rule("hd_question_answered", PUBLISHERS, method="POST", data=_key()),
    "GET /api/v1/helpdesk/faq": Rule(None, EVERYONE),
    "GET /api/v1/helpdesk/faq/suggest": Rule(None, EVERYONE, data=_data(text="核酸几点")),
    f"POST {F}/helped": Rule("hd_faq", ALL, method="POST", data=_key()),
    f"POST {F}/active": Rule("hd_faq", PUBLISHERS, method="POST", data=_key(active=False)),
    "GET /api/v1/helpdesk/rules": Rule(None, frozenset({BH, "outsider"})),
    "POST /api/v1/helpdesk/rules": Rule(
        "community", frozenset({BH}), method="POST", data=_rule_body
    ),
    "POST /api/v1/helpdesk/rules/{rule_id}": Rule(
        "hd_rule", frozenset({BH}), method="POST", data=_rule_change
    ),
}
