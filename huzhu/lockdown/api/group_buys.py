"""Group buying API: group buys: open, read, the transitions, shortages and substitutions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status as Reply

from huzhu.accounts.api.schemas import PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, paginate
from huzhu.core.errors import DomainError
from huzhu.lockdown import actions
from huzhu.lockdown.api.common import (
    ArriveIn,
    AssignIn,
    AssignOut,
    BillIn,
    CancelIn,
    GroupBuyDetailOut,
    GroupBuyIn,
    GroupBuyOut,
    GroupBuyPage,
    GroupBuyQuery,
    KeyIn,
    ShortageIn,
    ShortageOut,
    SubstitutionIn,
    SubstitutionOut,
    _gb_detail,
    _gb_fields,
    _group_buy,
    _in,
    _visible_group_buys,
    actor_of,
    key_of,
    router,
)
from huzhu.lockdown.models import (
    GroupBuy,
    GroupBuyItem,
    GroupBuyState,
    Shortage,
    Substitution,
)
from huzhu.orgs.models import Building, Community, Group

# --- group buys ------------------------------------------------------------------------------


@router.get(
    "lockdown/group-buys",
    response={200: GroupBuyPage, **ERRORS},
    operation_id="huzhu_lockdown_api_list_group_buys",
)
def list_group_buys(request: HttpRequest, q: Query[GroupBuyQuery]) -> GroupBuyPage:
    """Group buys I run or may see, and the open (or later) ones of my building, the latest
    deadline first."""
    actor = actor_of(request)
    qs = _visible_group_buys(actor)
    if q.state:
        if q.state not in GroupBuyState.values:
            raise DomainError(
                "lockdown.filter.state", _("状态筛选条件无效。"), details={"field": "state"}
            )
        qs = qs.filter(state=q.state)
    rows, meta = paginate(qs.order_by("-deadline", "-pk").prefetch_related("buildings"), q)
    return GroupBuyPage(items=[GroupBuyOut(**_gb_fields(gb)) for gb in rows], meta=meta)


@router.post(
    "lockdown/group-buys",
    response={200: GroupBuyDetailOut, 201: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_open_group_buy",
)
def open_group_buy(request: HttpRequest, payload: GroupBuyIn) -> Reply[GroupBuyDetailOut]:
    """Open a group buy (团长: "lockdown.run_group_buy" on its group or community). 201; a
    replay of the key answers 200 with the same buy."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    community = get_object_or_404(Community, pk=payload.community_id)
    replay = GroupBuy.objects.filter(leader=actor, open_key=key).exists()
    buildings = list(Building.objects.filter(pk__in=payload.building_ids))
    if len(buildings) != len(set(payload.building_ids)):
        raise DomainError(
            "lockdown.group_buy.building_community",
            _("楼栋不属于该社区。"),
            details={"field": "building_ids"},
        )
    gb = actions.open_group_buy(
        actor=actor,
        community=community,
        group=_in(Group, payload.group_id, community.pk),
        logistics_group=_in(Group, payload.logistics_group_id, community.pk),
        title=payload.title,
        supplier_name=payload.supplier_name,
        supplier_contact=payload.supplier_contact,
        deadline=payload.deadline,
        delivery_date=payload.delivery_date,
        buildings=buildings,
        items=[actions.ItemSpec(**i.dict()) for i in payload.items],
        key=key,
        draft=payload.draft,
    )
    return Reply(200 if replay else 201, _gb_detail(actor, gb))


