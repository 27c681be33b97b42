"""Workflows through the notify API: inbox, receipts and replies, broadcasts with their tally,
re-send to the silent, preferences and public notices; same scope rules and actions as the
pages (issue 3, acceptance 1 and 3)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from huzhu.accounts.models import Household, Person, RoleGrant
from huzhu.audit.models import AuditEntry
from huzhu.core import clock
from huzhu.notify import actions
from huzhu.notify.models import Broadcast, BroadcastStatus, Notification, Receipt
from huzhu.orgs.models import Building

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def api(client: Client) -> Callable[..., Any]:
    """``api(person, "post", "/api/v1/...", body)`` → response; ``person=None`` is anonymous."""
    from huzhu.accounts.auth import issue_token

    tokens: dict[int, str] = {}

    def call(person: Any, method: str, path: str, body: Any = None) -> Any:
        headers: dict[str, str] = {}
        if person is not None:
            if person.pk not in tokens:
                tokens[person.pk] = issue_token(person)
            headers["Authorization"] = f"Bearer {tokens[person.pk]}"
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method.lower())(path, **kwargs)

    return call


def _volunteer(world: Any, name: str, phone: str, household: Any = None) -> Person:
    p = Person(name=name, community=world.community, household=household)
    p.set_phone(phone)
    p.set_unusable_password()
    p.save()
    RoleGrant.objects.create(
        person=p, role="volunteer", scope_kind="community", community=world.community
    )
    return p


@pytest.fixture
def volunteers(world: Any, cast: Any) -> dict[str, Person]:
    """Five more volunteers: two in building 1 (both in the care group), two in building 2,
    one without a household. With cast.volunteer (no household) six in all."""
    building2 = Building.objects.get(community=world.community, name="2号楼")
    room201 = Household.objects.get(building=building2)
    people = {
        "a": _volunteer(world, "甲", "13500000001", world.household),
        "b": _volunteer(world, "乙", "13500000002", world.household),
        "c": _volunteer(world, "丙", "13500000003", room201),
        "d": _volunteer(world, "丁", "13500000004", room201),
        "e": _volunteer(world, "戊", "13500000005"),
        "v": cast.volunteer,
    }
    for key in ("a", "b"):
        RoleGrant.objects.create(
            person=people[key],
            role="group_member",
            scope_kind="group",
            community=world.community,
            group=world.group,
        )
    return people


def _error(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"])
    return dict(body["error"])


def _compose(world: Any, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "audience": {"community": world.community.pk, "roles": ["volunteer"]},
        "title": "明早核酸需要志愿者",
        "body": "明早 7:00 在 1 号楼前集合，请回复能否到岗。",
        "reply_kind": "yes_no",
    }
    body.update(over)
    return body


def _send(api: Any, capture: Any, actor: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POST a broadcast and run its fan-out (the task enqueued on commit)."""
    with capture(execute=True):
        resp = api(actor, "post", f"{V1}/broadcasts", body)
    assert resp.status_code == 201, resp.content
    return dict(resp.json())


def _my_broadcast_item(api: Any, person: Any) -> dict[str, Any]:
    items = api(person, "get", f"{V1}/inbox").json()["items"]
    found = [i for i in items if i["kind"] == "broadcast"]
    assert len(found) == 1, items
    return dict(found[0])


def test_openapi_lists_the_notify_operations(api: Any, world: Any) -> None:
    paths = api(None, "get", f"{V1}/openapi.json").json()["paths"]
    for path in (
        "/api/v1/inbox",
        "/api/v1/inbox/unread-count",
        "/api/v1/inbox/read-all",
        "/api/v1/notifications/{notification_id}",
        "/api/v1/receipts/{receipt_id}",
        "/api/v1/receipts/{receipt_id}/reply",
        "/api/v1/broadcasts",
        "/api/v1/broadcasts/preview",
        "/api/v1/broadcasts/{broadcast_id}",
        "/api/v1/broadcasts/{broadcast_id}/resend",
        "/api/v1/broadcasts/{broadcast_id}/cancel",
        "/api/v1/broadcasts/{broadcast_id}/replies",
        "/api/v1/preferences",
        "/api/v1/public/communities/{community_id}/notices",
    ):
        assert path in paths, path


