"""The group buy's spreadsheets (.xlsx, openpyxl, as the roster export writes them): the
supplier's aggregated order, the sorting sheets (one sheet per building) and the labels.
Strings are protected from formula injection; money is written in yuan as exact decimals
computed from integer fen (never floats in the computation)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from huzhu.accounts.roster.export import safe_cell
from huzhu.lockdown import queries
from huzhu.lockdown.models import GroupBuy, GroupBuyItem

_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def _book(sheets: Iterable[tuple[str, list[Any], Iterable[list[Any]]]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for title, header, rows in sheets:
        name = _BAD_TITLE.sub("_", title)[:31] or "-"
        n = 2
        while name in used:
            name = f"{name[:28]}~{n}"
            n += 1
        used.add(name)
        sheet = workbook.create_sheet(title=name)
        bold = []
        for text in header:
            c = WriteOnlyCell(sheet, value=safe_cell(text))
            c.font = Font(bold=True)
            bold.append(c)
        sheet.append(bold)
        for values in rows:
            sheet.append([safe_cell(v) for v in values])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def supplier_order_xlsx(group_buy: GroupBuy) -> bytes:
    """One row per item: name, unit, unit price, ordered, short, to supply, amount (yuan)."""
    rows = queries.supplier_order(group_buy)
    header = [
        _("商品"),
        _("单位"),
        _("单价（元）"),
        _("订购数量"),
        _("缺货数量"),
        _("供货数量"),
        _("金额（元）"),
    ]
    body = [
        [r.name, r.unit, yuan(r.price_fen), r.ordered, r.short, r.quantity, yuan(r.amount_fen)]
        for r in rows
    ]
    body.append([_("合计"), "", "", "", "", "", yuan(sum(r.amount_fen for r in rows))])
    return _book([(_("供应商订单"), header, body)])


def sorting_sheets_xlsx(group_buy: GroupBuy) -> bytes:
    """One sheet per building: a row per household (room, one column per item, amount) and a
    total row."""
    items = list(GroupBuyItem.objects.filter(group_buy=group_buy).order_by("position", "pk"))
    header = [_("房号"), *[f"{i.name}（{i.unit}）" for i in items], _("金额（元）")]
    sheets = []
    for sheet in queries.sorting_sheets(group_buy):
        body: list[list[Any]] = [
            [h.room, *[h.quantities.get(i.pk, 0) for i in items], yuan(h.amount_fen)]
            for h in sheet.households
        ]
        body.append(
            [
                _("合计"),
                *[sheet.total(i.pk) for i in items],
                yuan(sum(h.amount_fen for h in sheet.households)),
            ]
        )
        sheets.append((sheet.name, header, body))
    if not sheets:
        sheets.append((_("分拣单"), header, []))
    return _book(sheets)


def labels_xlsx(group_buy: GroupBuy) -> bytes:
    header = [_("订单号"), _("楼栋"), _("房号"), _("商品"), _("金额（元）"), _("付款")]
    body = [
        [
            label.order_id,
            label.building,
            label.room,
            label.contents,
            yuan(label.amount_fen),
            _("已付") if label.paid else _("未付"),
        ]
        for label in queries.labels(group_buy)
    ]
    return _book([(_("标签"), header, body)])


EXPORTS = {
    "supplier": supplier_order_xlsx,
    "sorting": sorting_sheets_xlsx,
    "labels": labels_xlsx,
}
