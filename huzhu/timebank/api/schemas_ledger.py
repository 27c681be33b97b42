"""Input and output schemas of the ledger API (amounts are integer hundredths of a point)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Field, Schema

from huzhu.accounts.api.schemas import NO_NUL, Id
from huzhu.core.api import PageIn, PageMeta
from huzhu.timebank.models import PaperEntry
from huzhu.timebank.queries import StatementLine

MAX_POINTS = 10**12
Key = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
Text = Annotated[str, Field(max_length=200, pattern=NO_NUL)]


class BalanceOut(Schema):
    account_id: int | None
    balance: int
    held: int
    available: int


class StatementLineOut(Schema):
    transaction_id: int
    created_at: dt.datetime
    kind: str
    kind_label: str
    memo: str
    reference: str
    counterparty: str
    amount: int
    balance: int


class StatementPageOut(Schema):
    balance: BalanceOut
    items: list[StatementLineOut]
    meta: PageMeta


def line_out(line: StatementLine) -> StatementLineOut:
    return StatementLineOut(
        transaction_id=line.transaction_id,
        created_at=line.created_at,
        kind=line.kind,
        kind_label=line.kind_label,
        memo=line.memo,
        reference=line.reference,
        counterparty=line.counterparty,
        amount=line.amount,
        balance=line.running_balance,
    )


class TransferIn(Schema):
    payee_account: Id
    amount: int = Field(..., gt=0, le=MAX_POINTS, description="hundredths of a point")
    memo: Text = ""
    idempotency_key: Key | None = Field(
        None, description="only when the Idempotency-Key header cannot be sent"
    )


class TransferOut(Schema):
    id: int
    amount: int
    payer_balance: int


class ReverseIn(Schema):
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=NO_NUL)]
    evidence: Annotated[str, Field(max_length=2000, pattern=NO_NUL)] = ""
    idempotency_key: Key | None = None


class TransactionOut(Schema):
    id: int
    kind: str
    memo: str
    reference: str
    created_at: dt.datetime
    reverses: int | None


class ServiceDayIn(Schema):
    date: dt.date
    name: Annotated[str, Field(max_length=100, pattern=NO_NUL)] = ""


class ServiceDayOut(Schema):
    id: int
    community_id: int
    date: dt.date
    name: str


class ServiceDayPage(Schema):
    items: list[ServiceDayOut]
    meta: PageMeta


class PaperQuery(PageIn):
    status: Literal["pending", "settled", "rejected"] | None = None
    building: Id | None = None
    q: Annotated[str, Field(max_length=50, pattern=NO_NUL)] = ""


class PaperIn(Schema):
    person_id: Id
    kind: Literal["earn", "spend"]
    service_date: dt.date
    slip_number: Annotated[str, Field(min_length=1, max_length=40, pattern=NO_NUL)]
    hours: Decimal | None = Field(None, gt=0, le=24, max_digits=5, decimal_places=2)
    points: int | None = Field(None, gt=0, le=MAX_POINTS, description="hundredths of a point")
    counterparty_id: Id | None = None
    note: Text = ""
    idempotency_key: Key | None = None


class PaperCheckIn(Schema):
    approve: bool
    reason: Text = ""


class PaperOut(Schema):
    id: int
    slip_number: str
    status: str
    kind: str
    person_id: int
    person_name: str
    building_id: int | None
    building_name: str
    hours: Decimal | None
    points: int | None
    counterparty_id: int | None
    counterparty_name: str
    service_date: dt.date
    note: str
    entered_by_id: int
    entered_by_name: str
    entered_at: dt.datetime
    checked_by_id: int | None
    checked_by_name: str
    checked_at: dt.datetime | None
    reject_reason: str
    transaction_id: int | None


class PaperPage(Schema):
    items: list[PaperOut]
    meta: PageMeta


def paper_out(e: PaperEntry) -> PaperOut:
    return PaperOut(
        id=e.pk,
        slip_number=e.slip_number,
        status=e.status,
        kind=e.kind,
        person_id=e.person_id,
        person_name=e.person.name,
        building_id=e.building_id,
        building_name=e.building.name if e.building is not None else "",
        hours=e.hours,
        points=e.points,
        counterparty_id=e.counterparty_id,
        counterparty_name=e.counterparty.name if e.counterparty is not None else "",
        service_date=e.service_date,
        note=e.note,
        entered_by_id=e.entered_by_id,
        entered_by_name=e.entered_by.name,
        entered_at=e.entered_at,
        checked_by_id=e.checked_by_id,
        checked_by_name=e.checked_by.name if e.checked_by is not None else "",
        checked_at=e.checked_at,
        reject_reason=e.reject_reason,
        transaction_id=e.transaction_id,
    )
