"""Every state change of notifications and broadcasts.

Rules: every volunteer can be reached with one broadcast (DOMAIN.md "Emergency information
platform"); every request gets an answer by its deadline (seed 002, 请求答复); the inbox is
always on, other channels follow preferences and quiet hours, urgent messages bypass them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.notify import audience as aud
from huzhu.notify.models import (
    EXTERNAL_CHANNELS,
    Broadcast,
    BroadcastStatus,
    Channel,
    Delivery,
    Notification,
    Preference,
    Receipt,
    ReplyKind,
    SavedAudience,
    Visibility,
    WecomRobot,
)
from huzhu.orgs.models import Alliance, Community

# Receipts are written in batches of this many people, each batch its own transaction.
FANOUT_BATCH = 20_000
MAX_CHOICES = 20


def _text(value: str, field: str, label: str, max_len: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(
            "notify.field.required",
            _("请填写%(label)s。") % {"label": label},
            details={"field": field},
        )
    if len(value) > max_len:
        raise DomainError(
            "notify.field.too_long",
            _("%(label)s不能超过 %(n)s 个字。") % {"label": label, "n": max_len},
            details={"field": field},
        )
    return value


def _channels(raw: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for ch in raw or []:
        if ch not in EXTERNAL_CHANNELS:
            raise DomainError(
                "notify.channel.invalid",
                _("不支持的渠道：%(ch)s") % {"ch": ch},
                details={"field": "channels"},
            )
        if ch not in out:
            out.append(ch)
    return out


def _reply_rules(
    kind: str,
    choices: list[str] | None,
    deadline: dt.datetime | None,
    scheduled_at: dt.datetime | None,
) -> list[str]:
    if kind not in ReplyKind.values:
        raise DomainError("notify.reply.kind", _("回复方式无效。"), details={"field": "reply_kind"})
    cleaned = [c.strip() for c in (choices or []) if c and c.strip()]
    if kind == ReplyKind.CHOICE:
        if not 2 <= len(cleaned) <= MAX_CHOICES or len(set(cleaned)) != len(cleaned):
            raise DomainError(
                "notify.reply.choices",
                _("单选须有 2 到 %(n)s 个互不相同的选项。") % {"n": MAX_CHOICES},
                details={"field": "reply_choices"},
            )
        if any(len(c) > 100 for c in cleaned):
            raise DomainError(
                "notify.reply.choices",
                _("每个选项不能超过 100 个字。"),
                details={"field": "reply_choices"},
            )
    else:
        cleaned = []
    if kind == ReplyKind.NONE and deadline is not None:
        raise DomainError(
            "notify.reply.deadline_without_reply",
            _("无需回复的广播不能设置回复截止时间。"),
            details={"field": "reply_deadline"},
        )
    start = scheduled_at or clock.now()
    if deadline is not None and deadline <= start:
        raise DomainError(
            "notify.reply.deadline_past",
            _("回复截止时间必须晚于发送时间。"),
            details={"field": "reply_deadline"},
        )
    return cleaned


@transaction.atomic
def create_broadcast(
    *,
    actor: Person,
    audience: dict[str, Any],
    title: str,
    body: str,
    visibility: str = Visibility.INTERNAL,
    urgent: bool = False,
    channels: Iterable[str] | None = None,
    reply_kind: str = ReplyKind.NONE,
    reply_choices: list[str] | None = None,
    reply_deadline: dt.datetime | None = None,
    scheduled_at: dt.datetime | None = None,
) -> Broadcast:
    """Compose a broadcast and send it now, or schedule it.

    The sender holds notify.broadcast on the community (or alliance), or on each building or
    group the audience is narrowed to.
    """
    spec = aud.parse_spec(audience)
    root = aud.check_scope(actor, spec)
    if visibility not in Visibility.values:
        raise DomainError("notify.visibility", _("公开范围无效。"), details={"field": "visibility"})
    if scheduled_at is not None and scheduled_at <= clock.now():
        raise DomainError(
            "notify.schedule.past",
            _("定时发送时间必须晚于现在。"),
            details={"field": "scheduled_at"},
        )
    choices = _reply_rules(reply_kind, reply_choices, reply_deadline, scheduled_at)
    community = root if isinstance(root, Community) else None
    alliance = root.alliance if isinstance(root, Community) else root
    assert isinstance(alliance, Alliance)
    broadcast = Broadcast.objects.create(
        alliance=alliance,
        community=community,
        author=actor,
        title=_text(title, "title", _("标题"), 200),
        body=_text(body, "body", _("内容"), 5000),
        visibility=visibility,
        urgent=bool(urgent),
        audience=spec.to_json(),
        audience_label=aud.describe(spec),
        channels=_channels(channels),
        reply_kind=reply_kind,
        reply_choices=choices,
        reply_deadline=reply_deadline,
        scheduled_at=scheduled_at,
        status=BroadcastStatus.SCHEDULED if scheduled_at else BroadcastStatus.SENDING,
    )
    record(
        "notify.broadcast.created",
        actor=actor,
        target=broadcast,
        community=community,
        alliance=alliance,
        new={
            "title": broadcast.title,
            "audience": broadcast.audience_label,
            "reply_kind": reply_kind,
            "scheduled_at": scheduled_at,
        },
    )
    if scheduled_at is None:
        _enqueue_fan_out(broadcast)
    return broadcast


def _enqueue_fan_out(broadcast: Broadcast) -> None:
    from huzhu.notify import tasks

    broadcast_id = broadcast.pk
    transaction.on_commit(lambda: tasks.fan_out_broadcast.enqueue(broadcast_id))


@transaction.atomic
def cancel_broadcast(*, actor: Person, broadcast: Broadcast) -> Broadcast:
    """A scheduled broadcast can be cancelled until it is sent."""
    broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    aud.require_manage(actor, broadcast)
    if broadcast.status != BroadcastStatus.SCHEDULED:
        raise ConflictError("notify.broadcast.not_scheduled", _("只有尚未发送的定时广播可以取消。"))
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.save(update_fields=["status", "updated_at"])
    record("notify.broadcast.cancelled", actor=actor, target=broadcast)
    return broadcast


def send_due_broadcasts(now: dt.datetime | None = None) -> int:
    """Start the scheduled broadcasts whose time has come (run by the sweeper)."""
    now = now or clock.now()
    started = 0
    due = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, scheduled_at__lte=now)
    for pk in list(due.values_list("pk", flat=True)[:100]):
        with transaction.atomic():
            b = (
                Broadcast.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=BroadcastStatus.SCHEDULED)
                .first()
            )
            if b is None:
                continue
            b.status = BroadcastStatus.SENDING
            b.save(update_fields=["status", "updated_at"])
            record("notify.broadcast.started", actor=None, target=b)
            _enqueue_fan_out(b)
            started += 1
    return started


def _insert_receipts(
    broadcast: Broadcast, people: QuerySet[Person], now: dt.datetime, *, retry: bool = False
) -> int:
    """INSERT … SELECT the receipts of one batch.

    The first attempt is a plain INSERT: ``ON CONFLICT DO NOTHING`` probes the unique index once
    more per row (about a quarter of the batch's time, measured). Only when that attempt meets
    receipts that already exist (a fan-out re-run after a crash) is the batch written again
    with ``retry=True``, which leaves existing receipts alone."""
    select = people.order_by().values("pk", "community_id", "household__building_id")
    sql, params = select.query.sql_with_params()
    table = Receipt._meta.db_table
    stamp = connection.ops.adapt_datetimefield_value(now)
    conflict = " ON CONFLICT (broadcast_id, person_id) DO NOTHING" if retry else ""
    statement = (
        f"INSERT INTO {table} (person_id, community_id, building_id, broadcast_id, "  # noqa: S608
        f"delivered_at, reply, resend_count) "
        f"SELECT q.*, %s, %s, '', 0 FROM ({sql}) q WHERE 1 = 1{conflict}"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not retry:
            # The batch need not wait for its WAL flush: the fan-out's last commit (status SENT)
            # is synchronous and flushes the WAL up to it, this batch included; a crash before
            # it leaves the broadcast SENDING, and the re-run writes what is missing.
            cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(statement, [broadcast.pk, stamp, *params])
        return max(int(cursor.rowcount), 0)


def _write_batch(
    broadcast: Broadcast, people: QuerySet[Person], now: dt.datetime
) -> tuple[int, bool]:
    """One batch in its own transaction; again, conflict-safe, if some receipts exist. Returns
    the receipts written and whether the batch met existing ones."""
    try:
        with transaction.atomic():
            return _insert_receipts(broadcast, people, now), False
    except IntegrityError:
        with transaction.atomic():
            return _insert_receipts(broadcast, people, now, retry=True), True


def _fanout_workers(batches: int) -> int:
    """Parallel writers for a fan-out: on PostgreSQL, outside a surrounding transaction (whose
    uncommitted rows other connections could not see), up to HUZHU_FANOUT_WORKERS."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, min(int(settings.HUZHU_FANOUT_WORKERS), batches))


def _run_in_threads(run: Callable[[list[int]], None], chunks: list[list[int]]) -> None:
    """Each thread gets its own database connection, closed when it is done."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def work(chunk: list[int]) -> None:
        try:
            run(chunk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        for future in [pool.submit(work, c) for c in chunks]:
            future.result()  # re-raises a batch's error


def fan_out(broadcast_id: int, *, batch: int = FANOUT_BATCH) -> int:
    """Write one receipt per recipient in batches (each batch one transaction), then queue the
    external deliveries. Safe to run again after a crash: existing receipts are kept."""
    broadcast = Broadcast.objects.get(pk=broadcast_id)
    if broadcast.status != BroadcastStatus.SENDING:
        return 0
    spec = aud.parse_spec(broadcast.audience)
    people = aud.recipients(spec)
    span = aud.id_range(spec)
    now = clock.now()
    # Counting 360,000 receipts afterwards costs a scan; on a first run without conflicts the
    # batches' own row counts are the number (a re-run, or a batch that met receipts, counts).
    counted = not Receipt.objects.filter(broadcast=broadcast).exists()
    written: list[int] = []
    if span is not None:
        # Ranges of person ids: no counting or OFFSET to find a batch's end.
        starts = list(range(span[0], span[1] + 1, batch))

        def run(chunk: list[int]) -> None:
            nonlocal counted
            for start in chunk:
                batch_people = people.filter(pk__gte=start, pk__lt=start + batch)
                rows, conflicted = _write_batch(broadcast, batch_people, now)
                written.append(rows)
                if conflicted:
                    counted = False

        workers = _fanout_workers(len(starts))
        if workers == 1:
            run(starts)
        else:
            _run_in_threads(run, [starts[i::workers] for i in range(workers)])
    with transaction.atomic():
        b = Broadcast.objects.select_for_update().get(pk=broadcast_id)
        b.recipient_count = sum(written) if counted else Receipt.objects.filter(broadcast=b).count()
        b.status = BroadcastStatus.SENT
        b.sent_at = now
        b.save(update_fields=["recipient_count", "status", "sent_at", "updated_at"])
        record("notify.broadcast.sent", actor=None, target=b, new={"recipients": b.recipient_count})
        queue_broadcast_deliveries(b, Receipt.objects.filter(broadcast=b), key_suffix="")
    return int(b.recipient_count)


def queue_broadcast_deliveries(
    broadcast: Broadcast, receipts: QuerySet[Receipt], key_suffix: str
) -> int:
    """External deliveries for a broadcast: per recipient on the channels both the broadcast
    and the person want, and one post per WeCom robot of the targeted groups or community."""
    created = 0
    if broadcast.channels:
        prefs = {
            p.person_id: p.channels
            for p in Preference.objects.filter(person_id__in=receipts.values("person_id")).only(
                "person_id", "channels"
            )
        }
        rows: list[Delivery] = []
        for r in receipts.only("pk", "person_id", "community_id").iterator(chunk_size=5000):
            wanted = [
                c
                for c in prefs.get(r.person_id, [Channel.SMS])
                if c in broadcast.channels and c != Channel.WECOM
            ]
            if not wanted:
                continue
            rows.append(
                Delivery(
                    community_id=r.community_id,
                    person_id=r.person_id,
                    receipt_id=r.pk,
                    broadcast=broadcast,
                    channel=wanted[0],
                    fallbacks=wanted[1:],
                    idempotency_key=f"receipt:{r.pk}{key_suffix}:{wanted[0]}",
                    next_attempt_at=clock.now(),
                )
            )
            if len(rows) >= 2000:
                created += len(Delivery.objects.bulk_create(rows, ignore_conflicts=True))
                rows = []
        created += len(Delivery.objects.bulk_create(rows, ignore_conflicts=True))
    if Channel.WECOM in broadcast.channels:
        robots = WecomRobot.objects.filter(active=True)
        groups = broadcast.audience.get("groups") or []
        if groups:
            robots = robots.filter(group_id__in=groups)
        elif broadcast.community is not None:
            robots = robots.filter(community=broadcast.community)
        else:
            robots = robots.filter(community__alliance=broadcast.alliance)
        created += len(
            Delivery.objects.bulk_create(
                [
                    Delivery(
                        community_id=robot.community_id,
                        robot=robot,
                        broadcast=broadcast,
                        channel=Channel.WECOM,
                        idempotency_key=f"broadcast:{broadcast.pk}{key_suffix}:robot:{robot.pk}",
                        next_attempt_at=clock.now(),
                    )
                    for robot in robots
                ],
                ignore_conflicts=True,
            )
        )
    if created:
        _enqueue_deliveries()
    return created


def _enqueue_deliveries() -> None:
    from huzhu.notify import tasks

    transaction.on_commit(lambda: tasks.send_due_deliveries.enqueue())


def notify(
    *,
    person: Person,
    code: str,
    title: str,
    body: str = "",
    link: str = "",
    urgent: bool = False,
    key: str,
    community: Community | None = None,
) -> Notification:
    """Put an event message in a person's inbox and queue it on their preferred channels.

    Called inside the causing action's transaction; ``key`` (unique) makes a retried action
    notify once. Title and body are rendered by the caller in the recipient's language
    (see huzhu.notify.render).
    """
    existing = Notification.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    note = Notification.objects.create(
        person=person,
        community=community or person.community,
        code=code,
        title=title[:200],
        body=body,
        link=link[:300],
        urgent=urgent,
        created_at=clock.now(),
        idempotency_key=key[:120],
    )
    pref = Preference.objects.filter(person=person).first()
    channels = [
        c for c in (pref.channels if pref else []) if c in EXTERNAL_CHANNELS and c != Channel.WECOM
    ]
    if channels:
        Delivery.objects.create(
            community=note.community,
            person=person,
            notification=note,
            channel=channels[0],
            fallbacks=channels[1:],
            idempotency_key=f"notification:{note.pk}:{channels[0]}",
            next_attempt_at=clock.now(),
        )
        _enqueue_deliveries()
    return note


@transaction.atomic
def mark_read(
    *, actor: Person, receipt: Receipt | None = None, notification: Notification | None = None
) -> None:
    """Reading one's own message records the read receipt (once)."""
    target: Any = receipt or notification
    if target is None or target.person_id != actor.pk:
        from django.http import Http404

        raise Http404
    if target.read_at is None:
        type(target).objects.filter(pk=target.pk, read_at__isnull=True).update(read_at=clock.now())


@transaction.atomic
def mark_all_read(*, actor: Person) -> int:
    now = clock.now()
    n = Notification.objects.filter(person=actor, read_at__isnull=True).update(read_at=now)
    n += Receipt.objects.filter(person=actor, read_at__isnull=True).update(read_at=now)
    return n


def _parse_reply(broadcast: Broadcast, value: Any) -> str:
    kind = broadcast.reply_kind
    text = str(value if value is not None else "").strip()
    if kind == ReplyKind.NONE:
        raise DomainError("notify.reply.not_requested", _("这条广播不需要回复。"))
    if kind == ReplyKind.YES_NO:
        mapping = {
            "yes": "yes",
            "y": "yes",
            "是": "yes",
            "true": "yes",
            "1": "yes",
            "no": "no",
            "n": "no",
            "否": "no",
            "false": "no",
            "0": "no",
        }
        if text.lower() not in mapping:
            raise DomainError(
                "notify.reply.yes_no", _("请回复“是”或“否”。"), details={"field": "value"}
            )
        return mapping[text.lower()]
    if kind == ReplyKind.CHOICE:
        if text not in broadcast.reply_choices:
            raise DomainError(
                "notify.reply.choice", _("请从给出的选项中选择一项。"), details={"field": "value"}
            )
        return text
    if kind == ReplyKind.NUMBER:
        try:
            number = Decimal(text)
            if not number.is_finite() or abs(number) >= Decimal("1e12"):
                raise InvalidOperation
        except InvalidOperation:
            raise DomainError(
                "notify.reply.number", _("请填写一个数字。"), details={"field": "value"}
            ) from None
        return format(number.normalize(), "f")
    if not text:
        raise DomainError("notify.reply.empty", _("回复内容不能为空。"), details={"field": "value"})
    if len(text) > 500:
        raise DomainError(
            "notify.reply.too_long", _("回复不能超过 500 个字。"), details={"field": "value"}
        )
    return text


@transaction.atomic
def reply_to_broadcast(*, actor: Person, receipt: Receipt, value: Any) -> Receipt:
    """Answer a broadcast that asks for a reply, until its deadline; answering again before
    the deadline changes the answer. Replying also counts as reading."""
    receipt = Receipt.objects.select_for_update().select_related("broadcast").get(pk=receipt.pk)
    if receipt.person_id != actor.pk:
        from django.http import Http404

        raise Http404
    broadcast = receipt.broadcast
    if broadcast.reply_deadline is not None and clock.now() > broadcast.reply_deadline:
        raise DomainError("notify.reply.closed", _("回复已截止。"), status=409)
    answer = _parse_reply(broadcast, value)
    old = {"reply": receipt.reply}
    now = clock.now()
    receipt.reply = answer
    receipt.replied_at = now
    receipt.read_at = receipt.read_at or now
    receipt.save(update_fields=["reply", "replied_at", "read_at"])
    record(
        "notify.broadcast.replied",
        actor=actor,
        target=broadcast,
        community=broadcast.community,
        alliance=broadcast.alliance,
        old=old,
        new={"reply": answer},
    )
    return receipt


@transaction.atomic
def resend_to_silent(*, actor: Person, broadcast: Broadcast, which: str = "unread") -> int:
    """Send again to those who have not read (or not replied): their message comes back to
    the top of the inbox and goes out again on the broadcast's channels. Nobody else gets it."""
    broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    aud.require_manage(actor, broadcast)
    if broadcast.status != BroadcastStatus.SENT:
        raise ConflictError("notify.broadcast.not_sent", _("广播尚未发送完成，不能重发。"))
    if which not in ("unread", "unreplied"):
        raise DomainError("notify.resend.which", _("重发对象无效。"), details={"field": "which"})
    if which == "unreplied" and broadcast.reply_kind == ReplyKind.NONE:
        raise DomainError(
            "notify.resend.no_reply", _("这条广播不需要回复。"), details={"field": "which"}
        )
    silent = Receipt.objects.filter(broadcast=broadcast)
    silent = (
        silent.filter(read_at__isnull=True)
        if which == "unread"
        else silent.filter(replied_at__isnull=True)
    )
    ids = list(silent.values_list("pk", flat=True))
    if not ids:
        return 0
    now = clock.now()
    Receipt.objects.filter(pk__in=ids).update(resent_at=now, resend_count=F("resend_count") + 1)
    stamp = int(now.timestamp())
    queue_broadcast_deliveries(
        broadcast, Receipt.objects.filter(pk__in=ids), key_suffix=f":resend:{stamp}"
    )
    record(
        "notify.broadcast.resent",
        actor=actor,
        target=broadcast,
        community=broadcast.community,
        alliance=broadcast.alliance,
        new={"which": which, "recipients": len(ids)},
    )
    return len(ids)


@transaction.atomic
def save_audience(
    *, actor: Person, community: Community, name: str, audience: dict[str, Any]
) -> SavedAudience:
    spec = aud.parse_spec({**audience, "community": community.pk})
    aud.check_scope(actor, spec)
    name = _text(name, "name", _("名称"), 100)
    saved, _created = SavedAudience.objects.update_or_create(
        community=community, name=name, defaults={"spec": spec.to_json(), "created_by": actor}
    )
    record(
        "notify.audience.saved", actor=actor, target=saved, community=community, new={"name": name}
    )
    return saved


@transaction.atomic
def set_preferences(
    *,
    actor: Person,
    channels: list[str],
    email: str = "",
    quiet_start: dt.time | None = None,
    quiet_end: dt.time | None = None,
) -> Preference:
    """A person's own channels (in order of preference) and quiet hours."""
    chosen = [c for c in _channels(channels) if c != Channel.WECOM]
    if Channel.EMAIL in chosen and not email.strip():
        raise DomainError(
            "notify.email.required", _("选择邮件通知时请填写邮箱。"), details={"field": "email"}
        )
    if email.strip():
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        try:
            validate_email(email.strip())
        except ValidationError:
            raise DomainError(
                "notify.email.invalid", _("邮箱格式不正确。"), details={"field": "email"}
            ) from None
    if (quiet_start is None) != (quiet_end is None) or (
        quiet_start is not None and quiet_start == quiet_end
    ):
        raise DomainError(
            "notify.quiet.invalid",
            _("免打扰时段须同时填写开始和结束时间，且二者不同。"),
            details={"field": "quiet_start"},
        )
    pref, _created = Preference.objects.update_or_create(
        person=actor,
        defaults={
            "community": actor.community,
            "channels": chosen,
            "email": email.strip(),
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
        },
    )
    record(
        "notify.preferences.changed",
        actor=actor,
        target=actor,
        new={"channels": chosen, "quiet_start": quiet_start, "quiet_end": quiet_end},
    )
    return pref
