"""The delivery engine through the actions, against the local fake gateway: retries with
backoff, fallback, failure with its error, the causing action committed whatever happens,
no duplicate sends, quiet hours, revoked push subscriptions (issue 3, acceptance 2)."""

from __future__ import annotations

import datetime as dt
import io
import socket
import threading
import zoneinfo
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import translation

from huzhu.accounts.models import Person, Role, Skill
from huzhu.notify import actions, delivery
from huzhu.notify.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    Preference,
    WebPushSubscription,
    WecomRobot,
)
from huzhu.notify.render import EVENTS, render_event
from huzhu.notify.tests.test_transports import (
    FakeGateway,
    configure_vapid,
    push_subscriber,
    running_gateway,
)

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# A Monday afternoon in Shanghai: outside anyone's quiet hours.
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI)


def prefer(person: Person, channels: list[str], email: str = "", **kw: Any) -> Preference:
    return actions.set_preferences(actor=person, channels=channels, email=email, **kw)


def notify(
    person: Person,
    key: str,
    *,
    urgent: bool = False,
    title: str = "您有新的任务",
    body: str = "请查看",
) -> Notification:
    """The causing action: notify inside a transaction, as actions do."""
    with transaction.atomic():
        return actions.notify(
            person=person, code="test.event", title=title, body=body, urgent=urgent, key=key
        )


def sms_count(gw: FakeGateway, d: Delivery) -> int:
    return gw.per_key[f"aliyun:{d.idempotency_key}"]


@pytest.fixture
def gateway(settings: Any) -> Iterator[FakeGateway]:
    with running_gateway(settings) as gw:
        yield gw


@pytest.fixture
def vapid(settings: Any) -> str:
    return configure_vapid(settings)


@pytest.fixture
def locmem_mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_a_sent_delivery_stores_the_provider_id(cast: Any, gateway: FakeGateway) -> None:
    prefer(cast.volunteer, ["sms"])
    note = notify(cast.volunteer, "evt:ok")
    d = Delivery.objects.get(notification=note)
    assert d.status == DeliveryStatus.PENDING
    assert delivery.send_due() == 1
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT and d.provider_id == "biz-1" and d.sent_at
    (attempt,) = DeliveryAttempt.objects.filter(delivery=d)
    assert attempt.ok and attempt.number == 1 and attempt.provider_id == "biz-1"
    (seen,) = gateway.requests("aliyun")
    assert seen.signature_ok and seen.body["PhoneNumbers"] == "13800000002"


