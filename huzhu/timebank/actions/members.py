"""Memberships, payments, levels, referral codes, birthday gifts and the monthly leaderboard
(DOMAIN.md "Members, merchants, money" and "The time bank").

Rules:
- tiers 体验会员 ``members.trial_fee`` (with a 1-hour service voucher) and 共创会员
  ``members.cocreate_fee`` (the first ``members.cocreate_first_n`` of a community get a free
  health check); the amount paid must equal the community's fee for the tier;
- one membership per person (a second join is refused: renew instead); every payment is an
  append-only row with its method and a receipt number unique in the community;
- referral: the referrer is rewarded ``timebank.referral_reward`` once per referred person;
- levels rise automatically: 1 + full years of membership + hours served ÷
  ``members.level_hours`` + referrals ÷ ``members.level_referrals`` (floors), never lowered;
- birthday gift ``timebank.birthday_gift``; monthly benefit reminder before the 5th; the
  anonymous leaderboard on ``timebank.leaderboard_day`` for the month before.

``actor=None`` is a system job (the daily run).
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Community
from huzhu.orgs.queries import get_setting
from huzhu.timebank.actions.ledger import issuing_account, person_account, post_transaction
from huzhu.timebank.models import (
    Leaderboard,
    LevelChange,
    Membership,
    MembershipPayment,
    PaymentMethod,
    Posting,
    Referral,
    ReferralCode,
    Tier,
    Transaction,
    TransactionKind,
)
from huzhu.timebank.money import HUNDREDTHS

MANAGE = "timebank.manage_members"
VIEW = "timebank.view_members"
# Unambiguous characters: no 0/O, 1/I/L, no U (read as V).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
MAX_KEY_LENGTH = 128
# The longest "members.expiry_reminder_days" a community may set (the registry's maximum).
EXPIRY_REMINDER_MAX_DAYS = 90
# Ranks shown on a leaderboard.
LEADERBOARD_SIZE = 20
# How many past days a daily run looks back for missed birthdays.
BIRTHDAY_CATCH_UP_DAYS = 7


# --- benefits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Benefit:
    code: str
    label: Promise
    min_level: int = 1


# Benefits unlocked by level (a small table; the tiers add their own below).
LEVEL_BENEFITS: tuple[Benefit, ...] = (
    Benefit("priority", gettext_lazy("优先服务"), 2),
    Benefit("free_activities", gettext_lazy("免费活动"), 3),
)
VOUCHER_BENEFIT = Benefit("voucher", gettext_lazy("每年 1 小时服务券"))
HEALTH_CHECK_BENEFIT = Benefit("health_check", gettext_lazy("免费体检"))


def benefits_for(membership: Membership, level: int | None = None) -> list[Benefit]:
    """What a member may use at ``level`` (default: their current level)."""
    level = membership.level if level is None else level
    out: list[Benefit] = []
    if membership.tier == Tier.TRIAL:
        out.append(VOUCHER_BENEFIT)
    if membership.founding_benefit:
        out.append(HEALTH_CHECK_BENEFIT)
    out.extend(b for b in LEVEL_BENEFITS if level >= b.min_level)
    return out


def benefit_labels(benefits: list[Benefit]) -> str:
    return "、".join(str(b.label) for b in benefits) or _("无")


# --- small helpers -------------------------------------------------------------------------


def fee_fen(tier: str, community: Community) -> int:
    """The community's yearly fee for ``tier`` in fen (settings are in yuan)."""
    key = "members.cocreate_fee" if tier == Tier.COCREATE else "members.trial_fee"
    yuan = Decimal(get_setting(key, community))
    return int((yuan * 100).to_integral_value())


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (Feb 29 → Feb 28 in a common year)."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return day.replace(year=year)


def period_end(start: dt.date) -> dt.date:
    """A membership paid from ``start`` is valid through this day (one year)."""
    return add_years(start, 1) - dt.timedelta(days=1)


def full_years(since: dt.date, today: dt.date) -> int:
    """Completed years from ``since`` to ``today`` (anniversaries)."""
    years = today.year - since.year
    if years > 0 and add_years(since, years) > today:
        years -= 1
    return max(years, 0)


