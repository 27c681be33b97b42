"""The benchmark's URLconf: every route of the project, plus P4's baseline endpoint.

``POST /bench/orm/transfers`` is the idiomatic Django ORM endpoint the real
``POST /api/v1/timebank/transfers`` is measured against: the same contract (bearer token,
``Idempotency-Key`` header, JSON body ``{"payee_account", "amount", "memo"}`` → 201
``{"id", "amount", "payer_balance"}``), written the way a plain Django view commonly does it —
correct (one ``transaction.atomic``, ``select_for_update`` on both accounts, the key checked
first and unique in the table) but not tuned: the accounts are fetched one by one, saved whole
with ``save()``, each posting created with its own ``create()``; no audit entry (the real
endpoint writes one). Served by the same server process, in the same run.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as project_urlpatterns
from huzhu.accounts.auth import person_for_token
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


urlpatterns = [
    *project_urlpatterns,
    path("bench/ping/", ping),
    path("bench/orm/transfers", orm_transfer),
]
