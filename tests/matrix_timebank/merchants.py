"""Permission-matrix rules for the time bank's merchants routes (see tests/matrix_common.py).

Objects: ``tb_merchant`` is a merchant with an agreement in force; in the cast's community its
staff is the cast's merchant and the resident has 100 points, in the other community its staff
is a merchant of that community. ``tb_redemption`` is a redemption at such a merchant (by the
resident in the cast's community, by a member of the other community there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import BH, DA, EVERYONE, FO, MERCHANT, Rule

OTHER_STAFF_PHONE = "13700000091"
OTHER_MEMBER_PHONE = "13700000092"


def _person(community: Any, name: str, phone: str, role: str | None = None) -> Any:
    from huzhu.accounts.models import Person, RoleGrant

    p = Person.objects.filter(phone_hash=_hash(phone)).first()
    if p is not None:
        return p
    p = Person(name=name, community=community)
    p.set_phone(phone)
    p.set_unusable_password()
    p.save()
    if role:
        RoleGrant.objects.create(person=p, role=role, scope_kind="community", community=community)
    return p


def _hash(phone: str) -> str:
    from huzhu.accounts import pii

    return pii.phone_index(phone)


def _merchant(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.timebank.tests.test_merchants import give_points, make_merchant

    if own:
        merchant = make_merchant(cast)
        give_points(cast.resident, 100_00)
        return merchant
    staff = _person(world.other_community, "外区店员", OTHER_STAFF_PHONE, "merchant")
    merchant = make_merchant(cast, world.other_community, staff=staff)
    return merchant


def _redemption(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.timebank import qr
    from huzhu.timebank.actions import merchants as m
    from huzhu.timebank.tests.test_merchants import give_points

    merchant = _merchant(world, cast, own)
    if own:
        member, staff = cast.resident, cast.merchant
    else:
        member = _person(world.other_community, "外区会员", OTHER_MEMBER_PHONE)
        give_points(member, 10_00)
        staff = merchant.staff.get()
    return m.redeem(
        actor=staff,
        merchant=merchant,
        token=qr.make_token(member),
        purchase_fen=6000,
        key=f"matrix-{merchant.pk}",
    )


def _new_staff(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    community = world.community if own else world.other_community
    _person(community, "新店员", "13700000093", "merchant")
    return {"phone": "13700000093", "key": "matrix-staff", "idempotency_key": "matrix-staff"}


def _staff_of(world: Any, cast: Any, own: bool) -> int:
    if own:
        return int(cast.merchant.pk)
    return int(_person(world.other_community, "外区店员", OTHER_STAFF_PHONE, "merchant").pk)


def _last_month() -> str:
    from huzhu.core import clock
    from huzhu.timebank.actions.merchants import previous_month

    return f"{previous_month(clock.today()):%Y-%m}"


def _till_data(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    from huzhu.timebank import qr

    return {
        "token": qr.make_token(cast.resident),
        "purchase_fen": 6000,
        "idempotency_key": "matrix-redeem",
    }


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "tb_merchant": _merchant,
    "tb_redemption": _redemption,
}

MANAGERS = frozenset({BH, DA})
RECONCILERS_AND_STAFF = frozenset({BH, FO, DA, MERCHANT, "outsider"})
SEES_REDEMPTION = frozenset({"resident", MERCHANT, BH, DA, FO})

PAGE_RULES: dict[str, Rule] = {
    "timebank:merchant_list": Rule(None, frozenset({BH, DA, "outsider"}), other_param="community"),
    "timebank:merchant_create": Rule(None, frozenset({BH, DA, "outsider"})),
    "timebank:merchant_mine": Rule(None, frozenset({MERCHANT})),
    "timebank:merchant_statements": Rule(None, RECONCILERS_AND_STAFF, other_param="community"),
    "timebank:merchant_statements_export": Rule(
        None, RECONCILERS_AND_STAFF, other_param="community"
    ),
    "timebank:merchant_statements_make": Rule(
        None,
        frozenset({BH, FO, DA, "outsider"}),
        method="POST",
        data=lambda w, c, own: {"month": _last_month()},
    ),
    "timebank:merchant_detail": Rule("tb_merchant", MANAGERS),
    "timebank:merchant_edit": Rule("tb_merchant", MANAGERS),
    "timebank:merchant_status": Rule(
        "tb_merchant", MANAGERS, method="POST", data=lambda w, c, own: {"action": "suspend"}
    ),
    "timebank:merchant_agreement": Rule("tb_merchant", MANAGERS),
    "timebank:merchant_staff_add": Rule("tb_merchant", MANAGERS, method="POST", data=_new_staff),
    "timebank:merchant_staff_remove": Rule(
        "tb_merchant",
        MANAGERS,
        method="POST",
        data=lambda w, c, own: {"person": _staff_of(w, c, own)},
    ),
    "timebank:redeem": Rule("tb_merchant", frozenset({MERCHANT})),
    "timebank:redemption_detail": Rule("tb_redemption", SEES_REDEMPTION),
    "timebank:my_qr": Rule(None, EVERYONE),
}

API_RULES: dict[str, Rule] = {
    "GET /api/v1/timebank/merchants": Rule(
        None, frozenset({BH, DA, "outsider"}), other_param="community"
    ),
    "POST /api/v1/timebank/merchants": Rule(
        "community",
        MANAGERS,
        method="POST",
        data=lambda w, c, own: {
            "community_id": (w.community if own else w.other_community).pk,
            "name": "矩阵商户",
            "idempotency_key": "matrix-create",
        },
    ),
    "GET /api/v1/timebank/merchants/{merchant_id}": Rule("tb_merchant", MANAGERS),
    "PATCH /api/v1/timebank/merchants/{merchant_id}": Rule(
        "tb_merchant",
        MANAGERS,
        method="PATCH",
        data=lambda w, c, own: {"category": "餐饮", "idempotency_key": "matrix-edit"},
    ),
    "POST /api/v1/timebank/merchants/{merchant_id}/status": Rule(
        "tb_merchant",
        MANAGERS,
        method="POST",
        data=lambda w, c, own: {"status": "suspended", "idempotency_key": "matrix-status"},
    ),
    "POST /api/v1/timebank/merchants/{merchant_id}/agreements": Rule(
        "tb_merchant",
        MANAGERS,
        method="POST",
        data=lambda w, c, own: {"fee_percent": "4", "idempotency_key": "matrix-agreement"},
    ),
    "POST /api/v1/timebank/merchants/{merchant_id}/staff": Rule(
        "tb_merchant", MANAGERS, method="POST", data=_new_staff
    ),
    "POST /api/v1/timebank/merchants/{merchant_id}/staff/remove": Rule(
        "tb_merchant",
        MANAGERS,
        method="POST",
        data=lambda w, c, own: {
            "person_id": _staff_of(w, c, own),
            "idempotency_key": "matrix-unstaff",
        },
    ),
    "GET /api/v1/timebank/me/payment-code": Rule(None, EVERYONE),
    "POST /api/v1/timebank/merchants/{merchant_id}/redemptions/preview": Rule(
        "tb_merchant", frozenset({MERCHANT}), method="POST", data=_till_data
    ),
    "POST /api/v1/timebank/merchants/{merchant_id}/redemptions": Rule(
        "tb_merchant", frozenset({MERCHANT}), method="POST", data=_till_data
    ),
    "GET /api/v1/timebank/merchants/{merchant_id}/redemptions": Rule(
        "tb_merchant", frozenset({BH, DA, FO, MERCHANT})
    ),
    "GET /api/v1/timebank/redemptions/{redemption_id}": Rule("tb_redemption", SEES_REDEMPTION),
    "GET /api/v1/timebank/merchant-statements": Rule(
        None, RECONCILERS_AND_STAFF, other_param="community"
    ),
    "POST /api/v1/timebank/merchants/{merchant_id}/statements": Rule(
        "tb_merchant",
        frozenset({BH, FO, DA}),
        method="POST",
        data=lambda w, c, own: {"month": _last_month(), "idempotency_key": "matrix-month"},
    ),
}