# --- acceptance 1: broadcast, read, reply, tally, re-send --------------------------------------


def test_branch_head_broadcast_with_required_reply_end_to_end(
    api: Any,
    world: Any,
    cast: Any,
    volunteers: dict[str, Person],
    django_capture_on_commit_callbacks: Any,
) -> None:
    bh = cast.branch_head
    audience = {"community": world.community.pk, "roles": ["volunteer"]}
    preview = api(bh, "post", f"{V1}/broadcasts/preview", {"audience": audience})
    assert preview.status_code == 200
    assert preview.json()["count"] == 6 and "阳光小区" in preview.json()["label"]
    assert not Broadcast.objects.exists()  # the preview writes nothing

    deadline = (clock.now() + dt.timedelta(hours=12)).isoformat()
    created = _send(
        api,
        django_capture_on_commit_callbacks,
        bh,
        _compose(world, reply_deadline=deadline, urgent=True),
    )
    assert created["status"] in ("sending", "sent")
    bid = created["id"]
    b = Broadcast.objects.get(pk=bid)
    assert b.status == BroadcastStatus.SENT and b.recipient_count == 6
    assert AuditEntry.objects.filter(code="notify.broadcast.created").count() == 1
    # Nobody outside the audience got it.
    assert Receipt.objects.filter(broadcast=b, person=cast.resident).count() == 0
    assert api(cast.resident, "get", f"{V1}/inbox/unread-count").json() == {"count": 0}

    # Recipients read and answer through the API.
    answers = {"a": "yes", "b": True, "c": "否"}
    for key, value in answers.items():
        person = volunteers[key]
        assert api(person, "get", f"{V1}/inbox/unread-count").json() == {"count": 1}
        item = _my_broadcast_item(api, person)
        assert item["needs_reply"] and not item["read"] and item["urgent"]
        receipt = api(person, "get", f"{V1}/receipts/{item['id']}").json()
        assert receipt["reply_kind"] == "yes_no" and receipt["can_reply"]
        assert receipt["read_at"] is not None and receipt["reply"] == ""
        assert receipt["reply_deadline"] is not None
        resp = api(person, "post", f"{V1}/receipts/{item['id']}/reply", {"value": value})
        assert resp.status_code == 200, resp.content
        assert resp.json()["replied_at"] is not None
        assert api(person, "get", f"{V1}/inbox/unread-count").json() == {"count": 0}
        assert _my_broadcast_item(api, person)["replied"]
    # d reads without answering; e and cast.volunteer stay silent.
    item_d = _my_broadcast_item(api, volunteers["d"])
    api(volunteers["d"], "get", f"{V1}/receipts/{item_d['id']}")
    # a changes their mind before the deadline.
    item_a = _my_broadcast_item(api, volunteers["a"])
    api(volunteers["a"], "post", f"{V1}/receipts/{item_a['id']}/reply", {"value": "no"})

    tally = api(bh, "get", f"{V1}/broadcasts/{bid}")
    assert tally.status_code == 200
    t = tally.json()
    assert (t["delivered"], t["read"], t["replied"]) == (6, 4, 3)
    by_building = {row["name"]: row for row in t["by_building"]}
    assert {k: (v["delivered"], v["read"], v["replied"]) for k, v in by_building.items()} == {
        "1号楼": (2, 2, 2),
        "2号楼": (2, 2, 1),
        "": (2, 0, 0),
    }
    assert [(g["group_id"], g["delivered"], g["read"], g["replied"]) for g in t["by_group"]] == [
        (world.group.pk, 2, 2, 2)
    ]
    assert t["replies"] == [{"value": "no", "count": 2}, {"value": "yes", "count": 1}]

    # The list shows the broadcast with the same counts.
    listed = api(bh, "get", f"{V1}/broadcasts").json()
    assert listed["meta"]["total"] == 1
    assert (listed["items"][0]["read"], listed["items"][0]["replied"]) == (4, 3)

    # The replies: names, buildings and answers, never a phone number.
    replies = api(bh, "get", f"{V1}/broadcasts/{bid}/replies?page_size=50")
    assert replies.status_code == 200
    rows = replies.json()["items"]
    assert replies.json()["meta"]["total"] == 6
    by_name = {r["name"]: r for r in rows}
    assert by_name["甲"]["reply"] == "no" and by_name["甲"]["building"] == "1号楼"
    assert by_name["丁"]["reply"] == "" and by_name["丁"]["read_at"] is not None
    assert "phone" not in json.dumps(rows) and "1350000000" not in replies.content.decode()
    only = api(bh, "get", f"{V1}/broadcasts/{bid}/replies?only=unreplied").json()
    assert {r["name"] for r in only["items"]} == {"丁", "戊", cast.volunteer.name}

    # Re-send reaches only the silent: first those who did not reply, then the unread.
    resend = api(bh, "post", f"{V1}/broadcasts/{bid}/resend", {"which": "unreplied"})
    assert resend.status_code == 200 and resend.json() == {"count": 3}
    resent = set(
        Receipt.objects.filter(broadcast=b, resend_count=1).values_list("person_id", flat=True)
    )
    assert resent == {volunteers["d"].pk, volunteers["e"].pk, cast.volunteer.pk}
    again = api(bh, "post", f"{V1}/broadcasts/{bid}/resend", {"which": "unread"})
    assert again.json() == {"count": 2}
    assert set(
        Receipt.objects.filter(broadcast=b, resend_count=2).values_list("person_id", flat=True)
    ) == {volunteers["e"].pk, cast.volunteer.pk}
    assert Receipt.objects.filter(broadcast=b, resend_count=0).count() == 3

    # After the deadline no more answers.
    item_e = _my_broadcast_item(api, volunteers["e"])
    with time_machine.travel(clock.now() + dt.timedelta(days=1)):
        late = api(volunteers["e"], "post", f"{V1}/receipts/{item_e['id']}/reply", {"value": "1"})
    assert late.status_code == 409 and _error(late)["code"] == "notify.reply.closed"


