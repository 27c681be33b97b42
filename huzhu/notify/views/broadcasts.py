"""Broadcasts I may manage: the list, the live tally, re-send to the silent, cancel, export."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts import pii, policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.notify import actions, queries
from huzhu.notify.forms import BroadcastFilterForm, ResendForm
from huzhu.notify.models import Broadcast, BroadcastStatus, Receipt, ReplyKind
from huzhu.notify.views._common import PERM, actor_of, managed_broadcast, page_of, reply_label


def manageable(actor: Person) -> QuerySet[Broadcast]:
    """Broadcasts on whose community (or alliance) the actor holds notify.broadcast, plus
    those the actor wrote (a building manager or group leader holds it on a building/group)."""
    base = Broadcast.objects.all()
    return policy.visible_to(actor, PERM, base) | base.filter(author=actor)


def _with_counts(broadcasts: list[Broadcast]) -> list[Broadcast]:
    """Read / replied counts of one page of broadcasts in one grouped query."""
    rows = (
        Receipt.objects.filter(broadcast__in=[b.pk for b in broadcasts])
        .values("broadcast_id")
        .annotate(
            read=Count("pk", filter=Q(read_at__isnull=False)),
            replied=Count("pk", filter=Q(replied_at__isnull=False)),
        )
        .order_by()
    )
    counts = {r["broadcast_id"]: r for r in rows}
    for b in broadcasts:
        row = counts.get(b.pk, {})
        b.read_count = row.get("read", 0)  # type: ignore[attr-defined]
        b.replied_count = row.get("replied", 0)  # type: ignore[attr-defined]
    return broadcasts


@login_required
def broadcast_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not policy.can_anywhere(actor, PERM):
        raise PermissionDenied(PERM)
    form = BroadcastFilterForm(request.GET)
    qs = manageable(actor)
    filtered = False
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            qs = qs.filter(title__icontains=data["q"].strip())
        if data["status"]:
            qs = qs.filter(status=data["status"])
        if data["mine"]:
            qs = qs.filter(author=actor)
        filtered = bool(data["q"] or data["status"] or data["mine"])
    qs = qs.select_related("community", "alliance", "author").order_by("-created_at", "-id")
    page = page_of(request, qs)
    _with_counts(list(page.object_list))
    return render(
        request,
        "notify/broadcast_list.html",
        {"page": page, "form": form, "filtered": filtered},
    )


def _silent(broadcast: Broadcast, which: str) -> QuerySet[Receipt]:
    qs = Receipt.objects.filter(broadcast=broadcast)
    qs = (
        qs.filter(replied_at__isnull=True)
        if which == "unreplied"
        else qs.filter(read_at__isnull=True)
    )
    return (
        qs.select_related("person__household", "building")
        .only(
            "pk",
            "delivered_at",
            "read_at",
            "replied_at",
            "resend_count",
            "person__name",
            "person__phone",
            "person__household__room",
            "building__name",
        )
        .order_by("building__name", "person__household__room", "person_id")
    )


@login_required
def broadcast_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The live tally: totals, per building, per group, the answers, and who is silent."""
    actor = actor_of(request)
    broadcast = managed_broadcast(actor, pk)
    asks = broadcast.reply_kind != ReplyKind.NONE
    which = request.GET.get("silent", "unreplied" if asks else "unread")
    if which not in ("unread", "unreplied") or (which == "unreplied" and not asks):
        which = "unread"
    page = page_of(request, _silent(broadcast, which))
    for r in page.object_list:
        r.masked_phone = pii.mask_phone(r.person.phone)
    replies = [(reply_label(broadcast, v), n) for v, n in queries.reply_counts(broadcast)]
    return render(
        request,
        "notify/broadcast_detail.html",
        {
            "broadcast": broadcast,
            "asks": asks,
            "totals": queries.tally_totals(broadcast),
            "by_building": queries.tally_by_building(broadcast),
            "by_group": queries.tally_by_group(broadcast),
            "replies": replies,
            "which": which,
            "page": page,
            "sent": broadcast.status == BroadcastStatus.SENT,
            "scheduled": broadcast.status == BroadcastStatus.SCHEDULED,
            "public_url": (
                reverse("notify:public_notice", args=[broadcast.community_id, broadcast.pk])
                if broadcast.visibility == "public"
                and broadcast.status == BroadcastStatus.SENT
                and broadcast.community_id
                else ""
            ),
        },
    )


@require_POST
@login_required
def broadcast_resend(request: HttpRequest, pk: int) -> HttpResponse:
    """Send again to those who have not read (or not replied) — and to nobody else."""
    actor = actor_of(request)
    broadcast = managed_broadcast(actor, pk)
    url = reverse("notify:broadcast_detail", args=[broadcast.pk])
    form = ResendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择重发给未读者还是未回复者。"))
        return redirect(url)
    which = form.cleaned_data["which"]
    try:
        n = actions.resend_to_silent(actor=actor, broadcast=broadcast, which=which)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(url)
    if n:
        text = (
            _("已重发给 %(n)s 位未读者。")
            if which == "unread"
            else _("已重发给 %(n)s 位未回复者。")
        )
        messages.success(request, text % {"n": n})
    else:
        messages.info(request, _("没有需要重发的人。"))
    return redirect(f"{url}?silent={which}")


@require_POST
@login_required
def broadcast_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    broadcast = managed_broadcast(actor, pk)
    url = reverse("notify:broadcast_detail", args=[broadcast.pk])
    try:
        actions.cancel_broadcast(actor=actor, broadcast=broadcast)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(url)
    messages.success(request, _("已取消定时广播。"))
    return redirect(url)


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _answer(broadcast: Broadcast, receipt: Receipt) -> Any:
    if receipt.replied_at is None:
        return ""
    if broadcast.reply_kind == ReplyKind.NUMBER:
        try:
            return Decimal(receipt.reply)
        except InvalidOperation:
            return receipt.reply
    return reply_label(broadcast, receipt.reply)


@login_required
def broadcast_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Every recipient with read and reply as .xlsx; phones masked, formulas neutralised,
    the export audited."""
    from huzhu.accounts.roster.export import XLSX_CONTENT_TYPE, workbook_bytes

    actor = actor_of(request)
    broadcast = managed_broadcast(actor, pk)
    receipts = (
        Receipt.objects.filter(broadcast=broadcast)
        .select_related("person__household", "building")
        .only(
            "pk",
            "read_at",
            "replied_at",
            "reply",
            "person__name",
            "person__phone",
            "person__household__room",
            "building__name",
        )
        .order_by("building__name", "person__household__room", "person_id")
    )
    header = [
        _("姓名"),
        _("手机号"),
        _("楼栋"),
        _("房号"),
        _("已读时间"),
        _("回复时间"),
        _("回复"),
    ]
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for r in receipts.iterator(chunk_size=2000):
            count += 1
            household = r.person.household
            yield [
                r.person.name,
                pii.mask_phone(r.person.phone),
                r.building.name if r.building else "",
                household.room if household else "",
                _when(r.read_at),
                _when(r.replied_at),
                _answer(broadcast, r),
            ]

    content = workbook_bytes(str(_("回复")), [str(h) for h in header], rows())
    with transaction.atomic():
        record(
            "notify.broadcast.exported",
            actor=actor,
            target=broadcast,
            community=broadcast.community,
            alliance=broadcast.alliance,
            new={"rows": count},
        )
    stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="broadcast-{broadcast.pk}-replies-{stamp}.xlsx"'
    )
    return response