def is_active(membership: Membership, day: dt.date | None = None) -> bool:
    day = day or clock.today()
    return membership.joined_on <= day <= membership.ends_on


def _key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise DomainError(
            "timebank.key.required", _("缺少幂等键。"), details={"field": "idempotency_key"}
        )
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            "timebank.key.too_long", _("幂等键过长。"), details={"field": "idempotency_key"}
        )
    return key


def _tell(person: Person, code: str, key: str, scope: Any, link: str = "", **ctx: Any) -> None:
    """The person hears of it in their inbox (and on their channels), in their language."""
    from huzhu.notify import actions as notify_actions
    from huzhu.notify.render import render_event

    title, body = render_event(code, person, **ctx)
    notify_actions.notify(
        person=person,
        code=code,
        title=title,
        body=body,
        key=key,
        community=scope,
        link=link,
    )


def _my_link() -> str:
    from django.urls import reverse

    return reverse("timebank:my_membership")


def _check_payment(
    *,
    tier: str,
    amount_fen: Any,
    method: str,
    receipt_number: str,
    paid_on: Any,
    community: Community,
) -> str:
    """Validate a payment; returns the cleaned receipt number."""
    if tier not in Tier.values:
        raise DomainError(
            "timebank.membership.tier", _("会员类型无效。"), details={"field": "tier"}
        )
    if method not in PaymentMethod.values:
        raise DomainError(
            "timebank.membership.method", _("支付方式无效。"), details={"field": "method"}
        )
    receipt = (receipt_number or "").strip()
    if not receipt:
        raise DomainError(
            "timebank.membership.receipt_required",
            _("请填写收据编号。"),
            details={"field": "receipt_number"},
        )
    if len(receipt) > 60:
        raise DomainError(
            "timebank.membership.receipt_too_long",
            _("收据编号不能超过 60 个字符。"),
            details={"field": "receipt_number"},
        )
    if not isinstance(paid_on, dt.date) or isinstance(paid_on, dt.datetime):
        raise DomainError(
            "timebank.membership.paid_on", _("请填写缴费日期。"), details={"field": "paid_on"}
        )
    if paid_on > clock.today():
        raise DomainError(
            "timebank.membership.paid_on_future",
            _("缴费日期不能晚于今天。"),
            details={"field": "paid_on"},
        )
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise DomainError(
            "timebank.membership.amount_invalid",
            _("金额必须是以分计的整数。"),
            details={"field": "amount"},
        )
    expected = fee_fen(tier, community)
    if amount_fen != expected:
        raise DomainError(
            "timebank.membership.amount_mismatch",
            _("%(tier)s年费为 %(fee)s 元，实收金额 %(amount)s 元不符。")
            % {
                "tier": Tier(tier).label,
                "fee": format_yuan(expected),
                "amount": format_yuan(amount_fen),
            },
            details={"field": "amount", "expected_fen": expected, "amount_fen": amount_fen},
        )
    if MembershipPayment.objects.filter(community=community, receipt_number=receipt).exists():
        raise _duplicate_receipt(receipt)
    return receipt


def _duplicate_receipt(receipt: str) -> ConflictError:
    return ConflictError(
        "timebank.membership.receipt_duplicate",
        _("收据编号“%(number)s”已登记过，请核对。") % {"number": receipt},
        details={"field": "receipt_number"},
    )


def format_yuan(fen: int) -> str:
    whole, part = divmod(abs(fen), 100)
    sign = "-" if fen < 0 else ""
    return f"{sign}{whole}.{part:02d}"


def _replay(key: str, person: Person) -> Membership | None:
    """The membership a payment with ``key`` was recorded for (a replayed request)."""
    payment = MembershipPayment.objects.filter(idempotency_key=key).first()
    if payment is None:
        return None
    membership = Membership.objects.get(pk=payment.membership_id)
    if membership.person_id != person.pk:
        raise ConflictError(
            "timebank.key.reused",
            _("该幂等键已用于另一项请求。"),
            details={"field": "idempotency_key"},
        )
    return membership


