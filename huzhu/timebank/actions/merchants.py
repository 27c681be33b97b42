"""Merchants that take points (DOMAIN.md "Members, merchants, money" and "The time bank").

Rules:
- the branch head signs merchants up (``timebank.manage_merchants``); an agreement's management
  fee lies within ``merchants.fee_percent_min`` … ``merchants.fee_percent_max`` (3–5 %);
- a member shows a payment code (huzhu.timebank.qr); the merchant's staff (role ``merchant``,
  ``timebank.redeem``, and listed on the merchant) enter the purchase; 1 point =
  ``timebank.yuan_per_point`` yuan off, at most ``timebank.max_yuan_per_purchase`` yuan per
  purchase; a code is used once; both sides see the result (the member gets a notification);
- monthly reconciliation before the 5th: the fee is member spending × fee %, rounded half-up to
  the fen (10,000 yuan at 3 % → 300 yuan); one statement per merchant and month.

Money is integer fen, points integer hundredths; the rate is a Decimal setting and every
conversion is exact (``fractions.Fraction``), never float.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.accounts import pii, policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Community
from huzhu.orgs.queries import get_setting
from huzhu.timebank import qr
from huzhu.timebank.actions.ledger import person_account, post_transaction
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Merchant,
    MerchantAgreement,
    MerchantStatement,
    MerchantStatus,
    Redemption,
    TransactionKind,
)
from huzhu.timebank.money import format_points

MANAGE = "timebank.manage_merchants"
REDEEM = "timebank.redeem"
RECONCILE = "timebank.reconcile_merchants"

# A sane upper bound for one purchase typed at the till (a typo guard, not a domain rule).
MAX_PURCHASE_FEN = 50_000 * 100
MAX_KEY_LENGTH = 100  # the ledger key is "redemption:<key>" (≤ 128)
REDEEMED_EVENT = "timebank.redemption.done"


# --- money -----------------------------------------------------------------------------------


def format_fen(fen: int) -> str:
    """12345 → "123.45" (yuan with two decimals)."""
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole}.{frac:02d}"


def parse_yuan(value: str | int | Decimal, *, field: str = "purchase") -> int:
    """A purchase amount in yuan ("60", "12.5") as fen: positive, at most two decimals, at most
    ``MAX_PURCHASE_FEN``. Floats are refused."""
    if isinstance(value, (bool, float)):
        raise DomainError("timebank.yuan.invalid", _("金额格式不正确。"), details={"field": field})
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(
            "timebank.yuan.invalid",
            _("请输入正确的金额，例如 60 或 12.50。"),
            details={"field": field},
        ) from None
    if not amount.is_finite():
        raise DomainError(
            "timebank.yuan.invalid",
            _("请输入正确的金额，例如 60 或 12.50。"),
            details={"field": field},
        )
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise DomainError(
            "timebank.yuan.precision", _("金额最多保留两位小数。"), details={"field": field}
        )
    return check_purchase_fen(int(fen), field=field)


def check_purchase_fen(purchase_fen: Any, *, field: str = "purchase") -> int:
    if isinstance(purchase_fen, bool) or not isinstance(purchase_fen, int):
        raise DomainError(
            "timebank.yuan.invalid", _("金额必须是以分计的整数。"), details={"field": field}
        )
    if purchase_fen <= 0:
        raise DomainError(
            "timebank.yuan.not_positive", _("消费金额必须大于零。"), details={"field": field}
        )
    if purchase_fen > MAX_PURCHASE_FEN:
        raise DomainError(
            "timebank.yuan.too_large",
            _("消费金额不能超过 %(max)s 元，请核对。") % {"max": format_fen(MAX_PURCHASE_FEN)},
            details={"field": field},
        )
    return purchase_fen


@dataclass(frozen=True)
class Discount:
    discount_fen: int
    points: int  # hundredths


def compute_discount(
    *, purchase_fen: int, available: int, yuan_per_point: Decimal, max_yuan: Decimal
) -> Discount:
    """The largest discount, in whole fen, that is at most the purchase, at most the cap, and
    paid by a whole number of hundredths of a point at exactly ``yuan_per_point`` yuan a point.

    One hundredth of a point is worth ``yuan_per_point`` fen = p/q fen (in lowest terms), so
    ``h`` hundredths pay a whole number of fen exactly when q divides h: the discount is p·k fen
    for k = ⌊target / p⌋ and the points are q·k hundredths (the discount is rounded down).
    """
    if available <= 0 or purchase_fen <= 0:
        return Discount(0, 0)
    rate = Fraction(yuan_per_point)  # fen per hundredth
    if rate <= 0:
        return Discount(0, 0)
    cap_fen = int(Fraction(max_yuan) * 100)  # floor for a positive cap
    cap_fen = max(cap_fen, 0)
    by_points = int(rate * available)  # floor: the points cannot pay more
    target = min(purchase_fen, cap_fen, by_points)
    k = target // rate.numerator
    return Discount(discount_fen=rate.numerator * k, points=rate.denominator * k)


# --- merchants -------------------------------------------------------------------------------


def _replayed(code: str, actor: Person, key: str) -> str | None:
    """The target id of the audited action ``code`` that ``actor`` already did with ``key`` (an
    API retry), or None. Merchant writes carry their idempotency key in the audit entry."""
    if not key:
        return None
    from huzhu.audit.models import AuditEntry

    entry = (
        AuditEntry.objects.filter(code=code, actor=actor, new_values__idempotency_key=key)
        .only("target_id")
        .first()
    )
    return entry.target_id if entry is not None else None


def _replay_entry(code: str, actor: Person, key: str) -> dict[str, Any]:
    from huzhu.audit.models import AuditEntry

    entry = AuditEntry.objects.filter(
        code=code, actor=actor, new_values__idempotency_key=key
    ).first()
    return dict(entry.new_values) if entry is not None else {}


def _with_key(values: dict[str, Any], key: str) -> dict[str, Any]:
    return {**values, "idempotency_key": key} if key else values


def _text(value: str, field: str, label: str, max_len: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(
            "timebank.field.required",
            _("请填写%(label)s。") % {"label": label},
            details={"field": field},
        )
    if len(value) > max_len:
        raise DomainError(
            "timebank.field.too_long",
            _("%(label)s不能超过 %(n)s 个字。") % {"label": label, "n": max_len},
            details={"field": field},
        )
    return value


def _merchant_fields(name: str, category: str, address: str, phone: str) -> dict[str, str]:
    return {
        "name": _text(name, "name", _("商户名称"), 100, required=True),
        "category": _text(category, "category", _("类别"), 50),
        "address": _text(address, "address", _("地址"), 200),
        "phone": _text(phone, "phone", _("联系电话"), 30),
    }


def _name_taken(community: Community, name: str, exclude: int | None = None) -> None:
    qs = Merchant.objects.filter(community=community, name=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise ConflictError(
            "timebank.merchant.name_taken",
            _("本社区已有同名商户。"),
            details={"field": "name"},
        )


@transaction.atomic
def create_merchant(
    *,
    actor: Person,
    community: Community,
    name: str,
    category: str = "",
    address: str = "",
    phone: str = "",
    key: str = "",
) -> Merchant:
    """Sign a merchant up in a community, with its own point account (kind merchant)."""
    policy.require(actor, MANAGE, community)
    done = _replayed("timebank.merchant.created", actor, key)
    if done is not None:
        return Merchant.objects.get(pk=done)
    fields = _merchant_fields(name, category, address, phone)
    _name_taken(community, fields["name"])
    account = Account.objects.create(
        kind=AccountKind.MERCHANT, community=community, name=fields["name"][:100]
    )
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(
                community=community, account=account, created_by=actor, **fields
            )
    except IntegrityError:
        raise ConflictError(
            "timebank.merchant.name_taken", _("本社区已有同名商户。"), details={"field": "name"}
        ) from None
    record("timebank.merchant.created", actor=actor, target=merchant, new=_with_key(fields, key))
    return merchant


@transaction.atomic
def update_merchant(
    *,
    actor: Person,
    merchant: Merchant,
    name: str,
    category: str = "",
    address: str = "",
    phone: str = "",
    key: str = "",
) -> Merchant:
    """Edit a merchant's name and contact details."""
    policy.require(actor, MANAGE, merchant)
    if _replayed("timebank.merchant.updated", actor, key) is not None:
        return Merchant.objects.get(pk=merchant.pk)
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    fields = _merchant_fields(name, category, address, phone)
    _name_taken(locked.community, fields["name"], exclude=locked.pk)
    old = {k: getattr(locked, k) for k in fields}
    for k, v in fields.items():
        setattr(locked, k, v)
    locked.save(update_fields=list(fields))
    record(
        "timebank.merchant.updated", actor=actor, target=locked, old=old, new=_with_key(fields, key)
    )
    return locked


