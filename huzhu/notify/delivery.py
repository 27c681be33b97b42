"""The delivery engine: send due external deliveries with retries, backoff and fallbacks.

Rules (issue 3): every try is a ``DeliveryAttempt`` row; a retryable failure is tried again
after a growing pause (1, 5, 25 … minutes, at most 2 hours) up to HUZHU_NOTIFY_MAX_ATTEMPTS;
then, or at once for a failure no retry can fix, the delivery is ``failed`` with its error and
the next channel of its fallback chain gets a delivery of its own. A missing address (no
email, no push subscription) skips the channel and falls back as well. Quiet hours of the
recipient defer non-urgent messages to the end of the window. Actions only create
``Delivery`` rows: sending happens here, called from the tasks and the sweeper command, and
nothing here raises into the action that caused the message.

Sending twice is prevented by a claim: under the row lock, a due pending delivery gets its
attempt number and a lease (``next_attempt_at`` pushed past the longest send), and that
transaction commits before the transport is called. Another sweep, or the same task run
again, finds the row not due (or no longer pending) and leaves it alone. The outcome is then
recorded under the row lock in a second short transaction. Only a worker that dies between
the provider's acceptance and the record can cause a resend, after the lease expires.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from huzhu.core import clock
from huzhu.core.logging import mask_text
from huzhu.notify.models import (
    EXTERNAL_CHANNELS,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Preference,
    ReplyKind,
    WebPushSubscription,
)
from huzhu.notify.transports import OutgoingMessage, TransportError, get_transport

logger = logging.getLogger("huzhu.notify.delivery")

BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_FACTOR = 5
BACKOFF_CAP = dt.timedelta(hours=2)
# A person's browsers: at most this many push subscriptions get each message.
MAX_SUBSCRIPTIONS = 5


def backoff(attempt: int) -> dt.timedelta:
    """Pause after the ``attempt``-th failed try: 1 min, 5 min, 25 min, … at most 2 hours."""
    pause: dt.timedelta = BACKOFF_BASE * int(BACKOFF_FACTOR ** max(attempt - 1, 0))
    return min(pause, BACKOFF_CAP)


def max_attempts() -> int:
    return max(1, int(getattr(settings, "HUZHU_NOTIFY_MAX_ATTEMPTS", 4)))


def lease(messages: int) -> dt.timedelta:
    """How long a claimed delivery is hidden from other sweeps: past the longest send."""
    timeout = float(getattr(settings, "HUZHU_NOTIFY_TIMEOUT_SECONDS", 5))
    return dt.timedelta(seconds=120 + 2 * timeout * max(messages, 1))


def quiet_until(pref: Preference | None, now: dt.datetime) -> dt.datetime | None:
    """The end of the person's quiet window if ``now`` is inside it (overnight windows such
    as 22:00–07:00 included), else None. Times are local to the installation."""
    if pref is None or pref.quiet_start is None or pref.quiet_end is None:
        return None
    start, end = pref.quiet_start, pref.quiet_end
    if start == end:
        return None
    local = timezone.localtime(now)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=end.second, microsecond=0)
    if until <= local:
        until += dt.timedelta(days=1)
    return until


def due(now: dt.datetime) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")


def send_due(now: dt.datetime | None = None, limit: int = 500) -> int:
    """Process up to ``limit`` due deliveries; returns how many were sent by this call.

    On PostgreSQL the due rows are picked with SKIP LOCKED, so parallel sweeps share the work;
    ``process`` re-checks each row under its lock, so a row is sent once in any case.
    """
    now = now or clock.now()
    query = due(now).values_list("pk", flat=True)
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(query.select_for_update(skip_locked=True)[:limit])
    else:
        ids = list(query[:limit])
    sent = 0
    for pk in ids:
        try:
            _delivery, sent_now = _process(pk, None)
        except Exception:  # one broken row must not stop the sweep
            logger.exception("notify: delivery %s could not be processed", pk)
            continue
        sent += sent_now
    return sent


def process(delivery_id: int, now: dt.datetime | None = None) -> Delivery:
    """Try one delivery now if it is pending and due; otherwise return it untouched."""
    delivery, _sent = _process(delivery_id, now)
    return delivery


@dataclass
class _Claim:
    delivery_id: int
    number: int
    channel: str
    messages: list[OutgoingMessage]


@dataclass
class _Outcome:
    started_at: dt.datetime
    finished_at: dt.datetime
    provider_ids: list[str] = field(default_factory=list)
    errors: list[TransportError] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.provider_ids)

    @property
    def retryable(self) -> bool:
        return any(e.retryable for e in self.errors)

    @property
    def error(self) -> str:
        return "; ".join(dict.fromkeys(str(e) for e in self.errors))[:2000]


def _process(delivery_id: int, now: dt.datetime | None) -> tuple[Delivery, bool]:
    claim = _claim(delivery_id, now or clock.now())
    if claim is None:
        return Delivery.objects.get(pk=delivery_id), False
    outcome = _send(claim)
    delivery = _record(claim, outcome)
    return delivery, outcome.ok and delivery.status == DeliveryStatus.SENT


def _content(d: Delivery) -> tuple[str, str, bool, str]:
    """Title, body, urgency and link of what the delivery carries."""
    if d.notification_id is not None:
        n = d.notification
        assert n is not None
        return n.title, n.body, n.urgent, n.link
    broadcast = d.broadcast
    if broadcast is None and d.receipt is not None:
        broadcast = d.receipt.broadcast
    if broadcast is None:
        return "", "", False, ""
    body = broadcast.body
    if broadcast.reply_kind != ReplyKind.NONE and d.person is not None:
        with translation.override(d.person.preferred_language or "zh-hans"):
            body = f"{body}\n{_('这条消息需要你回复，请登录平台作答。')}"
    return broadcast.title, body, broadcast.urgent, ""


def _messages(
    d: Delivery, title: str, body: str, urgent: bool, link: str, pref: Preference | None
) -> list[OutgoingMessage]:
    """One message per address of the recipient on the delivery's channel (none: skip)."""

    def msg(address: str, keys: dict[str, str] | None = None) -> OutgoingMessage:
        return OutgoingMessage(
            channel=d.channel,
            address=address,
            title=title,
            body=body,
            idempotency_key=d.idempotency_key,
            urgent=urgent,
            link=link,
            keys=keys or {},
        )

    if d.channel == Channel.WECOM:
        robot = d.robot
        if robot is None or not robot.active or not robot.webhook_key:
            return []
        return [msg(robot.webhook_key)]
    person = d.person
    if person is None:
        return []
    if d.channel == Channel.SMS:
        return [msg(person.phone)] if person.phone else []
    if d.channel == Channel.EMAIL:
        return [msg(pref.email)] if pref is not None and pref.email else []
    if d.channel == Channel.WEBPUSH:
        subs = WebPushSubscription.objects.filter(person=person, revoked_at__isnull=True).order_by(
            "-created_at", "-pk"
        )[:MAX_SUBSCRIPTIONS]
        return [msg(s.endpoint, {"p256dh": s.p256dh, "auth": s.auth}) for s in subs]
    return []


