"""Time bank API: merchants — sign up, edit, suspend, agreements, staff (branch head); the
member's payment code; preview and redeem at the till (merchant staff); redemptions; monthly
statements and reconciliation (finance officer, branch head; staff see their own merchant's).

Operations register on huzhu.timebank.api.common.router. 404 outside the actor's scope, 403
inside it without the permission. Every write takes an idempotency key (header
``Idempotency-Key``, or the body field ``idempotency_key``); a replay does nothing twice."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.core.api import ERRORS, PageIn, idempotency_key, paginate
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Community
from huzhu.timebank import qr
from huzhu.timebank.actions import merchants as actions
from huzhu.timebank.actions.ledger import person_account
from huzhu.timebank.actions.merchants import MANAGE, RECONCILE, REDEEM, mask_name
from huzhu.timebank.api.common import actor_of, router
from huzhu.timebank.api.schemas_merchants import (
    AgreementIn,
    AgreementOut,
    MerchantDetailOut,
    MerchantIn,
    MerchantPage,
    MerchantPatch,
    MerchantQuery,
    PaymentCodeOut,
    PreviewIn,
    PreviewOut,
    ReconcileIn,
    RedeemIn,
    RedemptionOut,
    RedemptionPage,
    StaffIn,
    StaffOut,
    StaffRemoveIn,
    StatementOut,
    StatementPage,
    StatementQuery,
    StatusIn,
    agreement_out,
    merchant_out,
    redemption_out,
    statement_out,
)
from huzhu.timebank.forms.merchants import parse_month
from huzhu.timebank.models import (
    Merchant,
    MerchantAgreement,
    MerchantStatement,
    MerchantStatus,
    Redemption,
)


def _key(request: HttpRequest, field: str | None) -> str:
    key = idempotency_key(request, field)
    if len(key) > actions.MAX_KEY_LENGTH:
        raise DomainError("timebank.key.too_long", _("幂等键过长。"))
    return key


def _merchant(actor: Person, merchant_id: int, perm: str) -> Merchant:
    merchant: Merchant = get_object_or_404(
        Merchant.objects.select_related("community__alliance", "account"), pk=merchant_id
    )
    policy.require(actor, perm, merchant)
    return merchant


def _community(actor: Person, community_id: int, perm: str) -> Community:
    community: Community = get_object_or_404(
        Community.objects.select_related("alliance"), pk=community_id
    )
    policy.require(actor, perm, community)
    return community


def _detail(merchant: Merchant) -> MerchantDetailOut:
    agreement = actions.agreement_in_force(merchant, clock.today())
    base = merchant_out(merchant, agreement)
    return MerchantDetailOut(
        **base.dict(),
        agreements=[agreement_out(a) for a in merchant.agreements.all()],
        staff=[StaffOut(id=p.pk, name=p.name) for p in merchant.staff.order_by("name", "pk")],
    )


def _replay_of(code: str, actor: Person, key: str) -> bool:
    from huzhu.audit.models import AuditEntry

    return AuditEntry.objects.filter(
        code=code, actor=actor, new_values__idempotency_key=key
    ).exists()


# --- merchants -------------------------------------------------------------------------------


@router.get(
    "timebank/merchants",
    response={200: MerchantPage, **ERRORS},
    operation_id="huzhu_timebank_api_list_merchants",
)
def list_merchants(request: HttpRequest, q: Query[MerchantQuery]) -> MerchantPage:
    """Merchants I manage, by name; filter by community and status."""
    actor = actor_of(request)
    qs = policy.visible_to(actor, MANAGE, Merchant.objects.all())
    if q.community is not None:
        qs = qs.filter(community=_community(actor, q.community, MANAGE))
    elif not policy.can_anywhere(actor, MANAGE):
        raise PermissionDenied(MANAGE)
    if q.q.strip():
        qs = qs.filter(name__icontains=q.q.strip())
    if q.status is not None:
        qs = qs.filter(status=q.status)
    qs = actions.with_agreement_in_force(
        qs.select_related("account").order_by("name", "pk"), clock.today()
    )
    rows, meta = paginate(qs, q)
    return MerchantPage(
        items=[merchant_out(m, m.in_force[0] if m.in_force else None) for m in rows], meta=meta
    )


@router.post(
    "timebank/merchants",
    response={200: MerchantDetailOut, 201: MerchantDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_create_merchant",
)
def create_merchant(request: HttpRequest, payload: MerchantIn) -> Reply[MerchantDetailOut]:
    """Sign a merchant up (opens its point account). A replay answers 200 with the same one."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    community = _community(actor, payload.community_id, MANAGE)
    replay = _replay_of("timebank.merchant.created", actor, key)
    merchant = actions.create_merchant(
        actor=actor,
        community=community,
        name=payload.name,
        category=payload.category,
        address=payload.address,
        phone=payload.phone,
        key=key,
    )
    return Reply(200 if replay else 201, _detail(merchant))