def test_errors_then_a_timeout_retry_with_backoff_fail_and_fall_back(
    cast: Any, gateway: FakeGateway, locmem_mail: None
) -> None:
    person = cast.volunteer
    prefer(person, ["sms", "email"], email="volunteer@example.org")
    gateway.script(
        "aliyun",
        ("status", 500),
        ("json", 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"}),
        ("status", 503),
        ("sleep", 1.0),  # longer than the 0.5 s timeout
    )
    with time_machine.travel(T0, tick=False) as clock:
        note = notify(person, "evt:flaky")
        d = Delivery.objects.get(notification=note)
        assert (d.channel, d.fallbacks) == ("sms", ["email"])
        tries: list[dt.datetime] = []
        for number in range(1, 5):
            assert delivery.send_due() == 0
            tries.append(dt.datetime.now(dt.UTC))
            d.refresh_from_db()
            assert d.attempts == number and sms_count(gateway, d) == number
            if d.status == DeliveryStatus.PENDING:
                # Sweeping again before the pause is over sends nothing.
                assert delivery.send_due() == 0 and sms_count(gateway, d) == number
                clock.move_to(d.next_attempt_at)
        pauses = [(b - a) for a, b in pairwise(tries)]
        assert pauses == [
            dt.timedelta(minutes=1),
            dt.timedelta(minutes=5),
            dt.timedelta(minutes=25),
        ]
        assert d.status == DeliveryStatus.FAILED and d.last_error == "timeout"
        errors = list(
            DeliveryAttempt.objects.filter(delivery=d).order_by("number").values_list("ok", "error")
        )
        assert [ok for ok, _ in errors] == [False] * 4
        assert "HTTP 500" in errors[0][1] and "BUSINESS_LIMIT_CONTROL" in errors[1][1]
        assert "HTTP 503" in errors[2][1] and errors[3][1] == "timeout"

        fallback = Delivery.objects.get(idempotency_key=f"{d.idempotency_key}:fallback:email")
        assert fallback.status == DeliveryStatus.PENDING and fallback.notification_id == note.pk
        assert delivery.send_due() == 1
        fallback.refresh_from_db()
        assert fallback.status == DeliveryStatus.SENT
    (email,) = mail.outbox
    assert email.to == ["volunteer@example.org"] and email.subject == "您有新的任务"
    # The inbox had the message from the start, whatever the channels did.
    assert Notification.objects.filter(pk=note.pk, person=person).exists()


def test_a_bad_number_fails_at_once_without_retry(cast: Any, gateway: FakeGateway) -> None:
    prefer(cast.volunteer, ["sms"])
    gateway.script(
        "aliyun",
        ("json", 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号 13800000002"}),
    )
    d = Delivery.objects.get(notification=notify(cast.volunteer, "evt:bad"))
    delivery.process(d.pk)
    d.refresh_from_db()
    assert d.status == DeliveryStatus.FAILED and d.attempts == 1
    assert "MOBILE_NUMBER_ILLEGAL" in d.last_error
    assert "13800000002" not in d.last_error  # errors are stored masked
    assert not Delivery.objects.exclude(pk=d.pk).exists()  # no fallback chain: nothing more


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("failure", ["server_error", "bad_number", "unreachable"])
def test_the_causing_action_stays_committed_whatever_the_transport_does(
    world: Any, gateway: FakeGateway, settings: Any, failure: str
) -> None:
    person = Person(name="志愿者", community=world.community)
    person.set_phone("13712345678")
    person.set_unusable_password()
    person.save()
    prefer(person, ["sms"])
    if failure == "server_error":
        gateway.script("aliyun", ("status", 500))
    elif failure == "bad_number":
        gateway.script("aliyun", ("json", 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"}))
    else:
        settings.HUZHU_SMS_ENDPOINT = f"http://127.0.0.1:{_closed_port()}/aliyun/"
    # An action that writes something and notifies; the "immediate" task backend sends right
    # after the commit, in this very call.
    with transaction.atomic():
        skill = Skill.objects.create(code=f"first-aid-{failure}", name="急救")
        note = actions.notify(
            person=person, code="test.event", title="t", body="b", key=f"evt:{failure}"
        )
    assert Skill.objects.filter(pk=skill.pk).exists()
    assert Notification.objects.filter(pk=note.pk).exists()
    d = Delivery.objects.get(notification=note)
    assert d.attempts == 1 and d.last_error
    expected = DeliveryStatus.FAILED if failure == "bad_number" else DeliveryStatus.PENDING
    assert d.status == expected


def test_processing_twice_or_sweeping_twice_sends_once(cast: Any, gateway: FakeGateway) -> None:
    prefer(cast.volunteer, ["sms"])
    d = Delivery.objects.get(notification=notify(cast.volunteer, "evt:once"))
    first = delivery.process(d.pk)
    second = delivery.process(d.pk)
    assert first.status == second.status == DeliveryStatus.SENT
    assert delivery.send_due() == 0 and delivery.send_due() == 0
    # The task, run again (a retried job), sends nothing either.
    from huzhu.notify import tasks

    tasks.send_due_deliveries.call()
    assert sms_count(gateway, d) == 1
    assert DeliveryAttempt.objects.filter(delivery=d).count() == 1
    # Notifying again for the same event key is the same notification: nothing queued twice.
    assert notify(cast.volunteer, "evt:once").pk == d.notification_id
    assert Delivery.objects.count() == 1


def test_a_claimed_delivery_is_not_sent_by_another_sweep(cast: Any, gateway: FakeGateway) -> None:
    """While one worker is sending (claim committed, outcome not yet recorded), another sweep
    at the same instant or a re-run of process() leaves the delivery alone."""
    prefer(cast.volunteer, ["sms"])
    with time_machine.travel(T0, tick=False):
        d = Delivery.objects.get(notification=notify(cast.volunteer, "evt:claimed"))
        claim = delivery._claim(d.pk, delivery.clock.now())
        assert claim is not None and claim.number == 1
        assert delivery.send_due() == 0
        assert delivery.process(d.pk).status == DeliveryStatus.PENDING
        assert sms_count(gateway, d) == 0
        outcome = delivery._send(claim)
        assert delivery._record(claim, outcome).status == DeliveryStatus.SENT
    assert sms_count(gateway, d) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_sweeps_send_each_delivery_once(world: Any, gateway: FakeGateway) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("parallel sweeps need real row locks: run with DATABASE_URL=postgres://…")
    people = []
    for i in range(12):
        p = Person(name=f"志愿者{i}", community=world.community)
        p.set_phone(f"137{i:08d}")
        p.set_unusable_password()
        p.save()
        Preference.objects.create(person=p, channels=["sms"])
        people.append(p)
    for i, p in enumerate(people):
        Delivery.objects.create(
            person=p,
            channel="sms",
            idempotency_key=f"par:{i}:sms",
            next_attempt_at=delivery.clock.now(),
        )
    gateway.script("aliyun", *[("sleep", 0.05)] * 12)  # slow enough for the sweeps to overlap
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(delivery.send_due())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sum(results) == 12
    assert all(gateway.per_key[f"aliyun:par:{i}:sms"] == 1 for i in range(12))
    assert DeliveryAttempt.objects.count() == 12
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_quiet_hours_defer_a_non_urgent_message_not_an_urgent_one(
    cast: Any, gateway: FakeGateway
) -> None:
    person = cast.volunteer
    prefer(person, ["sms"], quiet_start=dt.time(22, 0), quiet_end=dt.time(7, 0))
    night = dt.datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=False) as clock:
        calm = Delivery.objects.get(notification=notify(person, "evt:calm"))
        urgent = Delivery.objects.get(notification=notify(person, "evt:fire", urgent=True))
        assert delivery.send_due() == 1
        calm.refresh_from_db()
        urgent.refresh_from_db()
        assert urgent.status == DeliveryStatus.SENT
        assert calm.status == DeliveryStatus.PENDING and calm.attempts == 0
        assert calm.next_attempt_at == dt.datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI)
        assert sms_count(gateway, calm) == 0
        clock.move_to(dt.datetime(2026, 3, 3, 6, 59, tzinfo=SHANGHAI))
        assert delivery.send_due() == 0
        clock.move_to(dt.datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI))
        assert delivery.send_due() == 1
    assert sms_count(gateway, calm) == 1


@pytest.mark.parametrize(
    ("start", "end", "at", "until"),
    [
        (dt.time(22), dt.time(7), dt.datetime(2026, 3, 3, 2, 0), dt.datetime(2026, 3, 3, 7, 0)),
        (dt.time(22), dt.time(7), dt.datetime(2026, 3, 3, 7, 0), None),
        (dt.time(22), dt.time(7), dt.datetime(2026, 3, 3, 21, 59), None),
        (dt.time(12), dt.time(14), dt.datetime(2026, 3, 3, 13, 0), dt.datetime(2026, 3, 3, 14, 0)),
        (dt.time(12), dt.time(14), dt.datetime(2026, 3, 3, 14, 0), None),
    ],
)
def test_quiet_window_arithmetic(
    start: dt.time, end: dt.time, at: dt.datetime, until: dt.datetime | None
) -> None:
    pref = Preference(quiet_start=start, quiet_end=end)
    got = delivery.quiet_until(pref, at.replace(tzinfo=SHANGHAI))
    assert got == (until.replace(tzinfo=SHANGHAI) if until else None)


def test_a_revoked_push_subscription_is_dropped_and_the_next_channel_used(
    cast: Any, gateway: FakeGateway, vapid: str
) -> None:
    person = cast.volunteer
    sub = push_subscriber(gateway)
    subscription = WebPushSubscription.objects.create(
        person=person, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth
    )
    prefer(person, ["webpush", "sms"])
    gateway.script("push", ("status", 410))
    d = Delivery.objects.get(notification=notify(person, "evt:push"))
    assert delivery.send_due() == 0
    d.refresh_from_db()
    subscription.refresh_from_db()
    assert d.status == DeliveryStatus.FAILED and "gone" in d.last_error
    assert subscription.revoked_at is not None
    assert delivery.send_due() == 1  # the SMS fallback
    assert gateway.per_key[f"aliyun:{d.idempotency_key}:fallback:sms"] == 1
    # The next message finds no subscription: web push is skipped, SMS still reaches them.
    d2 = Delivery.objects.get(notification=notify(person, "evt:push2"))
    assert delivery.send_due() == 0
    d2.refresh_from_db()
    assert d2.status == DeliveryStatus.SKIPPED and d2.attempts == 0
    assert delivery.send_due() == 1
    assert len(gateway.requests("push")) == 1


def test_a_working_push_subscription_gets_the_message(
    cast: Any, gateway: FakeGateway, vapid: str
) -> None:
    sub = push_subscriber(gateway)
    WebPushSubscription.objects.create(
        person=cast.volunteer, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth
    )
    prefer(cast.volunteer, ["webpush"])
    d = Delivery.objects.get(notification=notify(cast.volunteer, "evt:push-ok", title="集合"))
    assert delivery.send_due() == 1
    d.refresh_from_db()
    assert d.provider_id.endswith("/msg/1")
    assert gateway.requests("push")[0].body["title"] == "集合"


def test_a_missing_email_address_skips_to_the_next_channel(cast: Any, gateway: FakeGateway) -> None:
    prefer(cast.volunteer, ["email", "sms"], email="v@example.org")
    Preference.objects.filter(person=cast.volunteer).update(email="")
    d = Delivery.objects.get(notification=notify(cast.volunteer, "evt:noemail"))
    assert delivery.send_due() == 0
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SKIPPED and d.last_error == "no email address"
    assert delivery.send_due() == 1
    assert Delivery.objects.get(channel="sms").status == DeliveryStatus.SENT


def test_a_broadcast_reaches_sms_recipients_and_the_wecom_robot(
    world: Any, cast: Any, gateway: FakeGateway, django_capture_on_commit_callbacks: Any
) -> None:
    WecomRobot.objects.create(community=world.community, name="志愿者群", webhook_key="rk-1")
    with django_capture_on_commit_callbacks(execute=True):
        b = actions.create_broadcast(
            actor=cast.branch_head,
            audience={"community": world.community.pk, "roles": ["volunteer"]},
            title="明早核酸",
            body="请回复能否到岗",
            reply_kind="yes_no",
            channels=["sms", "wecom"],
        )
    # The immediate task backend fanned out and swept right after the commit.
    (robot_post,) = gateway.requests("wecom")
    assert robot_post.key == "rk-1" and "明早核酸" in robot_post.body["markdown"]["content"]
    (sms,) = gateway.requests("aliyun")
    assert sms.body["PhoneNumbers"] == "13800000002"
    assert "请登录平台作答" in sms.body["TemplateParam"]
    assert set(Delivery.objects.filter(broadcast=b).values_list("status", flat=True)) == {
        DeliveryStatus.SENT
    }


def test_the_sweeper_command_prints_its_counts(cast: Any, gateway: FakeGateway) -> None:
    prefer(cast.volunteer, ["sms"])
    notify(cast.volunteer, "evt:cmd")
    out = io.StringIO()
    call_command("send_notifications", stdout=out)
    assert "broadcasts started: 0, deliveries sent: 1" in out.getvalue()


def test_events_render_in_the_recipients_language(cast: Any) -> None:
    person = cast.volunteer
    title, body = render_event(
        "accounts.role.granted", person, role="志愿者", scope="阳光小区", actor="Branch Head"
    )
    assert title == "你获得了“志愿者”角色"
    assert "Branch Head" in body and "阳光小区" in body
    person.preferred_language = "en"
    deadline = dt.datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)
    title, body = render_event(
        "notify.broadcast.reply_reminder", person, title="Test", deadline=deadline
    )
    with translation.override("en"):
        assert title == str(EVENTS["notify.broadcast.reply_reminder"][0]) % {"title": "Test"}
    assert translation.get_language() != "en"  # the override does not leak
    with pytest.raises(ValueError):
        render_event("no.such.event", person)


