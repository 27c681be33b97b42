"""What the group-buy actions share: locks, keys, text and the checks of where a person stands."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person
from huzhu.core.errors import ConflictError, DomainError
from huzhu.lockdown.models import GroupBuy, GroupBuyState

S = GroupBuyState
RUN = "lockdown.run_group_buy"
VIEW = "lockdown.view_group_buy"
PAY = "lockdown.record_payment"
ORDER_FOR = "lockdown.order_for"
KEY_MAX = 128


def clean_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > KEY_MAX:
        raise DomainError(
            "lockdown.key.invalid",
            _("缺少幂等键，或幂等键超过 128 个字符。"),
            details={"field": "idempotency_key"},
        )
    return key


def clean_text(value: str, field: str, limit: int, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError("lockdown.field.required", _("此项为必填项。"), details={"field": field})
    if len(value) > limit or "\x00" in value:
        raise DomainError(
            "lockdown.field.too_long",
            _("内容过长（最多 %(limit)s 个字）。") % {"limit": limit},
            details={"field": field},
        )
    return value


def positive_int(value: object, field: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise DomainError(
            "lockdown.number.invalid",
            _("必须是正整数。") if not allow_zero else _("必须是非负整数。"),
            details={"field": field},
        )
    if value > 2_000_000_000:
        raise DomainError("lockdown.number.too_large", _("数值过大。"), details={"field": field})
    return value


def lock_group_buy(group_buy: GroupBuy) -> GroupBuy:
    """The group buy re-read under a row lock: its transitions are serialized."""
    return (
        GroupBuy.objects.select_for_update(of=("self",))
        .select_related("community", "group")
        .get(pk=group_buy.pk)
    )


def bad_state(group_buy: GroupBuy) -> ConflictError:
    return ConflictError(
        "lockdown.group_buy.bad_state",
        _("团购当前状态为“%(state)s”，不能进行此操作。")
        % {"state": GroupBuyState(group_buy.state).label},
        details={"state": group_buy.state},
    )


def require_state(group_buy: GroupBuy, *states: str) -> None:
    if group_buy.state not in states:
        raise bad_state(group_buy)


def covers(group_buy: GroupBuy, building_id: int) -> bool:
    return group_buy.buildings.filter(pk=building_id).exists()


def may_view(actor: Person, group_buy: GroupBuy) -> bool:
    """Residents of a covered building see an open (or later) group buy; the leaders and
    viewers see it in every state."""
    if policy.can(actor, VIEW, group_buy) or policy.can(actor, RUN, group_buy):
        return True
    if group_buy.state == S.DRAFT:
        return False
    household_id = actor.household_id
    if household_id is None or actor.community_id != group_buy.community_id:
        return False
    return group_buy.buildings.filter(households__pk=household_id).exists()


def require_view(actor: Person, group_buy: GroupBuy) -> None:
    if may_view(actor, group_buy):
        return
    policy.require(actor, VIEW, group_buy)


def require_household(actor: Person, household: Household) -> bool:
    """A person acts for their own household; anybody else needs "lockdown.order_for" on it.
    Return whether it is on someone else's behalf."""
    if actor.household_id == household.pk:
        return False
    policy.require(actor, ORDER_FOR, household)
    return True


def not_found() -> Http404:
    return Http404()
