"""Time bank API: ledger — my points and statement, a person's statement, transfers,
reversals, first-service days, the paper ledger. Operations register on
huzhu.timebank.api.common.router; every write takes an idempotency key (header
``Idempotency-Key``, or the body field ``idempotency_key`` where a client cannot set headers)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, PageIn, PageMeta, idempotency_key, paginate
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Community
from huzhu.timebank import queries
from huzhu.timebank.actions import ledger as ledger_actions
from huzhu.timebank.actions import paper as paper_actions
from huzhu.timebank.api.common import actor_of, router
from huzhu.timebank.api.schemas_ledger import (
    BalanceOut,
    PaperCheckIn,
    PaperIn,
    PaperOut,
    PaperPage,
    PaperQuery,
    ReverseIn,
    ServiceDayIn,
    ServiceDayOut,
    ServiceDayPage,
    StatementPageOut,
    TransactionOut,
    TransferIn,
    TransferOut,
    line_out,
    paper_out,
)
from huzhu.timebank.models import (
    Account,
    AccountKind,
    PaperEntry,
    ServiceDay,
    Transaction,
)

PAPER = "timebank.enter_paper"


def _key(request: HttpRequest, field: str | None) -> str:
    return idempotency_key(request, field)


def _balance(account: Account | None) -> BalanceOut:
    balance, held, available = queries.held_of(account)
    return BalanceOut(
        account_id=account.pk if account is not None else None,
        balance=balance,
        held=held,
        available=available,
    )


def _statement(account: Account | None, paging: PageIn) -> StatementPageOut:
    if account is None:
        return StatementPageOut(
            balance=_balance(None),
            items=[],
            meta=PageMeta(page=paging.page, page_size=paging.page_size, total=0),
        )
    page = queries.statement(account, paging.page, paging.page_size)
    return StatementPageOut(
        balance=_balance(account),
        items=[line_out(line) for line in page.lines],
        meta=PageMeta(page=page.page, page_size=page.page_size, total=page.total),
    )


# --- my points -------------------------------------------------------------------------------


@router.get(
    "timebank/me",
    response={200: BalanceOut, **ERRORS},
    operation_id="huzhu_timebank_api_my_points",
)
def my_points(request: HttpRequest) -> BalanceOut:
    """My balance, held and available points (hundredths of a point)."""
    return _balance(queries.own_account(actor_of(request)))


@router.get(
    "timebank/me/statement",
    response={200: StatementPageOut, **ERRORS},
    operation_id="huzhu_timebank_api_my_statement",
)
def my_statement(request: HttpRequest, paging: Query[PageIn]) -> StatementPageOut:
    """My statement, newest first, with the balance after each entry and what it was for."""
    return _statement(queries.own_account(actor_of(request)), paging)


@router.get(
    "timebank/people/{int:person_id}/statement",
    response={200: StatementPageOut, **ERRORS},
    operation_id="huzhu_timebank_api_person_statement",
)
def person_statement(
    request: HttpRequest, person_id: PathId, paging: Query[PageIn]
) -> StatementPageOut:
    """A person's statement ("timebank.view_ledger" on the person; 404 outside scope)."""
    actor = actor_of(request)
    person = get_object_or_404(
        Person.objects.select_related("community__alliance", "household"), pk=person_id
    )
    policy.require(actor, "timebank.view_ledger", person)
    return _statement(queries.own_account(person), paging)


# --- transfers and reversals -----------------------------------------------------------------


