"""Group buying API: the supplier's order, the sorting sheets, the .xlsx exports and the
reconciliation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query

from huzhu.accounts.api.schemas import PathId
from huzhu.core.api import ERRORS
from huzhu.core.errors import DomainError
from huzhu.lockdown import exports, queries
from huzhu.lockdown.api.common import (
    XLSX,
    BuildingSheetOut,
    ExportQuery,
    HouseholdRowOut,
    ReconciliationOut,
    SortingQuery,
    SupplierOrderOut,
    SupplierRowOut,
    _staff_group_buy,
    actor_of,
    router,
)

# --- sheets ----------------------------------------------------------------------------------


@router.get(
    "lockdown/group-buys/{int:group_buy_id}/supplier-order",
    response={200: SupplierOrderOut, **ERRORS},
    operation_id="huzhu_lockdown_api_supplier_order",
)
def supplier_order(request: HttpRequest, group_buy_id: PathId) -> SupplierOrderOut:
    """The supplier's aggregated order: item → quantity (net of shortages) and amount."""
    actor = actor_of(request)
    rows = queries.supplier_order(_staff_group_buy(actor, group_buy_id))
    return SupplierOrderOut(
        rows=[SupplierRowOut(**r.__dict__) for r in rows],
        total_fen=sum(r.amount_fen for r in rows),
    )


@router.get(
    "lockdown/group-buys/{int:group_buy_id}/sorting-sheets",
    response={200: list[BuildingSheetOut], **ERRORS},
    operation_id="huzhu_lockdown_api_sorting_sheets",
)
def sorting_sheets(
    request: HttpRequest, group_buy_id: PathId, q: Query[SortingQuery]
) -> list[BuildingSheetOut]:
    """Per building: each household's item quantities (分拣单), and the building's totals."""
    actor = actor_of(request)
    gb = _staff_group_buy(actor, group_buy_id)
    item_ids = list(gb.items.values_list("pk", flat=True))
    return [
        BuildingSheetOut(
            building_id=s.building_id,
            name=s.name,
            households=[
                HouseholdRowOut(
                    order_id=h.order_id,
                    household_id=h.household_id,
                    room=h.room,
                    quantities={str(k): v for k, v in h.quantities.items()},
                    amount_fen=h.amount_fen,
                )
                for h in s.households
            ],
            totals={str(i): s.total(i) for i in item_ids},
        )
        for s in queries.sorting_sheets(gb, building_id=q.building_id)
    ]


@router.get(
    "lockdown/group-buys/{int:group_buy_id}/export",
    response={200: None, **ERRORS},
    operation_id="huzhu_lockdown_api_export",
    openapi_extra={
        "responses": {
            "200": {
                "description": "xlsx",
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def export(request: HttpRequest, group_buy_id: PathId, q: Query[ExportQuery]) -> HttpResponse:
    """The supplier's order, the sorting sheets (a sheet per building) or the labels, .xlsx."""
    actor = actor_of(request)
    gb = _staff_group_buy(actor, group_buy_id)
    make = exports.EXPORTS.get(q.kind)
    if make is None:
        raise DomainError("lockdown.export.kind", _("导出类型无效。"), details={"field": "kind"})
    resp = HttpResponse(make(gb), content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="group-buy-{gb.pk}-{q.kind}.xlsx"'
    return resp


@router.get(
    "lockdown/group-buys/{int:group_buy_id}/reconciliation",
    response={200: ReconciliationOut, **ERRORS},
    operation_id="huzhu_lockdown_api_reconciliation",
)
def reconciliation(request: HttpRequest, group_buy_id: PathId) -> ReconciliationOut:
    """Payments minus refunds against the supplier's bill."""
    actor = actor_of(request)
    return ReconciliationOut(
        **queries.reconciliation(_staff_group_buy(actor, group_buy_id)).__dict__
    )