def test_grants_and_status_changes_notify_the_person_in_their_language(
    world: Any, cast: Any, gateway: FakeGateway
) -> None:
    from huzhu.accounts import actions as accounts

    person = cast.resident
    prefer(person, ["sms"])
    grant = accounts.grant_role(
        actor=cast.branch_head, person=person, role="volunteer", node=world.community
    )
    granted = Notification.objects.get(idempotency_key=f"grant:{grant.pk}:granted")
    assert granted.person == person and granted.code == "accounts.role.granted"
    assert granted.title == "你获得了“志愿者”角色"
    assert "阳光小区" in granted.body and "Branch Head" in granted.body
    assert Delivery.objects.get(notification=granted).channel == "sms"

    person.preferred_language = "en"
    person.save(update_fields=["preferred_language"])
    accounts.revoke_role(actor=cast.branch_head, grant=grant)
    revoked = Notification.objects.get(idempotency_key=f"grant:{grant.pk}:revoked")
    # Rendered under the person's language: the role label and the community's English name.
    assert (revoked.title, revoked.body) == render_event(
        "accounts.role.revoked",
        person,
        role=Role.VOLUNTEER.label,
        scope=world.community,
        actor=cast.branch_head,
    )
    assert "Sunshine" in revoked.body

    until = dt.datetime(2030, 1, 1, 9, 0, tzinfo=SHANGHAI)
    accounts.set_status(
        actor=cast.branch_head, person=person, status="suspended", until=until, reason="投诉"
    )
    changed = Notification.objects.get(person=person, code="accounts.person.status_changed")
    assert "投诉" in changed.body
    # Sending is the sweeper's job: the three actions only queued the messages.
    assert delivery.send_due() == 3
    assert len(gateway.requests("aliyun")) == 3