def _set_status(actor: Person, merchant: Merchant, status: str, code: str, key: str) -> Merchant:
    policy.require(actor, MANAGE, merchant)
    if _replayed(code, actor, key) is not None:
        return Merchant.objects.get(pk=merchant.pk)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if locked.status == status:
            raise ConflictError(
                "timebank.merchant.status_unchanged",
                _("商户已经是“%(status)s”状态。") % {"status": locked.get_status_display()},
            )
        old = locked.status
        locked.status = status
        locked.save(update_fields=["status"])
        record(
            code,
            actor=actor,
            target=locked,
            old={"status": old},
            new=_with_key({"status": status}, key),
        )
    return locked


def suspend_merchant(*, actor: Person, merchant: Merchant, key: str = "") -> Merchant:
    """Stop a merchant taking points (its staff can no longer redeem)."""
    return _set_status(
        actor, merchant, MerchantStatus.SUSPENDED, "timebank.merchant.suspended", key
    )


def reactivate_merchant(*, actor: Person, merchant: Merchant, key: str = "") -> Merchant:
    """Let a suspended merchant take points again."""
    return _set_status(actor, merchant, MerchantStatus.ACTIVE, "timebank.merchant.reactivated", key)


def agreement_in_force(merchant: Merchant, day: dt.date) -> MerchantAgreement | None:
    """The latest agreement that started by ``day`` and has not ended."""
    return (
        MerchantAgreement.objects.filter(merchant=merchant, starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .order_by("-starts_on", "-pk")
        .first()
    )


def with_agreement_in_force(qs: QuerySet[Merchant], day: dt.date) -> QuerySet[Merchant]:
    """Merchants with ``agreements_in_force`` prefetched (latest first) — one query for a page
    of merchants instead of one per merchant."""
    in_force = (
        MerchantAgreement.objects.filter(starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .order_by("-starts_on", "-pk")
    )
    return qs.prefetch_related(Prefetch("agreements", queryset=in_force, to_attr="in_force"))


def fee_bounds(community: Community) -> tuple[Decimal, Decimal]:
    low = Decimal(get_setting("merchants.fee_percent_min", community))
    high = Decimal(get_setting("merchants.fee_percent_max", community))
    return low, high


@transaction.atomic
def sign_agreement(
    *,
    actor: Person,
    merchant: Merchant,
    fee_percent: Decimal,
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
    reference: str = "",
    key: str = "",
) -> MerchantAgreement:
    """Record a signed agreement; its management fee lies within the community's
    ``merchants.fee_percent_min`` … ``merchants.fee_percent_max`` (3–5 %, DOMAIN.md)."""
    policy.require(actor, MANAGE, merchant)
    done = _replayed("timebank.merchant.agreement_signed", actor, key)
    if done is not None:
        return MerchantAgreement.objects.get(pk=done)
    if isinstance(fee_percent, (bool, float)) or not isinstance(fee_percent, (Decimal, int)):
        raise DomainError(
            "timebank.agreement.fee_invalid",
            _("管理费比例格式不正确。"),
            details={"field": "fee_percent"},
        )
    fee = Decimal(fee_percent)
    if not fee.is_finite() or fee != fee.quantize(Decimal("0.01")):
        raise DomainError(
            "timebank.agreement.fee_invalid",
            _("管理费比例最多保留两位小数。"),
            details={"field": "fee_percent"},
        )
    low, high = fee_bounds(merchant.community)
    if not low <= fee <= high:
        raise DomainError(
            "timebank.agreement.fee_out_of_range",
            _("管理费比例须在 %(min)s%% 到 %(max)s%% 之间。") % {"min": low, "max": high},
            details={"field": "fee_percent", "min": str(low), "max": str(high)},
        )
    start = starts_on or clock.today()
    if ends_on is not None and ends_on < start:
        raise DomainError(
            "timebank.agreement.dates",
            _("终止日期不能早于生效日期。"),
            details={"field": "ends_on"},
        )
    ref = _text(reference, "reference", _("协议编号"), 60)
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    agreement = MerchantAgreement.objects.create(
        merchant=locked,
        fee_percent=fee.quantize(Decimal("0.01")),
        starts_on=start,
        ends_on=ends_on,
        reference=ref,
        created_by=actor,
    )
    record(
        "timebank.merchant.agreement_signed",
        actor=actor,
        target=agreement,
        community=locked.community,
        new=_with_key(
            {
                "merchant": locked.pk,
                "fee_percent": str(agreement.fee_percent),
                "starts_on": start.isoformat(),
                "ends_on": ends_on.isoformat() if ends_on else None,
                "reference": ref,
            },
            key,
        ),
    )
    return agreement


@transaction.atomic
def add_staff(*, actor: Person, merchant: Merchant, phone: str, key: str = "") -> Person:
    """List a person as the merchant's staff: found by phone (blind index), and holding the
    ``merchant`` role in the merchant's community."""
    policy.require(actor, MANAGE, merchant)
    if _replayed("timebank.merchant.staff_added", actor, key) is not None:
        entry = _replay_entry("timebank.merchant.staff_added", actor, key)
        return Person.objects.get(pk=entry["person"])
    number = (phone or "").strip()
    if not pii.is_valid_phone(number):
        raise DomainError(
            "timebank.staff.phone_invalid", _("请输入正确的手机号。"), details={"field": "phone"}
        )
    person = Person.objects.filter(phone_hash=pii.phone_index(number), is_active=True).first()
    if person is None:
        raise DomainError(
            "timebank.staff.not_found",
            _("没有找到使用该手机号的用户。"),
            details={"field": "phone"},
            status=404,
        )
    if not policy.can(person, REDEEM, merchant):
        raise DomainError(
            "timebank.staff.not_merchant",
            _("该用户在本社区没有“商户”角色，请先为其授予该角色。"),
            details={"field": "phone"},
        )
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    if locked.staff.filter(pk=person.pk).exists():
        raise ConflictError(
            "timebank.staff.already", _("该用户已是本商户店员。"), details={"field": "phone"}
        )
    locked.staff.add(person)
    record(
        "timebank.merchant.staff_added",
        actor=actor,
        target=locked,
        new=_with_key({"person": person.pk, "phone": pii.mask_phone(person.phone)}, key),
    )
    return person


@transaction.atomic
def remove_staff(*, actor: Person, merchant: Merchant, person: Person, key: str = "") -> None:
    """Take a person off the merchant's staff."""
    policy.require(actor, MANAGE, merchant)
    if _replayed("timebank.merchant.staff_removed", actor, key) is not None:
        return
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    if not locked.staff.filter(pk=person.pk).exists():
        raise DomainError("timebank.staff.not_listed", _("该用户不是本商户店员。"), status=404)
    locked.staff.remove(person)
    record(
        "timebank.merchant.staff_removed",
        actor=actor,
        target=locked,
        old={"person": person.pk},
        new=_with_key({}, key),
    )


# --- redemption ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedemptionPreview:
    """What the confirm screen shows; nothing is written."""

    merchant: Merchant
    member: Person
    member_name: str  # masked
    purchase_fen: int
    discount_fen: int
    points: int  # hundredths
    pay_fen: int
    available: int  # the member's available points (hundredths)
    fee_percent: Decimal
    nonce: str

    @property
    def purchase_yuan(self) -> str:
        return format_fen(self.purchase_fen)

    @property
    def discount_yuan(self) -> str:
        return format_fen(self.discount_fen)

    @property
    def pay_yuan(self) -> str:
        return format_fen(self.pay_fen)

    @property
    def points_text(self) -> str:
        return format_points(self.points)

    @property
    def available_text(self) -> str:
        return format_points(self.available)


def mask_name(name: str) -> str:
    """张三丰 → 张**; shown to the merchant instead of the member's full name."""
    name = (name or "").strip()
    if not name:
        return "*"
    return name[0] + "*" * max(1, min(len(name) - 1, 3))


def _check_till(actor: Person, merchant: Merchant) -> None:
    """The actor is the merchant's staff: role ``merchant`` there and listed on it."""
    policy.require(actor, REDEEM, merchant)
    if not merchant.staff.filter(pk=actor.pk).exists():
        raise DomainError(
            "timebank.redemption.not_staff",
            _("你不是该商户的店员，不能为其收款。"),
            status=403,
        )


def _check_open(merchant: Merchant, today: dt.date) -> MerchantAgreement:
    if merchant.status != MerchantStatus.ACTIVE:
        raise DomainError(
            "timebank.redemption.suspended",
            _("该商户已暂停积分抵扣。"),
            status=409,
        )
    agreement = agreement_in_force(merchant, today)
    if agreement is None:
        raise DomainError(
            "timebank.redemption.no_agreement",
            _("该商户今天没有生效的合作协议，暂不能积分抵扣。"),
            status=409,
        )
    if merchant.account_id is None:
        raise DomainError("timebank.redemption.no_account", _("该商户没有积分账户。"), status=409)
    return agreement


def _member_of(token: qr.PaymentToken, merchant: Merchant) -> Person:
    member = Person.objects.select_related("community").filter(pk=token.person_id).first()
    if (
        member is None
        or not member.is_active
        or member.community is None
        or member.community.alliance_id != merchant.community.alliance_id
    ):
        raise DomainError(
            "timebank.qr.invalid", _("付款码无效，请重新扫描。"), details={"field": "token"}
        )
    return member


def _not_self(actor: Person, member: Person) -> None:
    """Staff do not redeem their own points at their own till."""
    if actor.pk == member.pk:
        raise DomainError(
            "timebank.redemption.self",
            _("店员不能为自己的付款码抵扣，请由其他店员收款。"),
            details={"field": "token"},
            status=403,
        )


def _used(nonce: str) -> DomainError:
    return ConflictError(
        "timebank.qr.used",
        _("该付款码已使用过，请会员刷新付款码后重新出示。"),
        details={"field": "token"},
    )


def _discount_for(merchant: Merchant, purchase_fen: int, available: int) -> Discount:
    community = merchant.community
    return compute_discount(
        purchase_fen=purchase_fen,
        available=available,
        yuan_per_point=Decimal(get_setting("timebank.yuan_per_point", community)),
        max_yuan=Decimal(get_setting("timebank.max_yuan_per_purchase", community)),
    )


def _nothing_to_redeem(available: int) -> DomainError:
    if available <= 0:
        return DomainError(
            "timebank.redemption.no_points",
            _("该会员没有可用积分，无法抵扣，请按原价收款。"),
            status=409,
        )
    return DomainError(
        "timebank.redemption.nothing",
        _("本次消费可抵扣金额为零，无需使用积分，请按原价收款。"),
        details={"field": "purchase"},
    )


def preview_redemption(
    *, actor: Person, merchant: Merchant, token: str, purchase_fen: int
) -> RedemptionPreview:
    """The confirm screen: who pays, how much off, how many points (no writes). The same
    checks as ``redeem`` (a purchase the points cannot discount is refused here too), so what
    is confirmed is what will be posted."""
    _check_till(actor, merchant)
    purchase_fen = check_purchase_fen(purchase_fen)
    agreement = _check_open(merchant, clock.today())
    parsed = qr.read_token(token)
    member = _member_of(parsed, merchant)
    _not_self(actor, member)
    if Redemption.objects.filter(token_nonce=parsed.nonce).exists():
        raise _used(parsed.nonce)
    account = person_account(member)
    discount = _discount_for(merchant, purchase_fen, account.available)
    if discount.discount_fen <= 0:
        raise _nothing_to_redeem(account.available)
    return RedemptionPreview(
        merchant=merchant,
        member=member,
        member_name=mask_name(member.name),
        purchase_fen=purchase_fen,
        discount_fen=discount.discount_fen,
        points=discount.points,
        pay_fen=purchase_fen - discount.discount_fen,
        available=account.available,
        fee_percent=agreement.fee_percent,
        nonce=parsed.nonce,
    )


def redeem(
    *, actor: Person, merchant: Merchant, token: str, purchase_fen: int, key: str
) -> Redemption:
    """Take points off a purchase at a merchant (DOMAIN.md: 1 point = 3 yuan off, at most 30 yuan
    per purchase, by showing a QR code). The actor is the merchant's staff; the merchant is
    active with an agreement in force today; the code is genuine, fresh and never used before.

    Posts one REDEMPTION transaction member → merchant account, writes the Redemption with the
    agreement's fee snapshot, and tells the member. Idempotent by ``key``; a purchase the points
    cannot discount (no points, or less than one hundredth's worth) is refused and the code stays
    usable.
    """
    key = (key or "").strip()
    if not key:
        raise DomainError("timebank.key.required", _("缺少幂等键。"))
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError("timebank.key.too_long", _("幂等键过长。"))
    existing = Redemption.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _replay(existing, actor, merchant)
    _check_till(actor, merchant)
    purchase_fen = check_purchase_fen(purchase_fen)
    parsed = qr.read_token(token)
    member = _member_of(parsed, merchant)
    _not_self(actor, member)
    account = person_account(member)
    with transaction.atomic():
        # The member's account lock orders every redemption of this member (and of this code).
        locked = Account.objects.select_for_update().get(pk=account.pk)
        replay = Redemption.objects.filter(idempotency_key=key).first()
        if replay is not None:
            return _replay(replay, actor, merchant)
        if Redemption.objects.filter(token_nonce=parsed.nonce).exists():
            raise _used(parsed.nonce)
        current = Merchant.objects.select_related("community").get(pk=merchant.pk)
        today = clock.today()
        agreement = _check_open(current, today)
        discount = _discount_for(current, purchase_fen, locked.available)
        if discount.discount_fen <= 0:
            raise _nothing_to_redeem(locked.available)
        merchant_account = Account.objects.get(merchant=current)
        tx = post_transaction(
            actor=actor,
            kind=TransactionKind.REDEMPTION,
            postings=[(locked, -discount.points), (merchant_account, discount.points)],
            idempotency_key=f"redemption:{key}",
            memo=_("%(merchant)s 消费抵扣 %(yuan)s 元")
            % {"merchant": current.name, "yuan": format_fen(discount.discount_fen)},
            community=current.community,
            on_behalf_of=member,
            reference=f"redemption:{parsed.nonce}",
        )
        try:
            with transaction.atomic():
                redemption = Redemption.objects.create(
                    merchant=current,
                    member=member,
                    community=current.community,
                    purchase_fen=purchase_fen,
                    discount_fen=discount.discount_fen,
                    points=discount.points,
                    fee_percent=agreement.fee_percent,
                    token_nonce=parsed.nonce,
                    idempotency_key=key,
                    transaction=tx,
                    created_by=actor,
                    created_at=clock.now(),
                )
        except IntegrityError:
            raise _used(parsed.nonce) from None
        record(
            "timebank.redemption.created",
            actor=actor,
            target=redemption,
            community=current.community,
            on_behalf_of=member,
            new={
                "merchant": current.pk,
                "member": member.pk,
                "purchase_fen": purchase_fen,
                "discount_fen": discount.discount_fen,
                "points": discount.points,
                "fee_percent": str(agreement.fee_percent),
                "transaction": tx.pk,
            },
        )
        _tell_member(redemption, current, member)
    return redemption


def _replay(existing: Redemption, actor: Person, merchant: Merchant) -> Redemption:
    """A retried request returns its redemption; a key of someone else's redemption is refused."""
    if existing.merchant_id != merchant.pk or existing.created_by_id != actor.pk:
        raise ConflictError("timebank.key.reused", _("该幂等键已用于另一笔操作。"))
    return existing


def _tell_member(redemption: Redemption, merchant: Merchant, member: Person) -> None:
    """The member's side of "the system confirms both sides": an inbox message in their
    language (external channels are sent after the commit by huzhu.notify)."""
    from huzhu.notify import actions as notify_actions
    from huzhu.notify.render import render_event

    title, body = render_event(
        REDEEMED_EVENT,
        member,
        merchant=merchant.name,
        purchase=format_fen(redemption.purchase_fen),
        points=format_points(redemption.points),
        discount=format_fen(redemption.discount_fen),
        pay=format_fen(redemption.purchase_fen - redemption.discount_fen),
        at=redemption.created_at,
    )
    notify_actions.notify(
        person=member,
        code=REDEEMED_EVENT,
        title=title,
        body=body,
        key=f"redemption:{redemption.pk}:member",
        community=merchant.community,
        link=reverse("timebank:redemption_detail", args=[redemption.pk]),
    )


# --- monthly reconciliation ------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month(day: dt.date) -> dt.date:
    return month_start(month_start(day) - dt.timedelta(days=1))


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a month in the installation's time zone."""
    first = month_start(month)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min), tz)
    end = timezone.make_aware(dt.datetime.combine(_next_month(first), dt.time.min), tz)
    return start, end


