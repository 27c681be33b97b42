"""Input and output schemas of the members API operations."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from huzhu.core.api import PageIn, PageMeta


class MemberQuery(PageIn):
    community: int | None = Field(None, ge=1, le=2_147_483_647)
    q: str = Field("", max_length=50)
    tier: str = Field("", max_length=10)
    expiring: bool = False


class PaymentIn(Schema):
    tier: str = Field(..., max_length=10)
    amount_fen: int = Field(..., ge=1, le=10**12)
    method: str = Field(..., max_length=10)
    receipt_number: str = Field(..., max_length=60)
    paid_on: dt.date
    idempotency_key: str = Field("", max_length=128)


class JoinIn(PaymentIn):
    referral_code: str = Field("", max_length=16)


class RenewIn(PaymentIn):
    pass


class BenefitOut(Schema):
    code: str
    label: str


class MemberOut(Schema):
    id: int
    person_id: int
    name: str
    community_id: int
    building: str
    tier: str
    tier_label: str
    cocreate_number: int | None
    founding_benefit: bool
    level: int
    joined_on: dt.date
    ends_on: dt.date
    active: bool


class MemberPage(Schema):
    items: list[MemberOut]
    meta: PageMeta


class PaymentOut(Schema):
    id: int
    tier: str
    amount_fen: int
    method: str
    receipt_number: str
    period_start: dt.date
    period_end: dt.date
    recorded_at: dt.datetime


class LevelChangeOut(Schema):
    old_level: int
    new_level: int
    years: int
    hours: str
    referrals: int
    created_at: dt.datetime


class ProgressOut(Schema):
    years: int
    hours: str
    referrals: int
    level_hours: int
    level_referrals: int
    hours_to_next: str
    referrals_to_next: int
    next_anniversary: dt.date | None


class MemberDetailOut(MemberOut):
    payments: list[PaymentOut]
    level_changes: list[LevelChangeOut]
    benefits: list[BenefitOut]
    progress: ProgressOut


class TierOfferOut(Schema):
    tier: str
    label: str
    fee_fen: int
    offers: list[str]


class MyMembershipOut(Schema):
    membership: MemberDetailOut | None
    tiers: list[TierOfferOut]
    referral_code: str
    referred: int


class LeaderboardRowOut(Schema):
    rank: int
    building: str
    points: int


class LeaderboardOut(Schema):
    community_id: int | None
    month: dt.date | None
    published_at: dt.datetime | None
    rows: list[LeaderboardRowOut]
    months: list[dt.date]


class LeaderboardQuery(Schema):
    month: str = Field("", max_length=7, description="YYYY-MM; default: the latest")