def _create_payment(
    *,
    membership: Membership,
    tier: str,
    amount_fen: int,
    method: str,
    receipt: str,
    start: dt.date,
    end: dt.date,
    actor: Person,
    key: str,
) -> MembershipPayment:
    try:
        with transaction.atomic():
            return MembershipPayment.objects.create(
                membership=membership,
                community=membership.community,
                tier=tier,
                amount_fen=amount_fen,
                method=method,
                receipt_number=receipt,
                period_start=start,
                period_end=end,
                recorded_by=actor,
                recorded_at=clock.now(),
                idempotency_key=key,
            )
    except IntegrityError:
        if MembershipPayment.objects.filter(idempotency_key=key).exists():
            raise ConflictError(
                "timebank.key.reused",
                _("该幂等键已用于另一项请求。"),
                details={"field": "idempotency_key"},
            ) from None
        raise _duplicate_receipt(receipt) from None


def _voucher(*, actor: Person | None, membership: Membership, start: dt.date) -> Transaction:
    """A trial member's 1-hour service voucher for the period starting ``start``."""
    community = membership.community
    points = int(get_setting("timebank.points_per_hour", community)) * HUNDREDTHS
    return post_transaction(
        actor=actor,
        kind=TransactionKind.VOUCHER,
        postings=[
            (issuing_account(community), -points),
            (person_account(membership.person), points),
        ],
        idempotency_key=f"voucher:{membership.person_id}:{start.isoformat()}",
        memo=_("体验会员 1 小时服务券"),
        community=community,
        on_behalf_of=membership.person,
    )


# --- referral codes ------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


@transaction.atomic
def referral_code_for(person: Person) -> str:
    """The person's referral code: created once, then stable; short, unambiguous, unique."""
    existing = ReferralCode.objects.filter(person=person).first()
    if existing is not None:
        return existing.code
    for _attempt in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                created = ReferralCode.objects.create(person=person, code=code)
        except IntegrityError:
            mine = ReferralCode.objects.filter(person=person).first()
            if mine is not None:  # a concurrent call created it
                return mine.code
            continue
        record(
            "timebank.referral_code.created",
            actor=None,
            target=created,
            community=person.community,
            new={"person": person.pk},
        )
        return created.code
    raise RuntimeError("could not find a free referral code")


def _record_referral(
    *, actor: Person, referred: Person, code: str, community: Community
) -> Referral:
    clean = normalize_code(code)
    ref_code = ReferralCode.objects.select_related("person").filter(code=clean).first()
    if ref_code is None:
        raise DomainError(
            "timebank.referral.unknown_code",
            _("推荐码“%(code)s”不存在，请核对。") % {"code": code.strip()},
            details={"field": "referral_code"},
        )
    referrer = ref_code.person
    if referrer.pk == referred.pk:
        raise DomainError(
            "timebank.referral.self",
            _("不能使用自己的推荐码。"),
            details={"field": "referral_code"},
        )
    if Referral.objects.filter(referred=referred).exists():
        raise ConflictError(
            "timebank.referral.already",
            _("此人已有推荐人。"),
            details={"field": "referral_code"},
        )
    reward_points = int(get_setting("timebank.referral_reward", community)) * HUNDREDTHS
    reward: Transaction | None = None
    if reward_points > 0:
        reward = post_transaction(
            actor=actor,
            kind=TransactionKind.REFERRAL,
            postings=[
                (issuing_account(community), -reward_points),
                (person_account(referrer), reward_points),
            ],
            idempotency_key=f"referral:{referred.pk}",
            memo=_("推荐奖励"),
            community=community,
            on_behalf_of=referrer,
        )
    referral = Referral.objects.create(
        referrer=referrer, referred=referred, code=clean, created_at=clock.now(), reward=reward
    )
    record(
        "timebank.referral.recorded",
        actor=actor,
        target=referral,
        community=community,
        new={"referrer": referrer.pk, "referred": referred.pk, "reward": reward_points},
    )
    if reward is not None:
        _tell(
            referrer,
            "timebank.referral.rewarded",
            f"referral:{referred.pk}",
            community,
            points=reward_points // HUNDREDTHS,
        )
    referrer_membership = Membership.objects.filter(person=referrer).first()
    if referrer_membership is not None:
        refresh_level(actor=None, membership=referrer_membership)
    return referral