def test_building_manager_broadcasts_to_their_building_and_sees_its_tally(
    api: Any,
    world: Any,
    cast: Any,
    volunteers: dict[str, Person],
    django_capture_on_commit_callbacks: Any,
) -> None:
    bm = cast.building_manager
    audience = {"community": world.community.pk, "buildings": [world.building.pk]}
    created = _send(
        api,
        django_capture_on_commit_callbacks,
        bm,
        _compose(world, audience=audience, reply_kind="none"),
    )
    b = Broadcast.objects.get(pk=created["id"])
    # Everyone active in building 1: the resident and volunteers a, b.
    assert b.recipient_count == 3
    assert api(bm, "get", f"{V1}/broadcasts/{b.pk}").status_code == 200
    assert [i["id"] for i in api(bm, "get", f"{V1}/broadcasts").json()["items"]] == [b.pk]
    assert api(bm, "post", f"{V1}/broadcasts/{b.pk}/resend", {}).json() == {"count": 3}
    # The branch head manages it too; another building's manager-free roles do not.
    assert api(cast.branch_head, "get", f"{V1}/broadcasts/{b.pk}").status_code == 200
    assert api(cast.group_leader, "get", f"{V1}/broadcasts/{b.pk}").status_code == 403
    # Asking for a reply kind it does not have is refused.
    resp = api(bm, "post", f"{V1}/broadcasts/{b.pk}/resend", {"which": "unreplied"})
    assert resp.status_code == 400 and _error(resp)["code"] == "notify.resend.no_reply"


