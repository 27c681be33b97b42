"""The permission matrix (ARCHITECTURE.md S1), generated from the URL configuration and the
OpenAPI schema: every URL and API operation × every role of the cast × an object in scope and
one from another community. A URL or operation without a rule here fails the suite.

Expected answers, from one rule per route (the roles allowed on the in-scope object):
- in-scope object: an allowed role succeeds (2xx, or a redirect that is not to the login page);
  another role of the community gets 403; the outsider (branch head of the other community)
  gets 404;
- the other community's object: the outsider succeeds when branch heads are allowed, else 403;
  the district admin (alliance scope) succeeds when allowed, else 403; everyone else gets 404;
- anonymous: pages redirect to the login page, API operations answer 401;
- a public route (``public=True``) succeeds for everybody, anonymous included, on either
  community's object; an owner-only route (the resident's own notification, receipt, slot…)
  succeeds for the resident alone, everybody else gets 404.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import ROLE_PHONES
from tests.matrix_common import BH, BM, BR, DA, EVERYONE, FO, GL, GM, ROLES, Rule
from tests.matrix_documents import API_RULES as DOCUMENTS_API_RULES
from tests.matrix_documents import OBJECTS as DOCUMENTS_OBJECTS
from tests.matrix_documents import PAGE_RULES as DOCUMENTS_PAGE_RULES
from tests.matrix_helpdesk import API_RULES as HELPDESK_API_RULES
from tests.matrix_helpdesk import OBJECTS as HELPDESK_OBJECTS
from tests.matrix_helpdesk import PAGE_RULES as HELPDESK_PAGE_RULES
from tests.matrix_lockdown import API_RULES as LOCKDOWN_API_RULES
from tests.matrix_lockdown import OBJECTS as LOCKDOWN_OBJECTS
from tests.matrix_lockdown import PAGE_RULES as LOCKDOWN_PAGE_RULES
from tests.matrix_needs import API_RULES as NEEDS_API_RULES
from tests.matrix_needs import OBJECTS as NEEDS_OBJECTS
from tests.matrix_needs_pages import PAGE_RULES as NEEDS_PAGE_RULES
from tests.matrix_timebank import API_RULES as TIMEBANK_API_RULES
from tests.matrix_timebank import OBJECTS as TIMEBANK_OBJECTS
from tests.matrix_timebank import PAGE_RULES as TIMEBANK_PAGE_RULES


def _job(world: Any, own: bool) -> Any:
    from huzhu.orgs.models import JobDescription

    group = world.group if own else world.other_group
    return JobDescription.objects.create(
        community=group.community, group=group, title="岗位", purpose="目的", duties="职责"
    )


def _person(world: Any, cast: Any, own: bool) -> Any:
    if own:
        return cast.resident
    from huzhu.accounts.models import Person

    p = Person(name="外区居民", community=world.other_community, household=world.other_household)
    p.set_phone("13700000077")
    p.set_unusable_password()
    p.save()
    return p


def _grant(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.accounts.models import RoleGrant

    person = _person(world, cast, own)
    community = world.community if own else world.other_community
    return RoleGrant.objects.create(
        person=person, role="volunteer", scope_kind="community", community=community
    )


def _slot(world: Any, cast: Any, own: bool) -> Any:
    import datetime as dt

    from huzhu.accounts.models import AvailabilitySlot

    return AvailabilitySlot.objects.create(
        person=cast.resident, weekday=2, start_time=dt.time(9), end_time=dt.time(11)
    )


def _exception(world: Any, cast: Any, own: bool) -> Any:
    import datetime as dt

    from huzhu.accounts.models import AvailabilityException

    return AvailabilityException.objects.create(
        person=cast.resident, date=dt.date.today() + dt.timedelta(days=3), available=False
    )


def _skill() -> Any:
    from huzhu.accounts.models import Skill

    return Skill.objects.get_or_create(
        code="haircut", defaults={"name": "理发", "name_en": "Haircut"}
    )[0]


def _roster_file(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = "姓名,手机号\n张三,13655556666\n".encode()
    return {"file": SimpleUploadedFile("roster.csv", body, content_type="text/csv")}


def _held_skill(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.accounts.models import PersonSkill

    return PersonSkill.objects.create(person=cast.resident, skill=_skill(), level=2)


def _broadcast(world: Any, cast: Any, own: bool, **fields: Any) -> Any:
    """A broadcast to the volunteers of the community, by its branch head (the outsider is
    the branch head of the other community), asking for a yes/no reply."""
    from huzhu.core import clock
    from huzhu.notify.models import Broadcast

    community = world.community if own else world.other_community
    values: dict[str, Any] = {
        "alliance": world.alliance,
        "community": community,
        "author": cast.branch_head if own else cast.outsider,
        "title": "明早核酸",
        "body": "请回复能否到岗",
        "visibility": "public",
        "audience": {"community": community.pk, "roles": ["volunteer"]},
        "reply_kind": "yes_no",
        "status": "sent",
        "sent_at": clock.now(),
        **fields,
    }
    return Broadcast.objects.create(**values)


def _sent_broadcast(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.core import clock
    from huzhu.notify.models import Receipt

    b = _broadcast(world, cast, own)
    person = cast.volunteer if own else cast.outsider
    Receipt.objects.create(
        broadcast=b,
        person=person,
        community=person.community,
        delivered_at=clock.now(),
    )
    b.recipient_count = 1
    b.save(update_fields=["recipient_count"])
    return b


def _scheduled_broadcast(world: Any, cast: Any, own: bool) -> Any:
    import datetime as dt

    from huzhu.core import clock

    return _broadcast(
        world,
        cast,
        own,
        status="scheduled",
        sent_at=None,
        scheduled_at=clock.now() + dt.timedelta(days=1),
    )


def _receipt(world: Any, cast: Any, own: bool) -> Any:
    """The resident's own receipt of a broadcast asking for a yes/no reply."""
    from huzhu.core import clock
    from huzhu.notify.models import Receipt

    b = _broadcast(world, cast, True)
    return Receipt.objects.create(
        broadcast=b,
        person=cast.resident,
        community=world.community,
        building=world.building,
        delivered_at=clock.now(),
    )