@router.get(
    "lockdown/group-buys/{int:group_buy_id}",
    response={200: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_get_group_buy",
)
def get_group_buy(request: HttpRequest, group_buy_id: PathId) -> GroupBuyDetailOut:
    """A group buy with its items and what is left of each, and my household's order."""
    actor = actor_of(request)
    return _gb_detail(actor, _group_buy(actor, group_buy_id))


def _transition(
    request: HttpRequest, group_buy_id: int, key: str | None, do: Any
) -> GroupBuyDetailOut:
    actor = actor_of(request)
    key_of(request, key)
    gb = _group_buy(actor, group_buy_id)
    return _gb_detail(actor, do(actor, gb))


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/publish",
    response={200: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_publish_group_buy",
)
def publish_group_buy(
    request: HttpRequest, group_buy_id: PathId, payload: KeyIn
) -> GroupBuyDetailOut:
    """A draft goes live (draft → open)."""
    return _transition(
        request,
        group_buy_id,
        payload.idempotency_key,
        lambda a, gb: actions.publish_group_buy(actor=a, group_buy=gb),
    )


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/close",
    response={200: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_close_group_buy",
)
def close_group_buy(
    request: HttpRequest, group_buy_id: PathId, payload: KeyIn
) -> GroupBuyDetailOut:
    """Stop taking orders (截单); items below their minimum are not bought and refunded."""
    return _transition(
        request,
        group_buy_id,
        payload.idempotency_key,
        lambda a, gb: actions.close_group_buy(actor=a, group_buy=gb),
    )


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/cancel",
    response={200: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_cancel_group_buy",
)
def cancel_group_buy(
    request: HttpRequest, group_buy_id: PathId, payload: CancelIn
) -> GroupBuyDetailOut:
    """Call the buy off before the goods arrive (no payment recorded yet)."""
    return _transition(
        request,
        group_buy_id,
        payload.idempotency_key,
        lambda a, gb: actions.cancel_group_buy(actor=a, group_buy=gb, reason=payload.reason),
    )


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/arrive",
    response={200: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_mark_arrived",
)
def mark_arrived(
    request: HttpRequest, group_buy_id: PathId, payload: ArriveIn
) -> GroupBuyDetailOut:
    """The goods arrived (closed → arrived): a delivery per household order."""
    return _transition(
        request,
        group_buy_id,
        payload.idempotency_key,
        lambda a, gb: actions.mark_arrived(
            actor=a, group_buy=gb, supplier_bill_fen=payload.supplier_bill_fen
        ),
    )


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/bill",
    response={200: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_record_supplier_bill",
)
def record_supplier_bill(
    request: HttpRequest, group_buy_id: PathId, payload: BillIn
) -> GroupBuyDetailOut:
    """Record the supplier's bill (fen) for reconciliation."""
    return _transition(
        request,
        group_buy_id,
        payload.idempotency_key,
        lambda a, gb: actions.record_supplier_bill(
            actor=a, group_buy=gb, amount_fen=payload.amount_fen
        ),
    )


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/finish",
    response={200: GroupBuyDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_finish_group_buy",
)
def finish_group_buy(
    request: HttpRequest, group_buy_id: PathId, payload: KeyIn
) -> GroupBuyDetailOut:
    """Every order delivered: delivering → done."""
    return _transition(
        request,
        group_buy_id,
        payload.idempotency_key,
        lambda a, gb: actions.finish_group_buy(actor=a, group_buy=gb),
    )


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/assign-deliveries",
    response={200: AssignOut, **ERRORS},
    operation_id="huzhu_lockdown_api_assign_deliveries",
)
def assign_deliveries(request: HttpRequest, group_buy_id: PathId, payload: AssignIn) -> AssignOut:
    """Give each building's deliveries to a logistics volunteer (fair by load)."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    gb = _group_buy(actor, group_buy_id)
    volunteers = None
    if payload.volunteer_ids is not None:
        volunteers = list(Person.objects.filter(pk__in=payload.volunteer_ids))
        if len(volunteers) != len(set(payload.volunteer_ids)):
            raise DomainError(
                "lockdown.delivery.volunteer_community",
                _("志愿者不存在。"),
                details={"field": "volunteer_ids"},
            )
    plan = actions.assign_deliveries(actor=actor, group_buy=gb, volunteers=volunteers)
    gb.refresh_from_db(fields=["state"])
    return AssignOut(assigned={str(b): v for b, v in plan.items()}, state=gb.state)


# --- shortages and substitutions -------------------------------------------------------------


def _item(gb: GroupBuy, pk: int) -> GroupBuyItem:
    item = GroupBuyItem.objects.filter(group_buy=gb, pk=pk).first()
    if item is None:
        raise DomainError(
            "lockdown.shortage.item", _("商品不属于该团购。"), details={"field": "item_id"}
        )
    return item


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/shortages",
    response={200: ShortageOut, 201: ShortageOut, **ERRORS},
    operation_id="huzhu_lockdown_api_record_shortage",
)
def record_shortage(
    request: HttpRequest, group_buy_id: PathId, payload: ShortageIn
) -> Reply[ShortageOut]:
    """Record a shortage; the last orders of the item are refunded first."""
    from django.db.models import Count, Sum

    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    gb = _group_buy(actor, group_buy_id)
    replay = Shortage.objects.filter(group_buy=gb, key=key).exists()
    s = actions.record_shortage(
        actor=actor,
        group_buy=gb,
        item=_item(gb, payload.item_id),
        quantity=payload.quantity,
        reason=payload.reason,
        note=payload.note,
        key=key,
    )
    agg = s.refunds.aggregate(n=Count("pk"), fen=Sum("amount_fen"))
    out = ShortageOut(
        id=s.pk,
        item_id=s.item_id,
        quantity=s.quantity,
        reason=s.reason,
        households=int(agg["n"] or 0),
        refund_fen=int(agg["fen"] or 0),
    )
    return Reply(200 if replay else 201, out)


@router.post(
    "lockdown/group-buys/{int:group_buy_id}/substitutions",
    response={200: SubstitutionOut, 201: SubstitutionOut, **ERRORS},
    operation_id="huzhu_lockdown_api_record_substitution",
)
def record_substitution(
    request: HttpRequest, group_buy_id: PathId, payload: SubstitutionIn
) -> Reply[SubstitutionOut]:
    """Record that an item was replaced by another product at the same price."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    gb = _group_buy(actor, group_buy_id)
    replay = Substitution.objects.filter(group_buy=gb, key=key).exists()
    s = actions.record_substitution(
        actor=actor,
        group_buy=gb,
        item=_item(gb, payload.item_id),
        substitute=payload.substitute,
        note=payload.note,
        key=key,
    )
    return Reply(
        200 if replay else 201,
        SubstitutionOut(id=s.pk, item_id=s.item_id, substitute=s.substitute),
    )