def test_scheduled_broadcast_is_cancelled_once(api: Any, world: Any, cast: Any) -> None:
    local = timezone.localtime(clock.now()) + dt.timedelta(days=2)
    when = local.replace(tzinfo=None, second=0, microsecond=0)
    resp = api(
        cast.branch_head,
        "post",
        f"{V1}/broadcasts",
        _compose(world, scheduled_at=when.isoformat(timespec="minutes")),
    )
    assert resp.status_code == 201
    body = resp.json()
    assert body["status"] == "scheduled"
    # A time without a zone is read as local time (Asia/Shanghai).
    stored = Broadcast.objects.get(pk=body["id"]).scheduled_at
    assert stored is not None and timezone.localtime(stored).replace(tzinfo=None) == when
    cancel = api(cast.branch_head, "post", f"{V1}/broadcasts/{body['id']}/cancel")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    again = api(cast.branch_head, "post", f"{V1}/broadcasts/{body['id']}/cancel")
    assert again.status_code == 409 and _error(again)["code"] == "notify.broadcast.not_scheduled"
    resend = api(cast.branch_head, "post", f"{V1}/broadcasts/{body['id']}/resend", {})
    assert resend.status_code == 409


# --- the inbox, notifications, preferences -----------------------------------------------------


def _notify(person: Any, n: int) -> list[Notification]:
    return [
        actions.notify(
            person=person,
            code="test.event",
            title=f"消息{i}",
            body="内容",
            key=f"test:{person.pk}:{i}",
        )
        for i in range(n)
    ]


def test_inbox_paging_read_and_read_all(api: Any, world: Any, cast: Any) -> None:
    notes = _notify(cast.resident, 5)
    page = api(cast.resident, "get", f"{V1}/inbox?page=2&page_size=2").json()
    assert page["meta"] == {"page": 2, "page_size": 2, "total": 5}
    assert len(page["items"]) == 2 and page["items"][0]["kind"] == "notification"
    assert api(cast.resident, "get", f"{V1}/inbox?page=9").json()["items"] == []

    detail = api(cast.resident, "get", f"{V1}/notifications/{notes[0].pk}")
    assert detail.status_code == 200 and detail.json()["read_at"] is not None
    assert api(cast.resident, "get", f"{V1}/inbox/unread-count").json() == {"count": 4}
    unread = api(cast.resident, "get", f"{V1}/inbox?unread_only=true").json()
    assert unread["meta"]["total"] == 4 and not any(i["read"] for i in unread["items"])

    assert api(cast.resident, "post", f"{V1}/inbox/read-all").json() == {"count": 4}
    assert api(cast.resident, "get", f"{V1}/inbox/unread-count").json() == {"count": 0}
    # Someone else's notification does not exist for me.
    assert api(cast.volunteer, "get", f"{V1}/notifications/{notes[1].pk}").status_code == 404


def test_preferences_round_trip(api: Any, cast: Any) -> None:
    me = cast.volunteer
    assert api(me, "get", f"{V1}/preferences").json() == {
        "channels": [],
        "email": "",
        "quiet_start": None,
        "quiet_end": None,
    }
    body = {
        "channels": ["email", "sms"],
        "email": "v@example.org",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
    }
    resp = api(me, "put", f"{V1}/preferences", body)
    assert resp.status_code == 200
    assert resp.json() == {**body, "quiet_start": "22:00:00", "quiet_end": "07:00:00"}
    assert api(me, "get", f"{V1}/preferences").json()["channels"] == ["email", "sms"]
    bad = api(me, "put", f"{V1}/preferences", {"channels": ["email"]})
    assert bad.status_code == 400 and _error(bad)["code"] == "notify.email.required"
    half = api(me, "put", f"{V1}/preferences", {"quiet_start": "22:00"})
    assert half.status_code == 400 and _error(half)["details"] == {"field": "quiet_start"}