# --- join and renew ------------------------------------------------------------------------


@transaction.atomic
def join_membership(
    *,
    actor: Person,
    person: Person,
    tier: str,
    amount_fen: int,
    method: str,
    receipt_number: str,
    paid_on: dt.date,
    referral_code: str | None = None,
    key: str,
) -> Membership:
    """Record a membership fee and make ``person`` a member (DOMAIN.md: tiers, first N
    co-create members, referral reward). The finance officer or branch head of the person's
    community records it; one membership per person; a replayed key changes nothing."""
    key = _key(key)
    if actor is None or not getattr(actor, "pk", None):
        raise DomainError("timebank.membership.actor", _("会费须由工作人员登记。"), status=403)
    policy.require(actor, MANAGE, person)
    replay = _replay(key, person)
    if replay is not None:
        return replay
    community = person.community
    if community is None:
        raise DomainError("timebank.membership.no_community", _("此人尚未加入任何社区，无法入会。"))
    receipt = _check_payment(
        tier=tier,
        amount_fen=amount_fen,
        method=method,
        receipt_number=receipt_number,
        paid_on=paid_on,
        community=community,
    )
    # The community row is the lock that serialises joins: co-create numbers never repeat.
    Community.objects.select_for_update().get(pk=community.pk)
    replay = _replay(key, person)  # a concurrent request with the same key won the lock
    if replay is not None:
        return replay
    if Membership.objects.filter(person=person).exists():
        raise ConflictError(
            "timebank.membership.exists",
            _("此人已是会员，请办理续费。"),
            details={"field": "person"},
        )
    number: int | None = None
    founding = False
    if tier == Tier.COCREATE:
        last = Membership.objects.filter(community=community).aggregate(n=Max("cocreate_number"))
        number = (last["n"] or 0) + 1
        founding = number <= int(get_setting("members.cocreate_first_n", community))
    ends_on = period_end(paid_on)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                person=person,
                community=community,
                tier=tier,
                cocreate_number=number,
                founding_benefit=founding,
                joined_on=paid_on,
                ends_on=ends_on,
            )
    except IntegrityError:
        raise ConflictError(
            "timebank.membership.exists",
            _("此人已是会员，请办理续费。"),
            details={"field": "person"},
        ) from None
    payment = _create_payment(
        membership=membership,
        tier=tier,
        amount_fen=amount_fen,
        method=method,
        receipt=receipt,
        start=paid_on,
        end=ends_on,
        actor=actor,
        key=key,
    )
    record(
        "timebank.membership.joined",
        actor=actor,
        target=membership,
        community=community,
        on_behalf_of=person,
        new={
            "person": person.pk,
            "tier": tier,
            "amount_fen": amount_fen,
            "method": method,
            "receipt_number": receipt,
            "payment": payment.pk,
            "cocreate_number": number,
            "founding_benefit": founding,
            "ends_on": ends_on.isoformat(),
        },
    )
    if tier == Tier.TRIAL:
        _voucher(actor=actor, membership=membership, start=paid_on)
    if referral_code and referral_code.strip():
        _record_referral(actor=actor, referred=person, code=referral_code, community=community)
    _tell(
        person,
        "timebank.membership.joined",
        f"membership:{membership.pk}:joined",
        community,
        link=_my_link(),
        tier=Tier(tier).label,
        community=community,
        ends_on=ends_on,
    )
    refresh_level(actor=None, membership=membership)
    membership.refresh_from_db()
    return membership


