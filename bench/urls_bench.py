"""The benchmark's URLconf: every route of the project, plus the baseline endpoints of P4 and P7.

``POST /bench/orm/transfers`` is the idiomatic Django ORM endpoint the real
``POST /api/v1/timebank/transfers`` is measured against: the same contract (bearer token,
``Idempotency-Key`` header, JSON body ``{"payee_account", "amount", "memo"}`` → 201
``{"id", "amount", "payer_balance"}``), written the way a plain Django view commonly does it —
correct (one ``transaction.atomic``, ``select_for_update`` on both accounts, the key checked
first and unique in the table) but not tuned: the accounts are fetched one by one, saved whole
with ``save()``, each posting created with its own ``create()``; no audit entry (the real
endpoint writes one). Served by the same server process, in the same run.

``POST /bench/orm/group-buys/<id>/orders`` is P7's plain create endpoint, measured against
``POST /api/v1/lockdown/group-buys/<id>/orders``: bearer token, JSON body
``{"lines": [{"item_id", "quantity"}]}`` → 201 ``{"id", "total_fen"}``, written as a
ModelForm/serializer-style create commonly is: each line deserialized and validated by a
``ModelForm`` (its item a ``ModelChoiceField``: one query per line), then in one
``transaction.atomic`` the limited items locked with ``select_for_update`` and checked, the order
and each line ``create()``d, each item's ``sold`` saved. Correct (no oversold item; one order per
household by the table's constraint, 409) but with no idempotency key, no admission gate and no
audit entry.
"""

from __future__ import annotations

import json
import uuid

from django import forms
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as project_urlpatterns
from huzhu.accounts.auth import person_for_token
from huzhu.lockdown.models import GroupBuy, GroupBuyItem, Order, OrderLine
from huzhu.timebank.models import Account, Posting, Transaction


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def orm_transfer(request: HttpRequest) -> JsonResponse:
    header = request.headers.get("Authorization", "")
    person = person_for_token(header[7:]) if header.startswith("Bearer ") else None
    if person is None:
        return JsonResponse({"error": "unauthorized"}, status=401)
    key = request.headers.get("Idempotency-Key", "")
    try:
        data = json.loads(request.body)
        payee_id = int(data["payee_account"])
        amount = int(data["amount"])
        memo = str(data.get("memo", ""))[:200]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "bad request"}, status=400)
    if not key or amount <= 0:
        return JsonResponse({"error": "bad request"}, status=400)
    with transaction.atomic():
        existing = Transaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            payer = Account.objects.get(kind="person", person=person)
            return JsonResponse(
                {"id": existing.pk, "amount": amount, "payer_balance": payer.balance}
            )
        try:
            payer = Account.objects.select_for_update().get(kind="person", person=person)
            payee = Account.objects.select_for_update().get(pk=payee_id)
        except Account.DoesNotExist:
            return JsonResponse({"error": "not found"}, status=404)
        if payer.pk == payee.pk:
            return JsonResponse({"error": "same account"}, status=400)
        if payer.balance - payer.held < amount:
            return JsonResponse({"error": "insufficient"}, status=409)
        tx = Transaction.objects.create(
            kind="transfer",
            memo=memo,
            actor=person,
            community=payer.community,
            created_at=timezone.now(),
            idempotency_key=key,
        )
        Posting.objects.create(
            transaction=tx, account=payer, amount=-amount, community=payer.community
        )
        Posting.objects.create(
            transaction=tx, account=payee, amount=amount, community=payer.community
        )
        payer.balance -= amount
        payer.save()
        payee.balance += amount
        payee.save()
    return JsonResponse({"id": tx.pk, "amount": amount, "payer_balance": payer.balance}, status=201)


class _Refused(Exception):
    pass


class OrderLineForm(forms.ModelForm):
    class Meta:
        model = OrderLine
        fields = ["item", "quantity"]

    def __init__(self, *args: object, group_buy: GroupBuy, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["item"].queryset = GroupBuyItem.objects.filter(group_buy=group_buy)  # type: ignore[attr-defined]

    def clean_quantity(self) -> int:
        q = int(self.cleaned_data["quantity"])
        if q < 1 or q > 10_000:
            raise forms.ValidationError("bad quantity")
        return q


@csrf_exempt
@require_POST
def orm_order(request: HttpRequest, group_buy_id: int) -> JsonResponse:
    header = request.headers.get("Authorization", "")
    person = person_for_token(header[7:]) if header.startswith("Bearer ") else None
    if person is None or person.household is None:
        return JsonResponse({"error": "unauthorized"}, status=401)
    household = person.household
    gb = GroupBuy.objects.filter(pk=group_buy_id, state="open").first()
    if gb is None or not gb.buildings.filter(pk=household.building_id).exists():
        return JsonResponse({"error": "not found"}, status=404)
    try:
        data = json.loads(request.body)
        forms_ = [
            OrderLineForm({"item": line["item_id"], "quantity": line["quantity"]}, group_buy=gb)
            for line in data["lines"]
        ]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "bad request"}, status=400)
    if not forms_ or not all(f.is_valid() for f in forms_):
        return JsonResponse({"error": "invalid", "fields": [f.errors for f in forms_]}, status=400)
    lines = [(f.cleaned_data["item"], f.cleaned_data["quantity"]) for f in forms_]
    try:
        with transaction.atomic():
            locked = {
                i.pk: i
                for i in GroupBuyItem.objects.select_for_update()
                .filter(pk__in=[item.pk for item, _q in lines], stock__isnull=False)
                .order_by("pk")
            }
            for item, q in lines:
                held = locked.get(item.pk)
                if held is not None and held.sold + q > (held.stock or 0):
                    raise _Refused
            order = Order.objects.create(
                group_buy=gb,
                household=household,
                building_id=household.building_id,
                placed_by=person,
                key=uuid.uuid4().hex,
                last_key="",
                placed_at=timezone.now(),
                total_fen=sum(item.price_fen * q for item, q in lines),
            )
            for item, q in lines:
                OrderLine.objects.create(
                    order=order, item=item, quantity=q, price_fen=item.price_fen
                )
                held = locked.get(item.pk)
                if held is not None:
                    held.sold += q
                    held.save(update_fields=["sold"])
    except _Refused:
        return JsonResponse({"error": "sold out"}, status=409)
    except IntegrityError:
        return JsonResponse({"error": "exists"}, status=409)
    return JsonResponse({"id": order.pk, "total_fen": order.total_fen}, status=201)


urlpatterns = [
    *project_urlpatterns,
    path("bench/ping/", ping),
    path("bench/orm/transfers", orm_transfer),
    path("bench/orm/group-buys/<int:group_buy_id>/orders", orm_order),
]