# --- acceptance 3: scope, other people's messages, public notices ------------------------------


@pytest.mark.parametrize(
    ("role", "audience", "status"),
    [
        ("outsider", "community", 404),
        ("branch_head", "other_community", 404),
        ("volunteer", "community", 403),
        ("finance_officer", "community", 403),
        ("building_manager", "community", 403),
        ("building_manager", "building2", 403),
        ("group_leader", "community", 403),
        ("group_member", "group", 403),
        ("group_leader", "group", 201),
        ("district_admin", "other_community", 201),
        ("branch_head", "alliance", 404),
        ("district_admin", "alliance", 201),
    ],
)
def test_nobody_broadcasts_outside_their_scope(
    api: Any, world: Any, cast: Any, role: str, audience: str, status: int
) -> None:
    building2 = Building.objects.get(community=world.community, name="2号楼")
    spec = {
        "community": {"community": world.community.pk},
        "other_community": {"community": world.other_community.pk},
        "building2": {"community": world.community.pk, "buildings": [building2.pk]},
        "group": {"community": world.community.pk, "groups": [world.group.pk]},
        "alliance": {"alliance": world.alliance.pk},
    }[audience]
    resp = api(cast[role], "post", f"{V1}/broadcasts", _compose(world, audience=spec))
    assert resp.status_code == status, resp.content
    preview = api(cast[role], "post", f"{V1}/broadcasts/preview", {"audience": spec})
    assert preview.status_code == (200 if status == 201 else status)
    if status != 201:
        assert not Broadcast.objects.exists()
        _error(resp)


def test_audience_nodes_must_belong_to_the_community(api: Any, world: Any, cast: Any) -> None:
    spec = {"community": world.community.pk, "buildings": [world.other_building.pk]}
    resp = api(cast.branch_head, "post", f"{V1}/broadcasts", _compose(world, audience=spec))
    assert resp.status_code == 400 and _error(resp)["code"] == "notify.audience.outside"
    missing = api(
        cast.branch_head, "post", f"{V1}/broadcasts/preview", {"audience": {"community": 987654}}
    )
    assert missing.status_code == 404


