"""Statements: newest first, paged, the running balance after each entry, what each entry was
for (kind, memo, reference, counterparty); the .xlsx export of 我的积分."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from huzhu.timebank import actions
from huzhu.timebank.actions import rules
from huzhu.timebank.queries import statement


def _history(cast: Any, world: Any) -> None:
    actions.credit_service(
        actor=None,
        volunteer=cast.resident,
        hours=Decimal(3),
        community=world.community,
        key="c1",
        reference="need:1",
    )
    rules.pay_for_service(
        actor=cast.resident,
        payer=cast.resident,
        payee=cast.volunteer,
        points=120,
        key="p1",
        reference="need:2",
    )
    rules.penalize_no_show(actor=None, volunteer=cast.resident, community=world.community, key="n")


def test_statement_lines(cast: Any, world: Any) -> None:
    _history(cast, world)
    account = actions.person_account(cast.resident)
    page = statement(account)
    assert page.total == 3
    assert [(ln.amount, ln.running_balance) for ln in page.lines] == [
        (-180, 0),
        (-120, 180),
        (300, 300),
    ]
    penalty, payment, credit = page.lines
    assert penalty.kind_label == "爽约扣分" and penalty.counterparty == "爽约扣分"
    assert payment.kind == "service_payment" and payment.counterparty == cast.volunteer.name
    assert payment.reference == "need:2"
    assert credit.reference == "need:1" and "阳光小区" in credit.counterparty
    assert credit.memo.startswith("服务")
    # Paging keeps the running balance of each line.
    second = statement(account, page=2, page_size=2)
    assert [(ln.amount, ln.running_balance) for ln in second.lines] == [(300, 300)]
    assert statement(account, page=9, page_size=2).lines == []


def test_statement_queries_do_not_grow(cast: Any, world: Any) -> None:
    _history(cast, world)
    account = actions.person_account(cast.resident)
    with CaptureQueriesContext(connection) as few:
        statement(account)
    for i in range(5):
        actions.credit_service(
            actor=None,
            volunteer=cast.resident,
            hours=Decimal(1),
            community=world.community,
            key=f"more-{i}",
        )
    with CaptureQueriesContext(connection) as many:
        statement(account)
    assert len(few.captured_queries) == len(many.captured_queries) == 3


def test_my_points_page_and_export(client: Any, cast: Any, world: Any) -> None:
    client.force_login(cast.resident)
    empty = client.get("/timebank/points/")
    assert empty.status_code == 200
    assert "还没有积分记录" in empty.content.decode()
    _history(cast, world)
    page = client.get("/timebank/points/").content.decode()
    assert 'id="balance">0.00<' in page
    assert cast.volunteer.name in page and "need:2" in page and "-1.20" in page
    resp = client.get("/timebank/points/export/")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(resp.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "时间" and len(rows) == 4
    assert Decimal(str(rows[1][5])) == Decimal("-1.8") and rows[1][6] == 0
    assert Decimal(str(rows[3][5])) == 3


def test_person_statement_page(client: Any, cast: Any, world: Any) -> None:
    _history(cast, world)
    url = f"/timebank/people/{cast.resident.pk}/points/"
    client.force_login(cast.building_manager)
    page = client.get(url).content.decode()
    assert "Resident" in page and "冲正" not in page.split("积分明细")[1].split("</table>")[0]
    client.force_login(cast.branch_head)
    page = client.get(url).content.decode()
    assert "/reverse/" in page  # the branch head may reverse
    client.force_login(cast.volunteer)
    assert client.get(url).status_code == 403
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404
