"""Input and output schemas of the merchants API. Money is integer fen, points integer
hundredths of a point; fee percentages are decimal strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import StrictInt

from huzhu.accounts.api.schemas import NO_NUL
from huzhu.core.api import PageIn, PageMeta
from huzhu.timebank.models import (
    Merchant,
    MerchantAgreement,
    MerchantStatement,
    MerchantStatus,
    Redemption,
)

Key = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


class MerchantQuery(PageIn):
    community: int | None = Field(None, description="only this community's merchants")
    q: str = Field("", max_length=50, description="name contains")
    status: MerchantStatus | None = None


class MerchantIn(Schema):
    community_id: int
    name: str = Field(max_length=100, pattern=NO_NUL)
    category: str = Field("", max_length=50, pattern=NO_NUL)
    address: str = Field("", max_length=200, pattern=NO_NUL)
    phone: str = Field("", max_length=30, pattern=NO_NUL)
    idempotency_key: Key | None = Field(None, description="when the header cannot be sent")


class MerchantPatch(Schema):
    name: str | None = Field(None, max_length=100, pattern=NO_NUL)
    category: str | None = Field(None, max_length=50, pattern=NO_NUL)
    address: str | None = Field(None, max_length=200, pattern=NO_NUL)
    phone: str | None = Field(None, max_length=30, pattern=NO_NUL)
    idempotency_key: Key | None = None


class StatusIn(Schema):
    status: MerchantStatus
    idempotency_key: Key | None = None


class AgreementIn(Schema):
    fee_percent: Decimal = Field(max_digits=5, decimal_places=2, ge=0, le=100)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    reference: str = Field("", max_length=60, pattern=NO_NUL)
    idempotency_key: Key | None = None


class StaffIn(Schema):
    phone: str = Field(max_length=20, pattern=NO_NUL)
    idempotency_key: Key | None = None


class StaffRemoveIn(Schema):
    person_id: int
    idempotency_key: Key | None = None


class RedeemIn(Schema):
    token: str = Field(max_length=400, pattern=NO_NUL, description="the member's payment code")
    purchase_fen: StrictInt = Field(gt=0, description="the purchase in fen (60 yuan = 6000)")
    idempotency_key: Key | None = None


class PreviewIn(Schema):
    token: str = Field(max_length=400, pattern=NO_NUL)
    purchase_fen: StrictInt = Field(gt=0)


class ReconcileIn(Schema):
    month: Month
    idempotency_key: Key | None = None


class StatementQuery(PageIn):
    community: int | None = None
    merchant: int | None = None
    month: Month | None = None


class AgreementOut(Schema):
    id: int
    fee_percent: str
    starts_on: dt.date
    ends_on: dt.date | None
    reference: str


class StaffOut(Schema):
    id: int
    name: str


class MerchantOut(Schema):
    id: int
    community_id: int
    name: str
    category: str
    address: str
    phone: str
    status: str
    account_id: int | None
    balance: int
    agreement: AgreementOut | None
    created_at: dt.datetime


class MerchantDetailOut(MerchantOut):
    agreements: list[AgreementOut]
    staff: list[StaffOut]


class MerchantPage(Schema):
    items: list[MerchantOut]
    meta: PageMeta


class PreviewOut(Schema):
    merchant_id: int
    member_name: str
    purchase_fen: int
    discount_fen: int
    points: int
    pay_fen: int
    available: int
    fee_percent: str


class RedemptionOut(Schema):
    id: int
    merchant_id: int
    merchant_name: str
    member_name: str
    purchase_fen: int
    discount_fen: int
    points: int
    pay_fen: int
    fee_percent: str
    transaction_id: int
    reversed: bool
    created_at: dt.datetime


class RedemptionPage(Schema):
    items: list[RedemptionOut]
    meta: PageMeta


class PaymentCodeOut(Schema):
    token: str
    expires_in: int
    svg: str
    balance: int
    available: int


class StatementOut(Schema):
    id: int
    merchant_id: int
    merchant_name: str
    month: str
    redemptions: int
    spending_fen: int
    discount_fen: int
    points: int
    fee_percent: str
    fee_fen: int
    created_at: dt.datetime


class StatementPage(Schema):
    items: list[StatementOut]
    meta: PageMeta


def agreement_out(a: MerchantAgreement) -> AgreementOut:
    return AgreementOut(
        id=a.pk,
        fee_percent=str(a.fee_percent),
        starts_on=a.starts_on,
        ends_on=a.ends_on,
        reference=a.reference,
    )


def merchant_out(m: Merchant, agreement: MerchantAgreement | None) -> MerchantOut:
    return MerchantOut(
        id=m.pk,
        community_id=m.community_id,
        name=m.name,
        category=m.category,
        address=m.address,
        phone=m.phone,
        status=m.status,
        account_id=m.account_id,
        balance=m.account.balance if m.account is not None else 0,
        agreement=agreement_out(agreement) if agreement is not None else None,
        created_at=m.created_at,
    )


def redemption_out(r: Redemption, member_name: str) -> RedemptionOut:
    return RedemptionOut(
        id=r.pk,
        merchant_id=r.merchant_id,
        merchant_name=r.merchant.name,
        member_name=member_name,
        purchase_fen=r.purchase_fen,
        discount_fen=r.discount_fen,
        points=r.points,
        pay_fen=r.purchase_fen - r.discount_fen,
        fee_percent=str(r.fee_percent),
        transaction_id=r.transaction_id,
        reversed=hasattr(r.transaction, "reversed_by"),
        created_at=r.created_at,
    )


def statement_out(s: MerchantStatement) -> StatementOut:
    return StatementOut(
        id=s.pk,
        merchant_id=s.merchant_id,
        merchant_name=s.merchant.name,
        month=f"{s.month:%Y-%m}",
        redemptions=s.redemptions,
        spending_fen=s.spending_fen,
        discount_fen=s.discount_fen,
        points=s.points,
        fee_percent=str(s.fee_percent),
        fee_fen=s.fee_fen,
        created_at=s.created_at,
    )
