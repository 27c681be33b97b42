"""My inbox: notifications and broadcasts merged, reading one, answering a broadcast."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.notify import actions, queries
from huzhu.notify.forms import ReplyForm
from huzhu.notify.models import BroadcastStatus, Notification, Receipt, ReplyKind
from huzhu.notify.views._common import actor_of, done, page_of, reply_label, run


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Newest first; unread ones are marked, and can be shown alone."""
    actor = actor_of(request)
    unread_only = request.GET.get("unread") == "1"
    items = queries.inbox(actor, unread_only=unread_only)
    return render(
        request,
        "notify/inbox.html",
        {"page": page_of(request, items), "unread_only": unread_only},
    )


@require_POST
@login_required
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    n = actions.mark_all_read(actor=actor_of(request))
    return done(request, _("已将 %(n)s 条消息标为已读。") % {"n": n}, reverse("notify:inbox"))


@login_required
def notification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event message of my own (anybody else's is a 404); opening it reads it."""
    actor = actor_of(request)
    note = get_object_or_404(Notification, pk=pk, person=actor)
    actions.mark_read(actor=actor, notification=note)
    link = note.link if note.link.startswith("/") and not note.link.startswith("//") else ""
    return render(request, "notify/notification_detail.html", {"note": note, "link": link})


def _own_receipt(actor: Person, pk: int) -> Receipt:
    return get_object_or_404(
        Receipt.objects.select_related("broadcast__community", "broadcast__author"),
        pk=pk,
        person=actor,
    )


def _receipt_page(
    request: HttpRequest, receipt: Receipt, form: ReplyForm | None = None, status: int = 200
) -> HttpResponse:
    broadcast = receipt.broadcast
    asks = broadcast.reply_kind != ReplyKind.NONE
    deadline = broadcast.reply_deadline
    open_ = (
        asks
        and broadcast.status != BroadcastStatus.CANCELLED
        and (deadline is None or clock.now() <= deadline)
    )
    if open_ and form is None:
        form = ReplyForm(broadcast=broadcast)
    if not open_ and form is not None:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return render(
        request,
        "notify/receipt_detail.html",
        {
            "receipt": receipt,
            "broadcast": broadcast,
            "asks": asks,
            "open": open_,
            "form": form if open_ else None,
            "answer": reply_label(broadcast, receipt.reply) if receipt.replied_at else "",
        },
        status=status,
    )


@login_required
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A broadcast in my inbox (pk is my receipt); opening it records the read receipt."""
    actor = actor_of(request)
    receipt = _own_receipt(actor, pk)
    if receipt.read_at is None:
        actions.mark_read(actor=actor, receipt=receipt)
        receipt.read_at = clock.now()
    return _receipt_page(request, receipt)


@require_POST
@login_required
def receipt_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer (or change my answer) until the deadline."""
    actor = actor_of(request)
    receipt = _own_receipt(actor, pk)
    form = ReplyForm(request.POST, broadcast=receipt.broadcast)
    if form.is_valid():
        saved = run(
            form,
            lambda: actions.reply_to_broadcast(actor=actor, receipt=receipt, value=form.value()),
        )
        if saved is not None:
            return done(
                request,
                _("已提交回复：%(answer)s") % {"answer": reply_label(saved.broadcast, saved.reply)},
                reverse("notify:receipt_detail", args=[receipt.pk]),
            )
    receipt.refresh_from_db(fields=["read_at", "replied_at", "reply"])
    return _receipt_page(request, receipt, form, status=400)