def test_nobody_reads_another_persons_inbox_receipt_or_replies(
    api: Any,
    world: Any,
    cast: Any,
    volunteers: dict[str, Person],
    django_capture_on_commit_callbacks: Any,
) -> None:
    created = _send(api, django_capture_on_commit_callbacks, cast.branch_head, _compose(world))
    bid = created["id"]
    theirs = Receipt.objects.get(broadcast_id=bid, person=volunteers["a"])
    for intruder in (cast.resident, volunteers["b"], cast.branch_head, cast.outsider):
        assert api(intruder, "get", f"{V1}/receipts/{theirs.pk}").status_code == 404
        resp = api(intruder, "post", f"{V1}/receipts/{theirs.pk}/reply", {"value": "yes"})
        assert resp.status_code == 404 and _error(resp)["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None and theirs.reply == ""
    # My inbox is mine: nobody else's receipts appear in it.
    assert api(cast.resident, "get", f"{V1}/inbox").json()["meta"]["total"] == 0
    # The replies and tally: 403 inside the community without the permission, 404 outside.
    for path in (f"broadcasts/{bid}", f"broadcasts/{bid}/replies"):
        assert api(volunteers["a"], "get", f"{V1}/{path}").status_code == 403
        assert api(cast.building_manager, "get", f"{V1}/{path}").status_code == 403
        assert api(cast.outsider, "get", f"{V1}/{path}").status_code == 404
    resend = api(cast.outsider, "post", f"{V1}/broadcasts/{bid}/resend", {"which": "unread"})
    assert resend.status_code == 404
    assert not Receipt.objects.filter(broadcast_id=bid, resend_count__gt=0).exists()
    # The outsider's list does not show it; a volunteer may not list broadcasts at all.
    assert api(cast.outsider, "get", f"{V1}/broadcasts").json()["meta"]["total"] == 0
    other = api(cast.volunteer, "get", f"{V1}/broadcasts?community={world.other_community.pk}")
    assert other.status_code == 404
    assert api(cast.volunteer, "get", f"{V1}/broadcasts").status_code == 403


def test_internal_broadcasts_never_show_to_the_public(
    api: Any, world: Any, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for visibility in ("public", "partners", "internal"):
        _send(
            api,
            django_capture_on_commit_callbacks,
            cast.branch_head,
            _compose(world, title=f"{visibility} 通知", visibility=visibility, reply_kind="none"),
        )
    later = (clock.now() + dt.timedelta(days=1)).isoformat()
    api(
        cast.branch_head,
        "post",
        f"{V1}/broadcasts",
        _compose(world, title="未发送", visibility="public", scheduled_at=later),
    )
    _send(
        api,
        django_capture_on_commit_callbacks,
        cast.outsider,
        {
            **_compose(world, title="月光公告", visibility="public", reply_kind="none"),
            "audience": {"community": world.other_community.pk},
        },
    )

    url = f"{V1}/public/communities/{world.community.pk}/notices"
    resp = api(None, "get", url)
    assert resp.status_code == 200
    assert [n["title"] for n in resp.json()["items"]] == ["public 通知"]
    assert resp.json()["meta"]["total"] == 1
    text = resp.content.decode()
    assert "internal" not in text and "partners" not in text and "未发送" not in text
    assert "author" not in resp.json()["items"][0]
    assert api(None, "get", f"{V1}/public/communities/987654/notices").status_code == 404
    other = api(None, "get", f"{V1}/public/communities/{world.other_community.pk}/notices")
    assert [n["title"] for n in other.json()["items"]] == ["月光公告"]
    # The rest of the notify API needs a sign-in.
    assert api(None, "get", f"{V1}/inbox").status_code == 401


# --- validation: every input in the error envelope ---------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"title": ""},
        {"title": "长" * 201},
        {"body": "x" * 5001},
        {"title": "停\x00水"},
        {"visibility": "secret"},
        {"reply_kind": "maybe"},
        {"channels": ["pigeon"]},
        {"channels": ["sms"] * 501},
        {"reply_choices": ["a"] * 21},
        {"reply_choices": ["x" * 101, "b"]},
        {"urgent": "very"},
        {"scheduled_at": "tomorrow"},
        {"scheduled_at": "1999-01-01T10:00:00"},
        {"audience": {"community": 0}},
        {"audience": {"community": 2**70}},
        {"audience": {"community": 1, "roles": ["emperor"]}},
        {"audience": {"community": 1, "buildings": list(range(1, 502))}},
        {"audience": {"community": 1, "weekday": 7}},
        {"audience": {"community": 1, "weekday": 1, "time_from": "25:00", "time_to": "26:00"}},
        {"audience": {"community": 1, "time_from": "09:00+08:00"}},
        {"audience": "everyone"},
        {"audience": {"community": 1, "alliance": 1}},
    ],
)
def test_invalid_broadcast_input_is_a_422_envelope(
    api: Any, world: Any, cast: Any, change: dict[str, Any]
) -> None:
    resp = api(cast.branch_head, "post", f"{V1}/broadcasts", _compose(world, **change))
    assert resp.status_code == 422, resp.content
    err = _error(resp)
    assert err["code"] == "invalid" and err["details"]["errors"]
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"reply_kind": "choice", "reply_choices": ["只有一个"]}, "notify.reply.choices"),
        (
            {"reply_kind": "none", "reply_deadline": "2031-01-01T10:00:00+08:00"},
            "notify.reply.deadline_without_reply",
        ),
        ({"reply_deadline": "2001-01-01T10:00:00+08:00"}, "notify.reply.deadline_past"),
        ({"scheduled_at": "2001-01-01T10:00:00"}, "notify.schedule.past"),
        (
            {"audience": {"community": 1, "weekday": 1, "time_from": "10:00", "time_to": "09:00"}},
            "notify.audience.window",
        ),
        ({"audience": {}}, "notify.audience.scope"),
    ],
)
def test_rule_violations_are_400_with_their_code(
    api: Any, world: Any, cast: Any, change: dict[str, Any], code: str
) -> None:
    body = _compose(world, **change)
    if "community" in body["audience"]:
        body["audience"]["community"] = world.community.pk
    resp = api(cast.branch_head, "post", f"{V1}/broadcasts", body)
    assert resp.status_code == 400, resp.content
    assert _error(resp)["code"] == code