@router.post(
    "timebank/transfers",
    response={200: TransferOut, 201: TransferOut, **ERRORS},
    operation_id="huzhu_timebank_api_transfer",
)
def transfer(request: HttpRequest, payload: TransferIn) -> Reply[TransferOut]:
    """Pay ``amount`` hundredths from my own account to ``payee_account`` (any person or
    merchant account of my alliance). Header ``Idempotency-Key`` required; a replay answers
    200 with the first answer and posts nothing; not enough points: 409."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    # One query: the payee and my own account, each with its community (the action compares
    # their alliances without another query).
    rows = list(
        Account.objects.filter(
            Q(pk=payload.payee_account) | Q(kind=AccountKind.PERSON, person=actor)
        ).select_related("community")
    )
    payee = next((a for a in rows if a.pk == payload.payee_account), None)
    payer = next(
        (a for a in rows if a.kind == AccountKind.PERSON and a.person_id == actor.pk), None
    )
    if payee is None or payee.kind not in (
        AccountKind.PERSON,
        AccountKind.MERCHANT,
        AccountKind.FUND,
    ):
        raise Http404
    payment = ledger_actions.send_points(
        actor=actor,
        payee=payee,
        amount=payload.amount,
        key=key,
        memo=payload.memo,
        payer=payer,
    )
    tx = payment.transaction
    amount = payload.amount if payment.created else _payer_amount(tx, actor)
    out = TransferOut(id=tx.pk, amount=amount, payer_balance=payment.payer_balance)
    return Reply(201 if payment.created else 200, out)


def _payer_amount(tx: Transaction, actor: Person) -> int:
    posting = tx.postings.filter(account__kind=AccountKind.PERSON, account__person=actor).first()
    return -posting.amount if posting is not None else 0


def _tx_out(tx: Transaction) -> TransactionOut:
    return TransactionOut(
        id=tx.pk,
        kind=tx.kind,
        memo=tx.memo,
        reference=tx.reference,
        created_at=tx.created_at,
        reverses=tx.reverses_id,
    )


@router.post(
    "timebank/transactions/{int:transaction_id}/reverse",
    response={200: TransactionOut, 201: TransactionOut, **ERRORS},
    operation_id="huzhu_timebank_api_reverse_transaction",
)
def reverse_transaction(
    request: HttpRequest, transaction_id: PathId, payload: ReverseIn
) -> Reply[TransactionOut]:
    """Correct a transaction by a reversing entry within the dispute window, with reason and
    evidence ("timebank.reverse" on its community)."""
    actor = actor_of(request)
    tx = get_object_or_404(
        Transaction.objects.select_related("community__alliance"), pk=transaction_id
    )
    if tx.community is not None:
        policy.require(actor, "timebank.reverse", tx.community)
    elif not actor.is_superuser:
        raise PermissionDenied("timebank.reverse")
    key = _key(request, payload.idempotency_key)
    replay = Transaction.objects.filter(idempotency_key=key).exists()
    rev = ledger_actions.reverse_transaction(
        actor=actor, transaction=tx, reason=payload.reason, evidence=payload.evidence, key=key
    )
    return Reply(200 if replay else 201, _tx_out(rev))


# --- first-service days ----------------------------------------------------------------------


def _managed_community(actor: Person, community_id: int) -> Community:
    community = get_object_or_404(Community.objects.select_related("alliance"), pk=community_id)
    policy.require(actor, "timebank.manage_service_days", community)
    return community


def _day_out(day: ServiceDay) -> ServiceDayOut:
    return ServiceDayOut(id=day.pk, community_id=day.community_id, date=day.date, name=day.name)


@router.get(
    "timebank/communities/{int:community_id}/service-days",
    response={200: ServiceDayPage, **ERRORS},
    operation_id="huzhu_timebank_api_list_service_days",
)
def list_service_days(
    request: HttpRequest, community_id: PathId, paging: Query[PageIn]
) -> ServiceDayPage:
    """The community's first-service days (首存日), latest first."""
    community = _managed_community(actor_of(request), community_id)
    rows, meta = paginate(ServiceDay.objects.filter(community=community).order_by("-date"), paging)
    return ServiceDayPage(items=[_day_out(d) for d in rows], meta=meta)


@router.post(
    "timebank/communities/{int:community_id}/service-days",
    response={201: ServiceDayOut, **ERRORS},
    operation_id="huzhu_timebank_api_add_service_day",
)
def add_service_day(
    request: HttpRequest, community_id: PathId, payload: ServiceDayIn
) -> Reply[ServiceDayOut]:
    """Make a date a first-service day: service credited for that day is multiplied.
    Idempotent by nature: the same date twice is refused (400)."""
    actor = actor_of(request)
    community = _managed_community(actor, community_id)
    day = ledger_actions.add_service_day(
        actor=actor, community=community, date=payload.date, name=payload.name
    )
    return Reply(201, _day_out(day))