@router.get(
    "timebank/merchants/{int:merchant_id}",
    response={200: MerchantDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_get_merchant",
)
def get_merchant(request: HttpRequest, merchant_id: PathId) -> MerchantDetailOut:
    """One merchant with its agreements and staff."""
    return _detail(_merchant(actor_of(request), merchant_id, MANAGE))


@router.patch(
    "timebank/merchants/{int:merchant_id}",
    response={200: MerchantDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_update_merchant",
)
def update_merchant(
    request: HttpRequest, merchant_id: PathId, payload: MerchantPatch
) -> MerchantDetailOut:
    """Edit name and contact details (fields left out keep their value)."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    merchant = _merchant(actor, merchant_id, MANAGE)
    merchant = actions.update_merchant(
        actor=actor,
        merchant=merchant,
        name=payload.name if payload.name is not None else merchant.name,
        category=payload.category if payload.category is not None else merchant.category,
        address=payload.address if payload.address is not None else merchant.address,
        phone=payload.phone if payload.phone is not None else merchant.phone,
        key=key,
    )
    return _detail(_merchant(actor, merchant.pk, MANAGE))


@router.post(
    "timebank/merchants/{int:merchant_id}/status",
    response={200: MerchantDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_set_merchant_status",
)
def set_merchant_status(
    request: HttpRequest, merchant_id: PathId, payload: StatusIn
) -> MerchantDetailOut:
    """Suspend (``suspended``) or reactivate (``active``) a merchant."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    merchant = _merchant(actor, merchant_id, MANAGE)
    if payload.status == MerchantStatus.SUSPENDED:
        actions.suspend_merchant(actor=actor, merchant=merchant, key=key)
    else:
        actions.reactivate_merchant(actor=actor, merchant=merchant, key=key)
    return _detail(_merchant(actor, merchant.pk, MANAGE))


@router.post(
    "timebank/merchants/{int:merchant_id}/agreements",
    response={200: AgreementOut, 201: AgreementOut, **ERRORS},
    operation_id="huzhu_timebank_api_sign_agreement",
)
def sign_agreement(
    request: HttpRequest, merchant_id: PathId, payload: AgreementIn
) -> Reply[AgreementOut]:
    """Record a signed agreement; the fee lies within the community's range (3–5 %)."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    merchant = _merchant(actor, merchant_id, MANAGE)
    replay = _replay_of("timebank.merchant.agreement_signed", actor, key)
    agreement: MerchantAgreement = actions.sign_agreement(
        actor=actor,
        merchant=merchant,
        fee_percent=payload.fee_percent,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        reference=payload.reference,
        key=key,
    )
    return Reply(200 if replay else 201, agreement_out(agreement))


@router.post(
    "timebank/merchants/{int:merchant_id}/staff",
    response={200: StaffOut, 201: StaffOut, **ERRORS},
    operation_id="huzhu_timebank_api_add_merchant_staff",
)
def add_merchant_staff(
    request: HttpRequest, merchant_id: PathId, payload: StaffIn
) -> Reply[StaffOut]:
    """List a person (by phone; role merchant in the community) as the merchant's staff."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    merchant = _merchant(actor, merchant_id, MANAGE)
    replay = _replay_of("timebank.merchant.staff_added", actor, key)
    person = actions.add_staff(actor=actor, merchant=merchant, phone=payload.phone, key=key)
    return Reply(200 if replay else 201, StaffOut(id=person.pk, name=person.name))


@router.post(
    "timebank/merchants/{int:merchant_id}/staff/remove",
    response={200: MerchantDetailOut, **ERRORS},
    operation_id="huzhu_timebank_api_remove_merchant_staff",
)
def remove_merchant_staff(
    request: HttpRequest, merchant_id: PathId, payload: StaffRemoveIn
) -> MerchantDetailOut:
    """Take a person off the merchant's staff."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    merchant = _merchant(actor, merchant_id, MANAGE)
    if not _replay_of("timebank.merchant.staff_removed", actor, key):
        person = get_object_or_404(merchant.staff.all(), pk=payload.person_id)
        actions.remove_staff(actor=actor, merchant=merchant, person=person, key=key)
    return _detail(merchant)


# --- paying with points ----------------------------------------------------------------------


@router.get(
    "timebank/me/payment-code",
    response={200: PaymentCodeOut, **ERRORS},
    operation_id="huzhu_timebank_api_my_payment_code",
)
def my_payment_code(request: HttpRequest) -> PaymentCodeOut:
    """A fresh single-use payment code (valid ``expires_in`` seconds) with its QR as SVG, and my
    balance and available points (hundredths)."""
    actor = actor_of(request)
    token = qr.make_token(actor)
    account = person_account(actor)
    return PaymentCodeOut(
        token=token,
        expires_in=qr.TOKEN_TTL_SECONDS,
        svg=qr.qr_svg(token),
        balance=account.balance,
        available=account.available,
    )


def _till(actor: Person, merchant_id: int) -> Merchant:
    merchant = _merchant(actor, merchant_id, REDEEM)
    if not merchant.staff.filter(pk=actor.pk).exists():
        raise PermissionDenied(REDEEM)
    return merchant


@router.post(
    "timebank/merchants/{int:merchant_id}/redemptions/preview",
    response={200: PreviewOut, **ERRORS},
    operation_id="huzhu_timebank_api_preview_redemption",
)
def preview_redemption(request: HttpRequest, merchant_id: PathId, payload: PreviewIn) -> PreviewOut:
    """What a redemption would be (nothing is written): masked member name, discount, points,
    amount to pay. Refused like the redemption itself (used or expired code, no points…)."""
    actor = actor_of(request)
    merchant = _till(actor, merchant_id)
    p = actions.preview_redemption(
        actor=actor, merchant=merchant, token=payload.token, purchase_fen=payload.purchase_fen
    )
    return PreviewOut(
        merchant_id=merchant.pk,
        member_name=p.member_name,
        purchase_fen=p.purchase_fen,
        discount_fen=p.discount_fen,
        points=p.points,
        pay_fen=p.pay_fen,
        available=p.available,
        fee_percent=str(p.fee_percent),
    )


@router.post(
    "timebank/merchants/{int:merchant_id}/redemptions",
    response={200: RedemptionOut, 201: RedemptionOut, **ERRORS},
    operation_id="huzhu_timebank_api_redeem",
)
def redeem(request: HttpRequest, merchant_id: PathId, payload: RedeemIn) -> Reply[RedemptionOut]:
    """Redeem a member's code against a purchase (1 point = 3 yuan off, at most 30 yuan per
    purchase by default). 201 when made, 200 for a replay of the same key; a code is used once
    (409)."""
    actor = actor_of(request)
    key = _key(request, payload.idempotency_key)
    merchant = _till(actor, merchant_id)
    replay = Redemption.objects.filter(idempotency_key=key).exists()
    r = actions.redeem(
        actor=actor,
        merchant=merchant,
        token=payload.token,
        purchase_fen=payload.purchase_fen,
        key=key,
    )
    r = Redemption.objects.select_related("merchant", "member", "transaction__reversed_by").get(
        pk=r.pk
    )
    return Reply(200 if replay else 201, redemption_out(r, mask_name(r.member.name)))


def _may_see_redemptions(actor: Person, merchant: Merchant) -> bool:
    return (
        merchant.staff.filter(pk=actor.pk).exists()
        or policy.can(actor, MANAGE, merchant)
        or policy.can(actor, RECONCILE, merchant)
    )


@router.get(
    "timebank/merchants/{int:merchant_id}/redemptions",
    response={200: RedemptionPage, **ERRORS},
    operation_id="huzhu_timebank_api_list_redemptions",
)
def list_redemptions(
    request: HttpRequest, merchant_id: PathId, paging: Query[PageIn]
) -> RedemptionPage:
    """A merchant's redemptions, newest first (its staff, its managers and reconcilers)."""
    actor = actor_of(request)
    merchant: Merchant = get_object_or_404(
        Merchant.objects.select_related("community__alliance"), pk=merchant_id
    )
    if not _may_see_redemptions(actor, merchant):
        policy.require(actor, MANAGE, merchant)
    qs = (
        Redemption.objects.filter(merchant=merchant)
        .select_related("merchant", "member", "transaction__reversed_by")
        .order_by("-created_at", "-pk")
    )
    rows, meta = paginate(qs, paging)
    return RedemptionPage(
        items=[redemption_out(r, mask_name(r.member.name)) for r in rows], meta=meta
    )


@router.get(
    "timebank/redemptions/{int:redemption_id}",
    response={200: RedemptionOut, **ERRORS},
    operation_id="huzhu_timebank_api_get_redemption",
)
def get_redemption(request: HttpRequest, redemption_id: PathId) -> RedemptionOut:
    """One redemption: for the member, the merchant's staff and those who manage or reconcile
    the merchant."""
    actor = actor_of(request)
    r: Redemption = get_object_or_404(
        Redemption.objects.select_related(
            "merchant__community__alliance", "member", "transaction__reversed_by"
        ),
        pk=redemption_id,
    )
    if r.member_id != actor.pk and not _may_see_redemptions(actor, r.merchant):
        policy.require(actor, MANAGE, r.merchant)
    return redemption_out(r, mask_name(r.member.name))


# --- statements ------------------------------------------------------------------------------


def _statement_merchants(actor: Person) -> QuerySet[Merchant]:
    reconciled = policy.visible_to(actor, RECONCILE, Merchant.objects.all())
    return Merchant.objects.filter(Q(pk__in=reconciled.values("pk")) | Q(staff=actor)).distinct()


@router.get(
    "timebank/merchant-statements",
    response={200: StatementPage, **ERRORS},
    operation_id="huzhu_timebank_api_list_merchant_statements",
)
def list_merchant_statements(request: HttpRequest, q: Query[StatementQuery]) -> StatementPage:
    """Monthly statements I reconcile, or of the merchants I work at; filter by community,
    merchant and month (YYYY-MM)."""
    actor = actor_of(request)
    merchants = _statement_merchants(actor)
    if q.community is not None:
        community = get_object_or_404(Community.objects.select_related("alliance"), pk=q.community)
        if not policy.in_scope(actor, community):
            from django.http import Http404

            raise Http404
        merchants = merchants.filter(community=community)
    if not (policy.can_anywhere(actor, RECONCILE) or policy.can_anywhere(actor, REDEEM)):
        raise PermissionDenied(RECONCILE)
    qs = MerchantStatement.objects.filter(merchant__in=merchants.values("pk"))
    if q.merchant is not None:
        qs = qs.filter(merchant_id=q.merchant)
    if q.month:
        month = parse_month(q.month)
        if month is None:
            raise DomainError(
                "timebank.month.invalid", _("月份格式应为 YYYY-MM。"), details={"field": "month"}
            )
        qs = qs.filter(month=month)
    rows, meta = paginate(qs.select_related("merchant").order_by("-month", "merchant__name"), q)
    return StatementPage(items=[statement_out(s) for s in rows], meta=meta)


@router.post(
    "timebank/merchants/{int:merchant_id}/statements",
    response={200: StatementOut, 201: StatementOut, **ERRORS},
    operation_id="huzhu_timebank_api_reconcile_merchant_month",
)
def reconcile_merchant_month(
    request: HttpRequest, merchant_id: PathId, payload: ReconcileIn
) -> Reply[StatementOut]:
    """Make the merchant's statement of a finished month; once per month (a replay answers 200
    with the statement already made)."""
    actor = actor_of(request)
    _key(request, payload.idempotency_key)
    merchant = _merchant(actor, merchant_id, RECONCILE)
    month = parse_month(payload.month)
    if month is None:
        raise DomainError(
            "timebank.month.invalid", _("月份格式应为 YYYY-MM。"), details={"field": "month"}
        )
    existed = MerchantStatement.objects.filter(merchant=merchant, month=month).exists()
    s = actions.reconcile_merchant_month(actor=actor, merchant=merchant, month=month)
    s = MerchantStatement.objects.select_related("merchant").get(pk=s.pk)
    return Reply(200 if existed else 201, statement_out(s))
