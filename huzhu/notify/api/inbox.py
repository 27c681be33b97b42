"""My inbox: list, unread count, read all; my notifications and receipts (reading marks them
read; replying answers the broadcast); my channel preferences and quiet hours. Someone else's
notification or receipt is 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query

from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, PageMeta, page_bounds
from huzhu.notify import actions, queries
from huzhu.notify.api.common import _actor, router
from huzhu.notify.api.schemas import (
    CountOut,
    InboxItemOut,
    InboxPage,
    InboxQuery,
    NotificationOut,
    PreferenceIn,
    PreferenceOut,
    ReceiptOut,
    ReplyIn,
    _preference_out,
    _receipt_out,
)
from huzhu.notify.models import Notification, Preference, Receipt


def _own_receipt(actor: Person, receipt_id: int) -> Receipt:
    receipt: Receipt = get_object_or_404(
        Receipt.objects.select_related("broadcast__author"), pk=receipt_id, person=actor
    )
    return receipt


# --- my inbox ---------------------------------------------------------------------------------


@router.get("inbox", response={200: InboxPage, **ERRORS}, operation_id="huzhu_notify_api_inbox")
def inbox(request: HttpRequest, q: Query[InboxQuery]) -> InboxPage:
    """My notifications and broadcasts, newest first (a broadcast's id is its receipt id)."""
    actor = _actor(request)
    start, end = page_bounds(q.page, q.page_size)
    notes = Notification.objects.filter(person=actor)
    receipts = Receipt.objects.filter(person=actor)
    if q.unread_only:
        notes = notes.filter(read_at__isnull=True)
        receipts = receipts.filter(read_at__isnull=True)
    total = notes.count() + receipts.count()
    rows = queries.inbox(actor, unread_only=q.unread_only, limit=end) if start < total else []
    items = [
        InboxItemOut(
            kind=i.kind,  # type: ignore[arg-type]
            id=i.pk,
            title=i.title,
            body=i.body,
            at=i.at,
            read=i.read,
            urgent=i.urgent,
            needs_reply=i.needs_reply,
            replied=i.replied,
            link=i.link,
        )
        for i in rows[start:end]
    ]
    return InboxPage(items=items, meta=PageMeta(page=q.page, page_size=q.page_size, total=total))


@router.get(
    "inbox/unread-count",
    response={200: CountOut, **ERRORS},
    operation_id="huzhu_notify_api_unread_count",
)
def unread_count(request: HttpRequest) -> CountOut:
    return CountOut(count=queries.unread_count(_actor(request)))


@router.post(
    "inbox/read-all", response={200: CountOut, **ERRORS}, operation_id="huzhu_notify_api_read_all"
)
def read_all(request: HttpRequest) -> CountOut:
    """Mark everything in my inbox read; answers how many messages were unread."""
    return CountOut(count=actions.mark_all_read(actor=_actor(request)))


@router.get(
    "notifications/{int:notification_id}",
    response={200: NotificationOut, **ERRORS},
    operation_id="huzhu_notify_api_get_notification",
)
def get_notification(request: HttpRequest, notification_id: PathId) -> NotificationOut:
    """One of my notifications (someone else's is 404); reading it marks it read."""
    actor = _actor(request)
    note: Notification = get_object_or_404(Notification, pk=notification_id, person=actor)
    actions.mark_read(actor=actor, notification=note)
    note.refresh_from_db(fields=["read_at"])
    return NotificationOut(
        id=note.pk,
        code=note.code,
        title=note.title,
        body=note.body,
        link=note.link,
        urgent=note.urgent,
        at=note.created_at,
        read_at=note.read_at,
    )


@router.get(
    "receipts/{int:receipt_id}",
    response={200: ReceiptOut, **ERRORS},
    operation_id="huzhu_notify_api_get_receipt",
)
def get_receipt(request: HttpRequest, receipt_id: PathId) -> ReceiptOut:
    """A broadcast in my inbox with the reply it asks for and my reply; marks it read."""
    actor = _actor(request)
    receipt = _own_receipt(actor, receipt_id)
    actions.mark_read(actor=actor, receipt=receipt)
    receipt.refresh_from_db(fields=["read_at"])
    return _receipt_out(receipt)


@router.post(
    "receipts/{int:receipt_id}/reply",
    response={200: ReceiptOut, **ERRORS},
    operation_id="huzhu_notify_api_reply",
)
def reply(request: HttpRequest, receipt_id: PathId, payload: ReplyIn) -> ReceiptOut:
    """Answer a broadcast until its deadline (409 after it); answering again changes it."""
    actor = _actor(request)
    receipt = _own_receipt(actor, receipt_id)
    value: Any = payload.value
    if isinstance(value, bool):
        value = "yes" if value else "no"
    saved = actions.reply_to_broadcast(actor=actor, receipt=receipt, value=value)
    return _receipt_out(saved)


# --- my preferences ---------------------------------------------------------------------------


@router.get(
    "preferences",
    response={200: PreferenceOut, **ERRORS},
    operation_id="huzhu_notify_api_get_preferences",
)
def get_preferences(request: HttpRequest) -> PreferenceOut:
    """My channels beyond the inbox (in order) and quiet hours."""
    actor = _actor(request)
    return _preference_out(Preference.objects.filter(person=actor).first())


@router.put(
    "preferences",
    response={200: PreferenceOut, **ERRORS},
    operation_id="huzhu_notify_api_put_preferences",
)
def put_preferences(request: HttpRequest, payload: PreferenceIn) -> PreferenceOut:
    actor = _actor(request)
    pref = actions.set_preferences(
        actor=actor,
        channels=list(payload.channels),
        email=payload.email,
        quiet_start=payload.quiet_start,
        quiet_end=payload.quiet_end,
    )
    return _preference_out(pref)