@router.delete(
    "timebank/service-days/{int:day_id}",
    response={204: None, **ERRORS},
    operation_id="huzhu_timebank_api_remove_service_day",
)
def remove_service_day(request: HttpRequest, day_id: PathId) -> Reply[None]:
    actor = actor_of(request)
    day = get_object_or_404(ServiceDay.objects.select_related("community__alliance"), pk=day_id)
    policy.require(actor, "timebank.manage_service_days", day.community)
    ledger_actions.remove_service_day(actor=actor, day=day)
    return Reply(204, None)


# --- the paper ledger ------------------------------------------------------------------------


def _entry(actor: Person, entry_id: int) -> PaperEntry:
    entry = get_object_or_404(
        PaperEntry.objects.select_related(
            "person__community__alliance",
            "person__household",
            "counterparty",
            "building",
            "entered_by",
            "checked_by",
        ),
        pk=entry_id,
    )
    policy.require(actor, PAPER, entry.person)
    return entry


@router.get(
    "timebank/paper",
    response={200: PaperPage, **ERRORS},
    operation_id="huzhu_timebank_api_list_paper",
)
def list_paper(request: HttpRequest, q: Query[PaperQuery]) -> PaperPage:
    """Paper-ledger entries I may enter and check, pending first; filter by status, building,
    slip number or name."""
    actor = actor_of(request)
    if not policy.can_anywhere(actor, PAPER):
        raise PermissionDenied(PAPER)
    qs = queries.paper_entries(actor, status=q.status or "", building=q.building, search=q.q)
    rows, meta = paginate(qs, q)
    return PaperPage(items=[paper_out(e) for e in rows], meta=meta)


@router.post(
    "timebank/paper",
    response={200: PaperOut, 201: PaperOut, **ERRORS},
    operation_id="huzhu_timebank_api_enter_paper",
)
def enter_paper(request: HttpRequest, payload: PaperIn) -> Reply[PaperOut]:
    """Copy one slip of the paper book (pending until a second person checks it)."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    person = get_object_or_404(
        Person.objects.select_related("community__alliance", "household__building"),
        pk=payload.person_id,
    )
    counterparty = None
    if payload.counterparty_id is not None:
        counterparty = Person.objects.filter(pk=payload.counterparty_id).first()
        if counterparty is None:
            raise DomainError(
                "timebank.paper.counterparty",
                _("找不到该志愿者。"),
                details={"field": "counterparty"},
            )
    replay = PaperEntry.objects.filter(idempotency_key=key).exists()
    entry = paper_actions.enter_paper_entry(
        actor=actor,
        person=person,
        kind=payload.kind,
        service_date=payload.service_date,
        slip_number=payload.slip_number,
        key=key,
        hours=payload.hours if payload.kind == "earn" else None,
        points=payload.points if payload.kind == "spend" else None,
        counterparty=counterparty if payload.kind == "spend" else None,
        note=payload.note,
    )
    return Reply(200 if replay else 201, paper_out(_entry(actor, entry.pk)))


@router.get(
    "timebank/paper/{int:entry_id}",
    response={200: PaperOut, **ERRORS},
    operation_id="huzhu_timebank_api_get_paper",
)
def get_paper(request: HttpRequest, entry_id: PathId) -> PaperOut:
    return paper_out(_entry(actor_of(request), entry_id))


@router.post(
    "timebank/paper/{int:entry_id}/check",
    response={200: PaperOut, **ERRORS},
    operation_id="huzhu_timebank_api_check_paper",
)
def check_paper(request: HttpRequest, entry_id: PathId, payload: PaperCheckIn) -> PaperOut:
    """The second-person check: approve (points posted) or reject with a reason. Exactly once;
    repeating the same decision answers the entry unchanged; the person who entered it: 403."""
    actor = actor_of(request)
    entry = _entry(actor, entry_id)
    paper_actions.check_paper_entry(
        actor=actor, entry=entry, approve=payload.approve, reason=payload.reason
    )
    return paper_out(_entry(actor, entry_id))