def fee_of(spending_fen: int, fee_percent: Decimal) -> int:
    """spending × fee %, rounded half-up to the fen (1,000,000 fen at 3 % → 30,000 fen)."""
    fee = (Decimal(spending_fen) * Decimal(fee_percent) / Decimal(100)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return int(fee)


def month_redemptions(merchant: Merchant, month: dt.date) -> QuerySet[Redemption]:
    """The month's redemptions that count: reversed ones are excluded."""
    start, end = month_bounds(month)
    return Redemption.objects.filter(
        merchant=merchant,
        created_at__gte=start,
        created_at__lt=end,
        transaction__reversed_by__isnull=True,
    )


def reconcile_merchant_month(
    *, actor: Person | None, merchant: Merchant, month: dt.date
) -> MerchantStatement:
    """A merchant's statement for a finished month (DOMAIN.md: monthly reconciliation before
    the 5th; 10,000 yuan of member spending at 3 % → 300 yuan fee). Once per merchant and month:
    a replay returns the existing statement. The fee is computed per fee rate the redemptions
    were made under (their snapshot) and summed; the statement shows the latest rate."""
    first = month_start(month)
    if actor is not None:
        policy.require(actor, RECONCILE, merchant)
    existing = MerchantStatement.objects.filter(merchant=merchant, month=first).first()
    if existing is not None:
        return existing
    if first >= month_start(clock.today()):
        raise DomainError(
            "timebank.statement.month_open",
            _("只能对已结束的月份对账。"),
            details={"field": "month"},
        )
    rows = list(
        month_redemptions(merchant, first)
        .values("fee_percent")
        .annotate(
            n=Count("pk"),
            spending=Sum("purchase_fen"),
            discount=Sum("discount_fen"),
            points=Sum("points"),
        )
        .order_by("fee_percent")
    )
    count = sum(r["n"] for r in rows)
    spending = sum(int(r["spending"] or 0) for r in rows)
    discount = sum(int(r["discount"] or 0) for r in rows)
    points = sum(int(r["points"] or 0) for r in rows)
    fee_fen = sum(fee_of(int(r["spending"] or 0), r["fee_percent"]) for r in rows)
    latest = month_redemptions(merchant, first).order_by("-created_at", "-pk").first()
    if latest is not None:
        fee_percent = latest.fee_percent
    else:
        _start, end = month_bounds(first)
        agreement = agreement_in_force(merchant, (end - dt.timedelta(days=1)).date())
        fee_percent = agreement.fee_percent if agreement is not None else Decimal("0")
    with transaction.atomic():
        try:
            with transaction.atomic():
                statement = MerchantStatement.objects.create(
                    merchant=merchant,
                    month=first,
                    redemptions=count,
                    spending_fen=spending,
                    discount_fen=discount,
                    points=points,
                    fee_percent=fee_percent,
                    fee_fen=fee_fen,
                    created_by=actor,
                    created_at=clock.now(),
                )
        except IntegrityError:
            return MerchantStatement.objects.get(merchant=merchant, month=first)
        record(
            "timebank.merchant.statement_created",
            actor=actor,
            target=statement,
            community=merchant.community,
            new={
                "merchant": merchant.pk,
                "month": first.isoformat(),
                "redemptions": count,
                "spending_fen": spending,
                "discount_fen": discount,
                "points": points,
                "fee_percent": str(fee_percent),
                "fee_fen": fee_fen,
            },
        )
    return statement


def reconcile_all_merchants(*, month: dt.date | None = None) -> list[MerchantStatement]:
    """Every merchant's statement for ``month`` (default: the previous month) by the system;
    idempotent, so it may run every day from the 1st until the 5th and after."""
    target = month_start(month) if month is not None else previous_month(clock.today())
    _start, end = month_bounds(target)
    statements = []
    # A merchant signed up after that month has nothing to reconcile for it.
    merchants = Merchant.objects.filter(created_at__lt=end).select_related("community")
    for merchant in merchants.order_by("pk"):
        statements.append(reconcile_merchant_month(actor=None, merchant=merchant, month=target))
    return statements