def _notification(world: Any, cast: Any, own: bool) -> Any:
    """The resident's own notification."""
    from huzhu.core import clock
    from huzhu.notify.models import Notification

    return Notification.objects.create(
        person=cast.resident,
        community=world.community,
        code="needs.offer",
        title="有人响应了您的求助",
        created_at=clock.now(),
        idempotency_key=f"matrix:{own}",
    )


def _audience(w: Any, c: Any, own: bool) -> dict[str, Any]:
    return {"community": (w.community if own else w.other_community).pk}


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "slot": _slot,
    "exception": _exception,
    "held_skill": _held_skill,
    "community": lambda w, c, own: w.community if own else w.other_community,
    "building": lambda w, c, own: w.building if own else w.other_building,
    "household": lambda w, c, own: w.household if own else w.other_household,
    "group": lambda w, c, own: w.group if own else w.other_group,
    "job": lambda w, c, own: _job(w, own),
    "person": _person,
    "grant": _grant,
    "broadcast": _sent_broadcast,
    "scheduled_broadcast": _scheduled_broadcast,
    "receipt": _receipt,
    "notification": _notification,
}


# One rule per URL name. Keep in step with docs/permissions.md.
PAGE_RULES: dict[str, Rule] = {
    "home": Rule(None, EVERYONE),
    "toggle_large_text": Rule(None, EVERYONE, method="POST", public=True),
    "set_language": Rule(
        None, EVERYONE, method="POST", public=True, data=lambda w, c, own: {"language": "en"}
    ),
    "accounts:login": Rule(None, EVERYONE, public=True),
    "accounts:logout": Rule(None, EVERYONE, method="POST", public=True),
    "accounts:profile": Rule(None, EVERYONE),
    "accounts:profile_edit": Rule(None, EVERYONE),
    "accounts:availability": Rule(None, EVERYONE),
    "accounts:skills": Rule(None, EVERYONE),
    "accounts:password_change": Rule(None, EVERYONE),
    "accounts:person_list": Rule(
        None, frozenset({BH, BM, BR, DA, "outsider"}), other_param="community"
    ),
    "accounts:person_create": Rule(None, frozenset({BH, BM, "outsider"})),
    "accounts:person_detail": Rule("person", frozenset({BH, BM, BR, DA})),
    "accounts:person_reveal": Rule(
        "person", frozenset({BH, BM}), method="POST", data=lambda w, c, own: {"field": "phone"}
    ),
    "accounts:person_edit": Rule("person", frozenset({BH, BM})),
    "accounts:person_status": Rule(
        "person",
        frozenset({BH, BM}),
        method="POST",
        data=lambda w, c, own: {
            "status": "suspended",
            "until": "2031-01-01 10:00",
            "reason": "投诉",
        },
    ),
    "accounts:person_grant": Rule("person", frozenset({BH, DA})),
    "accounts:roster_import": Rule(None, frozenset({BH, "outsider"})),
    "accounts:roster_export": Rule(None, frozenset({BH, DA, "outsider"}), other_param="community"),
    "audit:list": Rule(None, frozenset({BH, DA, "outsider"}), other_param="community"),
    "audit:export": Rule(None, frozenset({BH, DA, "outsider"}), other_param="community"),
    "accounts:grant_revoke": Rule("grant", frozenset({BH, DA}), method="POST"),
    # orgs
    "orgs:community_list": Rule(None, frozenset({BH, DA, FO, BR, BM, GM, GL, "outsider"})),
    "orgs:community_create": Rule(None, frozenset({DA})),
    "orgs:community_detail": Rule("community", frozenset({BH, FO, BR, DA})),
    "orgs:community_edit": Rule("community", frozenset({BH, DA})),
    "orgs:settings": Rule("community", frozenset({BH, DA})),
    "orgs:building_create": Rule("community", frozenset({BH})),
    "orgs:building_detail": Rule("building", frozenset({BH, BM, BR, DA})),
    "orgs:building_edit": Rule("building", frozenset({BH})),
    "orgs:building_settings": Rule("building", frozenset({BH, DA})),
    "orgs:household_create": Rule("building", frozenset({BH, BM})),
    "orgs:household_detail": Rule("household", frozenset({BH, BM, BR, DA})),
    "orgs:household_edit": Rule("household", frozenset({BH, BM})),
    "orgs:household_reveal": Rule("household", frozenset({BH, BM}), method="POST"),
    "orgs:group_list": Rule("community", frozenset({BH, DA})),
    "orgs:group_create": Rule("community", frozenset({BH, GL})),
    "orgs:group_detail": Rule("group", frozenset({BH, GL, GM, DA})),
    "orgs:group_edit": Rule("group", frozenset({BH, GL})),
    "orgs:job_create": Rule("community", frozenset({BH, GL})),
    "orgs:job_detail": Rule("job", frozenset({BH, GL, GM, DA})),
    "orgs:job_edit": Rule("job", frozenset({BH, GL})),
    # notify
    "notify:inbox": Rule(None, EVERYONE),
    "notify:inbox_read_all": Rule(None, EVERYONE, method="POST"),
    "notify:notification_detail": Rule("notification", EVERYONE, owner_only=True),
    "notify:receipt_detail": Rule("receipt", EVERYONE, owner_only=True),
    "notify:receipt_reply": Rule(
        "receipt",
        EVERYONE,
        method="POST",
        owner_only=True,
        data=lambda w, c, own: {"value": "yes"},
    ),
    "notify:preferences": Rule(None, EVERYONE),
    "notify:broadcast_list": Rule(None, frozenset({BH, DA, BM, GL, "outsider"})),
    "notify:broadcast_create": Rule(None, frozenset({BH, DA, BM, GL, "outsider"})),
    "notify:broadcast_detail": Rule("broadcast", frozenset({BH, DA})),
    "notify:broadcast_resend": Rule(
        "broadcast",
        frozenset({BH, DA}),
        method="POST",
        data=lambda w, c, own: {"which": "unread"},
    ),
    "notify:broadcast_cancel": Rule("scheduled_broadcast", frozenset({BH, DA}), method="POST"),
    "notify:broadcast_export": Rule("broadcast", frozenset({BH, DA})),
    "notify:public_notices": Rule("community", EVERYONE, public=True),
    "notify:public_notice": Rule("broadcast", EVERYONE, public=True),
}