def test_invalid_replies_resends_and_queries(
    api: Any,
    world: Any,
    cast: Any,
    volunteers: dict[str, Person],
    django_capture_on_commit_callbacks: Any,
) -> None:
    created = _send(api, django_capture_on_commit_callbacks, cast.branch_head, _compose(world))
    bid = created["id"]
    me = volunteers["a"]
    rid = Receipt.objects.get(broadcast_id=bid, person=me).pk
    url = f"{V1}/receipts/{rid}/reply"
    for bad in ({"value": "x" * 501}, {"value": "a\x00"}, {}, {"value": [1]}, {"value": None}):
        resp = api(me, "post", url, bad)
        assert resp.status_code == 422, (bad, resp.content)
        assert _error(resp)["code"] == "invalid"
    wrong = api(me, "post", url, {"value": "maybe"})
    assert wrong.status_code == 400 and _error(wrong)["details"] == {"field": "value"}
    assert api(me, "post", url, {"value": False}).json()["reply"] == "no"

    bh = cast.branch_head
    bad_which = api(bh, "post", f"{V1}/broadcasts/{bid}/resend", {"which": "everyone"})
    assert bad_which.status_code == 422
    for query in ("page=0", "page_size=201", "status=lost", "community=0"):
        assert api(bh, "get", f"{V1}/broadcasts?{query}").status_code == 422, query
    assert api(bh, "get", f"{V1}/broadcasts/{bid}/replies?only=some").status_code == 422
    assert api(bh, "get", f"{V1}/broadcasts/{2**70}").status_code == 422
    assert api(me, "get", f"{V1}/inbox?unread_only=perhaps").status_code == 422
    tz = api(me, "put", f"{V1}/preferences", {"quiet_start": "22:00+08:00", "quiet_end": "07:00"})
    assert tz.status_code == 422
    email = api(me, "put", f"{V1}/preferences", {"email": "not-an-email"})
    assert email.status_code == 400 and _error(email)["code"] == "notify.email.invalid"
    assert api(me, "put", f"{V1}/preferences", {"channels": ["wecom"]}).status_code == 422


def test_list_queries_are_pinned(
    api: Any,
    world: Any,
    cast: Any,
    volunteers: dict[str, Person],
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    for i in range(4):
        _send(
            api,
            django_capture_on_commit_callbacks,
            cast.branch_head,
            _compose(world, title=f"通知{i}"),
        )
    _notify(volunteers["a"], 3)
    bh, me = cast.branch_head, volunteers["a"]
    api(bh, "get", f"{V1}/inbox/unread-count")  # issue the tokens outside the counts
    api(me, "get", f"{V1}/inbox/unread-count")
    # token + last use, grants, count, page, counts per broadcast
    with django_assert_max_num_queries(8):
        listed = api(bh, "get", f"{V1}/broadcasts")
    assert listed.json()["meta"]["total"] == 4
    with django_assert_max_num_queries(7):
        inbox = api(me, "get", f"{V1}/inbox")
    assert inbox.json()["meta"]["total"] == 7
    bid = listed.json()["items"][0]["id"]
    with django_assert_max_num_queries(8):
        api(bh, "get", f"{V1}/broadcasts/{bid}/replies")