@transaction.atomic
def renew_membership(
    *,
    actor: Person,
    membership: Membership,
    tier: str,
    amount_fen: int,
    method: str,
    receipt_number: str,
    paid_on: dt.date,
    key: str,
) -> Membership:
    """Extend a membership by one year from the later of its end and today, possibly in
    another tier; a new payment row (DOMAIN.md: yearly fees)."""
    key = _key(key)
    if actor is None or not getattr(actor, "pk", None):
        raise DomainError("timebank.membership.actor", _("会费须由工作人员登记。"), status=403)
    person = membership.person
    policy.require(actor, MANAGE, person)
    replay = _replay(key, person)
    if replay is not None:
        return replay
    locked = (
        Membership.objects.select_for_update().select_related("community").get(pk=membership.pk)
    )
    replay = _replay(key, person)  # a concurrent request with the same key won the lock
    if replay is not None:
        return replay
    community = locked.community
    receipt = _check_payment(
        tier=tier,
        amount_fen=amount_fen,
        method=method,
        receipt_number=receipt_number,
        paid_on=paid_on,
        community=community,
    )
    old = {"tier": locked.tier, "ends_on": locked.ends_on.isoformat()}
    start = max(locked.ends_on + dt.timedelta(days=1), clock.today())
    end = period_end(start)
    if tier == Tier.COCREATE and locked.cocreate_number is None:
        Community.objects.select_for_update().get(pk=community.pk)
        last = Membership.objects.filter(community=community).aggregate(n=Max("cocreate_number"))
        locked.cocreate_number = (last["n"] or 0) + 1
        locked.founding_benefit = locked.cocreate_number <= int(
            get_setting("members.cocreate_first_n", community)
        )
    locked.tier = tier
    locked.ends_on = end
    locked.save(
        update_fields=["tier", "ends_on", "cocreate_number", "founding_benefit", "updated_at"]
    )
    payment = _create_payment(
        membership=locked,
        tier=tier,
        amount_fen=amount_fen,
        method=method,
        receipt=receipt,
        start=start,
        end=end,
        actor=actor,
        key=key,
    )
    record(
        "timebank.membership.renewed",
        actor=actor,
        target=locked,
        community=community,
        on_behalf_of=person,
        old=old,
        new={
            "tier": tier,
            "ends_on": end.isoformat(),
            "amount_fen": amount_fen,
            "method": method,
            "receipt_number": receipt,
            "payment": payment.pk,
            "cocreate_number": locked.cocreate_number,
        },
    )
    if tier == Tier.TRIAL:
        _voucher(actor=actor, membership=locked, start=start)
    _tell(
        person,
        "timebank.membership.renewed",
        f"membership:{locked.pk}:renewed:{payment.pk}",
        community,
        link=_my_link(),
        tier=Tier(tier).label,
        ends_on=end,
    )
    return locked


# --- levels --------------------------------------------------------------------------------


@dataclass
class LevelFacts:
    """What a level is computed from, and how far the next step of each kind is."""

    years: int
    minutes: int
    referrals: int
    level_hours: int
    level_referrals: int
    level: int = 0
    next_anniversary: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(Decimal("0.01"))

    @property
    def hours_to_next(self) -> Decimal:
        step = self.level_hours * 60
        remaining = step - self.minutes % step
        return (Decimal(remaining) / 60).quantize(Decimal("0.01"))

    @property
    def referrals_to_next(self) -> int:
        return self.level_referrals - self.referrals % self.level_referrals

    @property
    def hours_progress_percent(self) -> int:
        step = self.level_hours * 60
        return (self.minutes % step) * 100 // step

    @property
    def referrals_progress_percent(self) -> int:
        return (self.referrals % self.level_referrals) * 100 // self.level_referrals


def compute_level(
    *, years: int, minutes: int, referrals: int, level_hours: int, level_referrals: int
) -> int:
    """1 + full years + floor(hours ÷ level_hours) + floor(referrals ÷ level_referrals)."""
    return 1 + years + minutes // (level_hours * 60) + referrals // level_referrals


def served_minutes(person: Person) -> int:
    """Minutes of service credited to the person's account, reversed transactions excluded."""
    credited = Posting.objects.filter(
        account__person=person, account__kind="person", amount__gt=0
    ).values("transaction_id")
    total = (
        Transaction.objects.filter(pk__in=credited, service_minutes__gt=0)
        .filter(reversed_by__isnull=True)
        .aggregate(m=Sum("service_minutes"))["m"]
    )
    return int(total or 0)