def _claim(delivery_id: int, now: dt.datetime) -> _Claim | None:
    with transaction.atomic():
        d = Delivery.objects.select_for_update().get(pk=delivery_id)
        if d.status != DeliveryStatus.PENDING:
            return None
        if d.next_attempt_at is not None and d.next_attempt_at > now:
            return None
        title, body, urgent, link = _content(d)
        pref = (
            Preference.objects.filter(person_id=d.person_id).first()
            if d.person_id is not None
            else None
        )
        if not urgent and d.person_id is not None:
            until = quiet_until(pref, now)
            if until is not None:
                d.next_attempt_at = until
                d.save(update_fields=["next_attempt_at", "updated_at"])
                return None
        messages = _messages(d, title, body, urgent, link, pref)
        if not messages:
            _give_up(d, DeliveryStatus.SKIPPED, _no_address(d.channel), now)
            d.save()
            return None
        d.attempts += 1
        d.next_attempt_at = now + lease(len(messages))
        d.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
        return _Claim(d.pk, d.attempts, d.channel, messages)


def _no_address(channel: str) -> str:
    reasons: dict[str, str] = {
        Channel.SMS: "no phone number",
        Channel.EMAIL: "no email address",
        Channel.WEBPUSH: "no active push subscription",
        Channel.WECOM: "robot inactive or without key",
    }
    return reasons.get(channel, f"no address for {channel}")


