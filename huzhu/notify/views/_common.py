"""Helpers shared by the notify pages: the actor, paging, running an action, loading a
broadcast with its permission check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect

from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.notify import audience as aud
from huzhu.notify.forms import add_domain_error
from huzhu.notify.models import Broadcast

T = TypeVar("T")

PERM = "notify.broadcast"


def actor_of(request: HttpRequest) -> Person:
    user = request.user
    assert isinstance(user, Person)
    return user


def page_of(request: HttpRequest, items: Sequence[Any] | Any) -> Page[Any]:
    return Paginator(items, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))


def run(form: Any, call: Callable[[], T]) -> T | None:
    """Call an action; a DomainError becomes a form error and None is returned."""
    try:
        return call()
    except DomainError as exc:
        add_domain_error(form, exc)
        return None


def done(request: HttpRequest, message: str, url: str) -> HttpResponseRedirect:
    messages.success(request, message)
    return redirect(url)


def managed_broadcast(actor: Person, pk: int) -> Broadcast:
    """A broadcast the actor may manage (audience.require_manage: notify.broadcast on it, or
    on every building / group it was narrowed to; 404 outside the actor's scope, 403 inside
    it without the permission). Its author always may see it."""
    broadcast = get_object_or_404(
        Broadcast.objects.select_related("community__alliance", "alliance", "author"), pk=pk
    )
    if broadcast.author_id != actor.pk:
        aud.require_manage(actor, broadcast)
    return broadcast


def reply_label(broadcast: Broadcast, value: str) -> str:
    """How an answer reads on a page or in a spreadsheet (yes/no in the current language)."""
    from django.utils.translation import gettext as _

    if broadcast.reply_kind == "yes_no":
        return {"yes": _("是"), "no": _("否")}.get(value, value)
    return value