def level_facts(membership: Membership, day: dt.date | None = None) -> LevelFacts:
    day = day or clock.today()
    community = membership.community
    facts = LevelFacts(
        years=full_years(membership.joined_on, day),
        minutes=served_minutes(membership.person),
        referrals=Referral.objects.filter(referrer_id=membership.person_id).count(),
        level_hours=int(get_setting("members.level_hours", community)),
        level_referrals=int(get_setting("members.level_referrals", community)),
    )
    facts.level = compute_level(
        years=facts.years,
        minutes=facts.minutes,
        referrals=facts.referrals,
        level_hours=facts.level_hours,
        level_referrals=facts.level_referrals,
    )
    facts.next_anniversary = add_years(membership.joined_on, facts.years + 1)
    return facts


@transaction.atomic
def refresh_level(
    *, actor: Person | None, membership: Membership, day: dt.date | None = None
) -> Membership:
    """Raise the member's level to what their years, hours and referrals earn (never lower
    it); a LevelChange row and a notification on a rise."""
    if actor is not None:
        policy.require(actor, MANAGE, membership.person)
    locked = (
        Membership.objects.select_for_update()
        .select_related("community", "person")
        .get(pk=membership.pk)
    )
    facts = level_facts(locked, day)
    if facts.level <= locked.level:
        return locked
    old = locked.level
    locked.level = facts.level
    locked.save(update_fields=["level", "updated_at"])
    change = LevelChange.objects.create(
        membership=locked,
        old_level=old,
        new_level=facts.level,
        years=facts.years,
        hours=facts.hours,
        referrals=facts.referrals,
        created_at=clock.now(),
    )
    record(
        "timebank.membership.level_raised",
        actor=actor,
        target=locked,
        community=locked.community,
        old={"level": old},
        new={
            "level": facts.level,
            "years": facts.years,
            "hours": str(facts.hours),
            "referrals": facts.referrals,
            "change": change.pk,
        },
    )
    _tell(
        locked.person,
        "timebank.membership.level_up",
        f"membership:{locked.pk}:level:{facts.level}",
        locked.community,
        link=_my_link(),
        level=facts.level,
        benefits=benefit_labels(benefits_for(locked, facts.level)),
    )
    membership.level = facts.level
    return locked


# --- scheduled work ------------------------------------------------------------------------


def _active(day: dt.date) -> Any:
    return Membership.objects.filter(joined_on__lte=day, ends_on__gte=day, person__is_active=True)


