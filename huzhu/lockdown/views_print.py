"""Printable group-buy sheets (团购打印): the supplier's order, the per-building sorting sheets
and the per-household bag labels as plain pages laid out for A4 paper (one building per page,
labels in a grid), next to the .xlsx downloads. Same data and the same rights as the downloads:
the 团长 or anyone who may see the group buy's orders."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from huzhu.lockdown import queries
from huzhu.lockdown.api.common import _staff_group_buy
from huzhu.lockdown.models import GroupBuyItem
from huzhu.lockdown.views import _actor, yuan

KINDS = ("supplier", "sorting", "labels")


@login_required
def group_buy_print(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """One printable sheet of a group buy; ``kind`` is supplier, sorting or labels."""
    if kind not in KINDS:
        raise Http404(kind)
    gb = _staff_group_buy(_actor(request), pk)
    context: dict[str, object] = {"gb": gb, "kind": kind}
    if kind == "supplier":
        rows = queries.supplier_order(gb)
        context["rows"] = [
            {"row": r, "price": yuan(r.price_fen), "amount": yuan(r.amount_fen)} for r in rows
        ]
        context["total"] = yuan(sum(r.amount_fen for r in rows))
        context["title"] = _("供应商订单")
    elif kind == "sorting":
        items = list(GroupBuyItem.objects.filter(group_buy=gb).order_by("position", "pk"))
        context["items"] = items
        context["sheets"] = [
            {
                "sheet": s,
                "rows": [
                    {
                        "room": h.room,
                        "cells": [h.quantities.get(i.pk, 0) for i in items],
                        "amount": yuan(h.amount_fen),
                    }
                    for h in s.households
                ],
                "totals": [s.total(i.pk) for i in items],
            }
            for s in queries.sorting_sheets(gb)
        ]
        context["title"] = _("分拣单")
    else:
        context["labels"] = [
            {"label": lb, "amount": yuan(lb.amount_fen)} for lb in queries.labels(gb)
        ]
        context["title"] = _("分户标签")
    return render(request, "lockdown/print.html", context)


urlpatterns = [
    path("group-buys/<int:pk>/print/<slug:kind>/", group_buy_print, name="group_buy_print"),
]