def _send(claim: _Claim) -> _Outcome:
    outcome = _Outcome(started_at=clock.now(), finished_at=clock.now())
    try:
        transport = get_transport(claim.channel)
    except TransportError as exc:
        outcome.errors.append(exc)
        return outcome
    for message in claim.messages:
        try:
            result = transport.send(message)
        except TransportError as exc:
            outcome.errors.append(exc)
            if exc.gone:
                outcome.gone.append(message.address)
        except Exception as exc:  # a bug or an unexpected library error: try again later
            logger.exception("notify: %s transport crashed", claim.channel)
            outcome.errors.append(TransportError(f"{type(exc).__name__}: {exc}", retryable=True))
        else:
            outcome.provider_ids.append(result.provider_id)
    outcome.finished_at = clock.now()
    return outcome


def _record(claim: _Claim, outcome: _Outcome) -> Delivery:
    now = outcome.finished_at
    with transaction.atomic():
        d = Delivery.objects.select_for_update().get(pk=claim.delivery_id)
        provider_id = ",".join(p for p in outcome.provider_ids if p)[:120]
        error = mask_text(outcome.error)
        DeliveryAttempt.objects.create(
            delivery=d,
            number=claim.number,
            started_at=outcome.started_at,
            finished_at=outcome.finished_at,
            ok=outcome.ok,
            provider_id=provider_id,
            error="" if outcome.ok else error,
        )
        if outcome.gone:
            WebPushSubscription.objects.filter(
                endpoint__in=outcome.gone, revoked_at__isnull=True
            ).update(revoked_at=now)
        if d.status != DeliveryStatus.PENDING:
            # Finished meanwhile by a sweep that took over after our lease ran out.
            return d
        if outcome.ok:
            d.status = DeliveryStatus.SENT
            d.sent_at = now
            d.provider_id = provider_id
            d.last_error = ""
            d.next_attempt_at = None
        elif d.attempts != claim.number:
            # Another sweep claimed it after our lease ran out and is sending now.
            return d
        elif outcome.retryable and d.attempts < max_attempts():
            d.last_error = error
            d.next_attempt_at = now + backoff(d.attempts)
            logger.warning(
                "notify: delivery %s try %s failed, retry at %s: %s",
                d.pk,
                d.attempts,
                d.next_attempt_at,
                error,
            )
        else:
            logger.warning("notify: delivery %s failed for good: %s", d.pk, error)
            _give_up(d, DeliveryStatus.FAILED, error, now)
        d.save()
        return d


def _give_up(d: Delivery, status: str, error: str, now: dt.datetime) -> None:
    """End the delivery (failed or skipped) and queue the next channel of its chain."""
    d.status = status
    d.last_error = error
    d.next_attempt_at = None
    personal = [c for c in EXTERNAL_CHANNELS if c != Channel.WECOM]
    allowed = personal if d.person_id is not None else []
    chain = [c for c in d.fallbacks if c in allowed and c != d.channel]
    if not chain:
        return
    nxt = chain[0]
    Delivery.objects.get_or_create(
        idempotency_key=f"{d.idempotency_key}:fallback:{nxt}"[:160],
        defaults={
            "community_id": d.community_id,
            "person_id": d.person_id,
            "robot_id": d.robot_id,
            "notification_id": d.notification_id,
            "receipt_id": d.receipt_id,
            "broadcast_id": d.broadcast_id,
            "channel": nxt,
            "fallbacks": chain[1:],
            "next_attempt_at": now,
        },
    )