# The time bank keeps its rules beside the matrix, one module per area (before the page cases
# are collected below).
OBJECTS.update(TIMEBANK_OBJECTS)
OBJECTS.update(NEEDS_OBJECTS)
OBJECTS.update(LOCKDOWN_OBJECTS)
OBJECTS.update(HELPDESK_OBJECTS)
OBJECTS.update(DOCUMENTS_OBJECTS)
PAGE_RULES.update(TIMEBANK_PAGE_RULES)
PAGE_RULES.update(NEEDS_PAGE_RULES)
PAGE_RULES.update(LOCKDOWN_PAGE_RULES)
PAGE_RULES.update(HELPDESK_PAGE_RULES)
PAGE_RULES.update(DOCUMENTS_PAGE_RULES)

# Routes left out of the matrix, each with its reason.
EXEMPT = {
    "admin": "Django admin: superusers only (is_staff), covered by test_admin_is_staff_only",
}


def _walk(patterns: list[Any], prefix: str = "", ns: str = "") -> Iterator[tuple[str, str]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            sub_ns = f"{ns}{p.namespace}:" if p.namespace else ns
            yield from _walk(p.url_patterns, prefix + str(p.pattern), sub_ns)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{ns}{p.name}", prefix + str(p.pattern)


def url_names() -> dict[str, str]:
    return {
        name: route
        for name, route in _walk(get_resolver().url_patterns)
        if not name.startswith(("api:", "admin:"))
    }


def test_every_url_has_a_rule() -> None:
    names = set(url_names())
    missing = sorted(names - set(PAGE_RULES))
    stale = sorted(set(PAGE_RULES) - names)
    assert not missing, f"URLs without a permission rule: {missing}"
    assert not stale, f"rules for URLs that no longer exist: {stale}"


def _kwargs_for(route: str, obj: Any) -> dict[str, Any]:
    """Every URL parameter is the object's pk, except ``<x_pk>`` naming the object's parent
    ``x`` (``notices/<community_pk>/<pk>/``): that is the object's ``x_id``."""
    kwargs = {}
    for k in re.findall(r"<(?:\w+:)?(\w+)>", route):
        parent = f"{k[:-3]}_id" if k.endswith("_pk") else ""
        kwargs[k] = getattr(obj, parent) if parent and hasattr(obj, parent) else obj.pk
    return kwargs


def _expected(rule: Rule, role: str, own: bool) -> str:
    if role == "anonymous":
        return "ok" if rule.public else "login"
    if rule.owner_only:
        return "ok" if role == "resident" else "404"
    if rule.public and rule.obj is not None:
        return "ok"  # a public object (a community's public notices): everybody reads it
    if rule.obj is None or rule.unscoped:
        if own:
            return "ok" if role in rule.allowed else "403"
        # A list filtered by the other community: outside one's scope is 404 first.
        if role in ("outsider", DA):
            return "ok" if role in rule.allowed else "403"
        return "404"
    if own:
        if role == "outsider":
            return "404"
        return "ok" if role in rule.allowed else "403"
    if role == "outsider":
        return "ok" if BH in rule.allowed else "403"
    if role == DA:
        return "ok" if DA in rule.allowed else "403"
    return "404"


def _verdict(resp: Any, api: bool) -> str:
    code = resp.status_code
    if code in (401,):
        return "login"
    if code in (302, 303) and "/accounts/login/" in resp.get("Location", ""):
        return "login"
    if code in (403, 404):
        return str(code)
    if 200 <= code < 400:
        return "ok"
    return f"unexpected {code}"


def _page_cases() -> Iterator[Any]:
    for name in sorted(url_names()):
        rule = PAGE_RULES.get(name)
        if rule is None:
            continue
        scopes = (
            (True,)
            if (rule.obj is None or rule.unscoped) and rule.other_param is None
            else (True, False)
        )
        for own in scopes:
            yield pytest.param(name, own, id=f"{name}-{'own' if own else 'other'}")


def _run_roles(
    client: Any,
    cast: Any,
    do: Callable[[], Any],
    expect: Callable[[str], str],
    api: bool,
    public: bool = False,
) -> list[str]:
    failures = []
    for role in (*ROLES, "anonymous"):
        with transaction.atomic():
            client.logout()
            if role != "anonymous":
                client.force_login(cast[role])
            try:
                resp = do()
                got = _verdict(resp, api)
            except Exception as exc:  # a server error is a failure of the matrix too
                got = f"exception {type(exc).__name__}: {exc}"
            want = expect(role)
            if want == "ok" and got == "login" and public:
                got = "ok"  # a public route that ends on the login page (logout)
            if got != want:
                failures.append(f"{role}: expected {want}, got {got}")
            transaction.set_rollback(True)
    return failures


@pytest.mark.parametrize(("name", "own"), list(_page_cases()))
def test_page_matrix(name: str, own: bool, world: Any, cast: Any, client: Any) -> None:
    from django.urls import reverse

    rule = PAGE_RULES[name]
    route = url_names()[name]
    obj = OBJECTS[rule.obj](world, cast, own) if rule.obj else None
    kwargs = _kwargs_for(route, obj) if obj is not None else {}
    url = reverse(name, kwargs={**kwargs, **rule.extra})  # extra: non-pk URL parameters
    params: dict[str, Any] = {}
    if rule.other_param and not own:
        params[rule.other_param] = world.other_community.pk

    def do() -> Any:
        data = rule.data(world, cast, own) if rule.data else {}
        if rule.method == "POST":
            return client.post(url, data)
        return client.get(url, {**params, **data})

    failures = _run_roles(
        client, cast, do, lambda role: _expected(rule, role, own), api=False, public=rule.public
    )
    assert not failures, f"{rule.method} {url}:\n" + "\n".join(failures)


# One rule per API operation, keyed "METHOD /path/{param}".
API_RULES: dict[str, Rule] = {
    "POST /api/v1/auth/token": Rule(
        None,
        EVERYONE,
        method="POST",
        public=True,
        json=True,
        data=lambda w, c, own: {"phone": ROLE_PHONES["resident"], "password": "huzhu-test-pass-1"},
    ),
    "GET /api/v1/me": Rule(None, EVERYONE),
    # accounts
    "GET /api/v1/people": Rule(
        None, frozenset({BH, BM, BR, DA, "outsider"}), other_param="community"
    ),
    "POST /api/v1/people": Rule(
        "community",
        frozenset({BH, BM}),
        method="POST",
        data=lambda w, c, own: {
            "community_id": (w.community if own else w.other_community).pk,
            "household_id": (w.household if own else w.other_household).pk,
            "name": "新居民",
            "phone": "13611112222",
        },
    ),
    "GET /api/v1/people/{person_id}": Rule("person", frozenset({BH, BM, BR, DA})),
    "PATCH /api/v1/people/{person_id}": Rule(
        "person", frozenset({BH, BM}), method="PATCH", data=lambda w, c, own: {"name": "改名"}
    ),
    "POST /api/v1/people/{person_id}/reveal": Rule(
        "person", frozenset({BH, BM}), method="POST", data=lambda w, c, own: {"field": "phone"}
    ),
    "POST /api/v1/people/{person_id}/status": Rule(
        "person",
        frozenset({BH, BM}),
        method="POST",
        data=lambda w, c, own: {
            "status": "frozen",
            "until": "2031-01-01T10:00:00",
            "reason": "恶意",
        },
    ),
    "GET /api/v1/people/{person_id}/grants": Rule("person", frozenset({BH, BM, BR, DA})),
    "POST /api/v1/people/{person_id}/grants": Rule(
        "person",
        frozenset({BH, DA}),
        method="POST",
        data=lambda w, c, own: {
            "role": "volunteer",
            "scope_kind": "community",
            "scope_id": (w.community if own else w.other_community).pk,
        },
    ),
    "DELETE /api/v1/grants/{grant_id}": Rule("grant", frozenset({BH, DA}), method="DELETE"),
    "GET /api/v1/me/availability": Rule(None, EVERYONE),
    "POST /api/v1/me/availability": Rule(
        None,
        EVERYONE,
        method="POST",
        data=lambda w, c, own: {"weekday": 1, "start_time": "09:00", "end_time": "11:00"},
    ),
    "DELETE /api/v1/me/availability/{slot_id}": Rule(
        "slot", EVERYONE, method="DELETE", owner_only=True
    ),
    "POST /api/v1/me/availability/exceptions": Rule(
        None,
        EVERYONE,
        method="POST",
        data=lambda w, c, own: {"date": "2031-05-01", "available": False},
    ),
    "DELETE /api/v1/me/availability/exceptions/{exception_id}": Rule(
        "exception", EVERYONE, method="DELETE", owner_only=True
    ),
    "GET /api/v1/me/skills": Rule(None, EVERYONE),
    "POST /api/v1/me/skills": Rule(
        None,
        EVERYONE,
        method="POST",
        data=lambda w, c, own: {"skill_id": _skill().pk, "level": 3},
    ),
    "DELETE /api/v1/me/skills/{held_id}": Rule(
        "held_skill", EVERYONE, method="DELETE", owner_only=True
    ),
    "GET /api/v1/skills": Rule(None, EVERYONE),
    "POST /api/v1/communities/{community_id}/roster/preview": Rule(
        "community", frozenset({BH}), method="POST", multipart=True, data=_roster_file
    ),
    "POST /api/v1/communities/{community_id}/roster/import": Rule(
        "community", frozenset({BH}), method="POST", multipart=True, data=_roster_file
    ),
    "GET /api/v1/roster/export": Rule(
        None, frozenset({BH, DA, "outsider"}), other_param="community"
    ),
    "GET /api/v1/audit": Rule(None, frozenset({BH, DA, "outsider"}), other_param="community"),
    # orgs
    "GET /api/v1/communities": Rule(None, EVERYONE),
    "GET /api/v1/communities/{community_id}": Rule("community", frozenset({BH, FO, BR, DA})),
    "PATCH /api/v1/communities/{community_id}": Rule(
        "community",
        frozenset({BH, DA}),
        method="PATCH",
        data=lambda w, c, own: {"district": "普陀"},
    ),
    "GET /api/v1/communities/{community_id}/buildings": Rule(
        "community", frozenset({BH, FO, BR, DA})
    ),
    "POST /api/v1/communities/{community_id}/buildings": Rule(
        "community", frozenset({BH}), method="POST", data=lambda w, c, own: {"name": "99号楼"}
    ),
    "GET /api/v1/buildings/{building_id}": Rule("building", frozenset({BH, BM, BR, DA})),
    "PATCH /api/v1/buildings/{building_id}": Rule(
        "building", frozenset({BH}), method="PATCH", data=lambda w, c, own: {"floors": 7}
    ),
    "GET /api/v1/buildings/{building_id}/households": Rule("building", frozenset({BH, BM, BR, DA})),
    "POST /api/v1/buildings/{building_id}/households": Rule(
        "building", frozenset({BH, BM}), method="POST", data=lambda w, c, own: {"room": "606"}
    ),
    "GET /api/v1/communities/{community_id}/groups": Rule("community", frozenset({BH, DA})),
    "POST /api/v1/communities/{community_id}/groups": Rule(
        "community",
        frozenset({BH, GL}),
        method="POST",
        data=lambda w, c, own: {
            "name": "新小组",
            "parent_id": (w.group if own else w.other_group).pk,
        },
    ),
    "GET /api/v1/groups/{group_id}": Rule("group", frozenset({BH, GL, GM, DA})),
    "GET /api/v1/communities/{community_id}/settings": Rule("community", frozenset({BH, DA})),
    "PUT /api/v1/communities/{community_id}/settings/{key}": Rule(
        "community",
        frozenset({BH, DA}),
        method="PUT",
        data=lambda w, c, own: {"value": "45"},
        extra={"key": "needs.review_minutes"},
    ),
    # notify
    "GET /api/v1/inbox": Rule(None, EVERYONE),
    "GET /api/v1/inbox/unread-count": Rule(None, EVERYONE),
    "POST /api/v1/inbox/read-all": Rule(None, EVERYONE, method="POST"),
    "GET /api/v1/notifications/{notification_id}": Rule("notification", EVERYONE, owner_only=True),
    "GET /api/v1/receipts/{receipt_id}": Rule("receipt", EVERYONE, owner_only=True),
    "POST /api/v1/receipts/{receipt_id}/reply": Rule(
        "receipt",
        EVERYONE,
        method="POST",
        owner_only=True,
        data=lambda w, c, own: {"value": "yes"},
    ),
    "GET /api/v1/broadcasts": Rule(
        None, frozenset({BH, DA, BM, GL, "outsider"}), other_param="community"
    ),
    "POST /api/v1/broadcasts": Rule(
        "community",
        frozenset({BH, DA}),
        method="POST",
        data=lambda w, c, own: {
            "audience": _audience(w, c, own),
            "title": "停水通知",
            "body": "明天 9:00–12:00 停水",
        },
    ),
    "POST /api/v1/broadcasts/preview": Rule(
        "community",
        frozenset({BH, DA}),
        method="POST",
        data=lambda w, c, own: {"audience": _audience(w, c, own)},
    ),
    "GET /api/v1/broadcasts/{broadcast_id}": Rule("broadcast", frozenset({BH, DA})),
    "POST /api/v1/broadcasts/{broadcast_id}/resend": Rule(
        "broadcast",
        frozenset({BH, DA}),
        method="POST",
        data=lambda w, c, own: {"which": "unreplied"},
    ),
    "POST /api/v1/broadcasts/{broadcast_id}/cancel": Rule(
        "scheduled_broadcast", frozenset({BH, DA}), method="POST"
    ),
    "GET /api/v1/broadcasts/{broadcast_id}/replies": Rule("broadcast", frozenset({BH, DA})),
    "GET /api/v1/preferences": Rule(None, EVERYONE),
    "PUT /api/v1/preferences": Rule(
        None,
        EVERYONE,
        method="PUT",
        data=lambda w, c, own: {
            "channels": ["sms"],
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    ),
    "GET /api/v1/public/communities/{community_id}/notices": Rule(
        "community", EVERYONE, public=True
    ),
}

# The time bank keeps its rules beside the matrix, one module per area.
API_RULES.update(TIMEBANK_API_RULES)
API_RULES.update(NEEDS_API_RULES)
API_RULES.update(LOCKDOWN_API_RULES)
API_RULES.update(HELPDESK_API_RULES)
API_RULES.update(DOCUMENTS_API_RULES)


@functools.cache
def api_operations() -> dict[str, tuple[str, str]]:
    """Every operation of the OpenAPI schema (built once: building it takes seconds)."""
    from config.api import api

    schema = api.get_openapi_schema()
    ops = {}
    for path, methods in schema["paths"].items():
        for method in methods:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                ops[f"{method.upper()} {path}"] = (method.upper(), path)
    return ops


def test_every_api_operation_has_a_rule() -> None:
    ops = set(api_operations())
    missing = sorted(ops - set(API_RULES))
    stale = sorted(set(API_RULES) - ops)
    assert not missing, f"API operations without a permission rule: {missing}"
    assert not stale, f"rules for API operations that no longer exist: {stale}"


def _api_cases() -> Iterator[Any]:
    for key in sorted(api_operations()):
        rule = API_RULES.get(key)
        if rule is None:
            continue
        scopes = (
            (True,)
            if (rule.obj is None or rule.unscoped) and rule.other_param is None
            else (True, False)
        )
        for own in scopes:
            yield pytest.param(key, own, id=f"{key}-{'own' if own else 'other'}")


@pytest.mark.parametrize(("key", "own"), list(_api_cases()))
def test_api_matrix(key: str, own: bool, world: Any, cast: Any, client: Any) -> None:
    import json

    rule = API_RULES[key]
    method, path = api_operations()[key]
    obj = OBJECTS[rule.obj](world, cast, own) if rule.obj else None
    url = re.sub(
        r"\{(\w+)\}",
        lambda m: str(rule.extra.get(m.group(1), obj.pk if obj is not None else 0)),
        path,
    )
    params: dict[str, Any] = {}
    if rule.other_param and not own:
        params[rule.other_param] = world.other_community.pk

    def do() -> Any:
        data = rule.data(world, cast, own) if rule.data else {}
        if method == "GET":
            return client.get(url, {**params, **data})
        if rule.multipart:
            return client.post(url, data)
        return client.generic(method, url, json.dumps(data), content_type="application/json")

    failures = _run_roles(
        client, cast, do, lambda role: _expected(rule, role, own), api=True, public=rule.public
    )
    assert not failures, f"{method} {url}:\n" + "\n".join(failures)


def test_admin_is_staff_only(client: Any, cast: Any) -> None:
    """The Django admin is for superusers: nobody of the cast gets past its login."""
    for role in ROLES:
        client.force_login(cast[role])
        resp = client.get("/admin/")
        assert resp.status_code == 302 and "/admin/login/" in resp["Location"], role