def _birthday_matches(day: dt.date) -> Q:
    """People whose birthday falls on ``day`` (Feb 29 birthdays on Feb 28 in common years)."""
    q = Q(person__birth_date__month=day.month, person__birth_date__day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        q |= Q(person__birth_date__month=2, person__birth_date__day=29)
    return q


def give_birthday_gifts(day: dt.date) -> int:
    """Birthday gift to every active member whose birthday is ``day`` or one of the few days
    before (a missed run catches up); once per person and year."""
    given = 0
    for back in range(BIRTHDAY_CATCH_UP_DAYS - 1, -1, -1):
        d = day - dt.timedelta(days=back)
        for m in _active(d).filter(_birthday_matches(d)).select_related("person", "community"):
            key = f"birthday:{m.person_id}:{d.year}"
            if Transaction.objects.filter(idempotency_key=key).exists():
                continue
            points = int(get_setting("timebank.birthday_gift", m.community)) * HUNDREDTHS
            if points <= 0:
                continue
            with transaction.atomic():
                post_transaction(
                    actor=None,
                    kind=TransactionKind.BIRTHDAY,
                    postings=[
                        (issuing_account(m.community), -points),
                        (person_account(m.person), points),
                    ],
                    idempotency_key=key,
                    memo=_("生日赠分"),
                    community=m.community,
                )
                _tell(m.person, "timebank.birthday.gift", key, m.community, points=points // 100)
            given += 1
    return given


def send_benefit_reminders(day: dt.date) -> int:
    """From the 1st until ``members.benefit_reminder_day`` (the 5th), once a month, every active
    member hears which benefits they may use this month."""
    from huzhu.notify.models import Notification

    sent = 0
    month = f"{day:%Y-%m}"
    last_days: dict[int, int] = {}
    members = list(_active(day).select_related("person", "community").order_by("pk"))
    keys = {m.pk: f"benefits:{m.pk}:{month}" for m in members}
    done = set(
        Notification.objects.filter(idempotency_key__in=keys.values()).values_list(
            "idempotency_key", flat=True
        )
    )
    for m in members:
        if m.community_id not in last_days:
            last_days[m.community_id] = int(
                get_setting("members.benefit_reminder_day", m.community)
            )
        if day.day > last_days[m.community_id]:
            continue
        key = keys[m.pk]
        if key in done:
            continue
        with transaction.atomic():
            _tell(
                m.person,
                "timebank.membership.benefits",
                key,
                m.community,
                link=_my_link(),
                level=m.level,
                tier=m.get_tier_display(),
                benefits=benefit_labels(benefits_for(m)),
            )
            record(
                "timebank.membership.benefits_reminded",
                actor=None,
                target=m,
                community=m.community,
                new={"month": month},
            )
        sent += 1
    return sent


def send_expiry_reminders(day: dt.date) -> int:
    """Members whose membership ends within ``members.expiry_reminder_days`` (30) hear of it
    once per period."""
    sent = 0
    horizon = day + dt.timedelta(days=EXPIRY_REMINDER_MAX_DAYS)
    due = (
        Membership.objects.filter(ends_on__gte=day, ends_on__lte=horizon)
        .exclude(reminded_for=F("ends_on"))
        .values_list("pk", flat=True)
    )
    days: dict[int, int] = {}
    for pk in list(due):
        with transaction.atomic():
            m = (
                Membership.objects.select_for_update()
                .select_related("person", "community")
                .get(pk=pk)
            )
            if m.community_id not in days:
                days[m.community_id] = int(get_setting("members.expiry_reminder_days", m.community))
            if m.reminded_for == m.ends_on or (m.ends_on - day).days > days[m.community_id]:
                continue
            m.reminded_for = m.ends_on
            m.save(update_fields=["reminded_for", "updated_at"])
            record(
                "timebank.membership.expiry_reminded",
                actor=None,
                target=m,
                community=m.community,
                new={"ends_on": m.ends_on.isoformat()},
            )
            _tell(
                m.person,
                "timebank.membership.expiring",
                f"membership:{m.pk}:expiring:{m.ends_on.isoformat()}",
                m.community,
                link=_my_link(),
                tier=m.get_tier_display(),
                ends_on=m.ends_on,
            )
        sent += 1
    return sent


def refresh_levels(day: dt.date) -> int:
    """Raise every active member whose level changed; facts computed in grouped queries."""
    members = list(_active(day).select_related("community"))
    if not members:
        return 0
    person_ids = [m.person_id for m in members]
    referrals = dict(
        Referral.objects.filter(referrer_id__in=person_ids)
        .values("referrer_id")
        .annotate(n=Count("pk"))
        .values_list("referrer_id", "n")
        .order_by()
    )
    minutes_rows = (
        Posting.objects.filter(
            account__person_id__in=person_ids,
            account__kind="person",
            amount__gt=0,
            transaction__service_minutes__gt=0,
            transaction__reversed_by__isnull=True,
        )
        .values("account__person_id")
        .annotate(m=Sum("transaction__service_minutes"))
        .values_list("account__person_id", "m")
        .order_by()
    )
    minutes = {pid: int(m or 0) for pid, m in minutes_rows}
    steps: dict[int, tuple[int, int]] = {}
    raised = 0
    for m in members:
        if m.community_id not in steps:
            steps[m.community_id] = (
                int(get_setting("members.level_hours", m.community)),
                int(get_setting("members.level_referrals", m.community)),
            )
        level_hours, level_referrals = steps[m.community_id]
        level = compute_level(
            years=full_years(m.joined_on, day),
            minutes=minutes.get(m.person_id, 0),
            referrals=referrals.get(m.person_id, 0),
            level_hours=level_hours,
            level_referrals=level_referrals,
        )
        if level > m.level:
            refresh_level(actor=None, membership=m, day=day)
            raised += 1
    return raised


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month(day: dt.date) -> dt.date:
    return month_start(month_start(day) - dt.timedelta(days=1))


def _month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(month, dt.time.min, tzinfo=tz),
        dt.datetime.combine(nxt, dt.time.min, tzinfo=tz),
    )


# Points earned by service: service credits, points paid for a service and paper-ledger
# service (what a member did for others) — not gifts, vouchers, referral rewards, transfers.
EARNED_KINDS = (
    TransactionKind.SERVICE_CREDIT,
    TransactionKind.SERVICE_PAYMENT,
    TransactionKind.MANUAL,
)


def leaderboard_rows(community: Community, month: dt.date) -> list[dict[str, Any]]:
    """The top earners of ``month`` among the community's people: rank, building, points —
    never a name or an id. Equal points share a rank."""
    start, end = _month_bounds(month)
    rows = (
        Posting.objects.filter(
            account__kind="person",
            account__person__community=community,
            amount__gt=0,
            transaction__kind__in=EARNED_KINDS,
            transaction__created_at__gte=start,
            transaction__created_at__lt=end,
            transaction__reversed_by__isnull=True,
        )
        .values("account__person_id", "account__person__household__building__name")
        .annotate(points=Sum("amount"))
        .order_by("-points", "account__person__household__building__name", "account__person_id")
    )[:LEADERBOARD_SIZE]
    out: list[dict[str, Any]] = []
    rank = 0
    previous: int | None = None
    for i, row in enumerate(rows, start=1):
        points = int(row["points"])
        if points != previous:
            rank = i
            previous = points
        out.append(
            {
                "rank": rank,
                "building": row["account__person__household__building__name"] or "",
                "points": points,
            }
        )
    return out


def publish_leaderboard(*, community: Community, month: dt.date) -> Leaderboard:
    """One anonymous leaderboard per community and month; publishing again returns it."""
    month = month_start(month)
    existing = Leaderboard.objects.filter(community=community, month=month).first()
    if existing is not None:
        return existing
    rows = leaderboard_rows(community, month)
    try:
        with transaction.atomic():
            board = Leaderboard.objects.create(
                community=community, month=month, rows=rows, published_at=clock.now()
            )
            record(
                "timebank.leaderboard.published",
                actor=None,
                target=board,
                community=community,
                new={"month": month.isoformat(), "rows": len(rows)},
            )
    except IntegrityError:
        return Leaderboard.objects.get(community=community, month=month)
    return board


def publish_leaderboards(day: dt.date) -> int:
    """On or after each community's ``timebank.leaderboard_day``, last month's board."""
    month = previous_month(day)
    done = set(Leaderboard.objects.filter(month=month).values_list("community_id", flat=True))
    published = 0
    for community in Community.objects.exclude(pk__in=done).order_by("pk"):
        if day.day < int(get_setting("timebank.leaderboard_day", community)):
            continue
        publish_leaderboard(community=community, month=month)
        published += 1
    return published


@dataclass
class DailyReport:
    birthdays: int = 0
    benefit_reminders: int = 0
    expiry_reminders: int = 0
    levels_raised: int = 0
    leaderboards: int = 0

    def __str__(self) -> str:
        return (
            f"birthday gifts: {self.birthdays}, benefit reminders: {self.benefit_reminders}, "
            f"expiry reminders: {self.expiry_reminders}, levels raised: {self.levels_raised}, "
            f"leaderboards: {self.leaderboards}"
        )


def run_daily(day: dt.date | None = None) -> DailyReport:
    """Everything the members area does once a day; safe to run again (idempotent)."""
    day = day or clock.today()
    return DailyReport(
        birthdays=give_birthday_gifts(day),
        benefit_reminders=send_benefit_reminders(day),
        expiry_reminders=send_expiry_reminders(day),
        levels_raised=refresh_levels(day),
        leaderboards=publish_leaderboards(day),
    )


__all__ = [
    "Benefit",
    "DailyReport",
    "LevelFacts",
    "benefits_for",
    "compute_level",
    "fee_fen",
    "join_membership",
    "level_facts",
    "publish_leaderboard",
    "publish_leaderboards",
    "referral_code_for",
    "refresh_level",
    "renew_membership",
    "run_daily",
]
