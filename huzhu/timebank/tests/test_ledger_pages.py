"""The ledger pages: the paper ledger (list with filters, entry form with person search,
check page, export), first-service days, reversal — scope, validation messages, empty
states, pinned query counts."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from huzhu.audit.models import AuditEntry
from huzhu.core import clock
from huzhu.timebank import actions
from huzhu.timebank.actions.paper import enter_paper_entry
from huzhu.timebank.models import PaperEntry, PaperStatus, ServiceDay, Transaction
from huzhu.timebank.queries import balance_of


def _slip(client: Any, cast: Any, **over: Any) -> Any:
    page = client.get("/timebank/paper/new/?q=Resident")
    key = page.context["form"]["key"].value()
    data = {
        "person": cast.resident.pk,
        "kind": "earn",
        "hours": "1.5",
        "service_date": clock.today().isoformat(),
        "slip_number": "P-001",
        "note": "陪同买菜",
        "key": key,
        **over,
    }
    return client.post("/timebank/paper/new/", data)


def test_paper_workflow_through_pages(client: Any, cast: Any, world: Any) -> None:
    client.force_login(cast.building_manager)
    empty = client.get("/timebank/paper/").content.decode()
    assert "还没有纸质登记" in empty
    form = client.get("/timebank/paper/new/?q=Resi").content.decode()
    assert f'value="{cast.resident.pk}"' in form and "1号楼" in form
    foreign = client.get("/timebank/paper/new/?q=Outsider").content.decode()
    assert f'value="{cast.outsider.pk}"' not in foreign and 'id="no-people"' in foreign

    resp = _slip(client, cast)
    assert resp.status_code == 302
    entry = PaperEntry.objects.get()
    assert resp["Location"] == f"/timebank/paper/{entry.pk}/"
    detail = client.get(resp["Location"]).content.decode()
    assert "这条登记是您录入的" in detail and 'id="check-form"' not in detail
    assert cast.building_manager.name in detail

    dup = _slip(client, cast)
    assert dup.status_code == 200
    assert "P-001 已经录入过" in dup.content.decode()
    # The manager cannot check their own slip, even by posting.
    own = client.post(resp["Location"], {"decision": "approve"})
    assert "另一位" in own.content.decode()
    assert PaperEntry.objects.get().status == PaperStatus.PENDING

    client.force_login(cast.branch_head)
    listed = client.get("/timebank/paper/").content.decode()
    assert "P-001" in listed and "有 1 条登记等待复核" in listed
    detail = client.get(resp["Location"]).content.decode()
    assert 'id="check-form"' in detail and cast.building_manager.name in detail
    reject_without_reason = client.post(resp["Location"], {"decision": "reject"})
    assert "退回时请填写原因" in reject_without_reason.content.decode()
    done = client.post(resp["Location"], {"decision": "approve"})
    assert done.status_code == 302
    assert PaperEntry.objects.get().status == PaperStatus.SETTLED
    assert balance_of(actions.person_account(cast.resident)) == 150
    again = client.post(resp["Location"], {"decision": "approve"})
    assert again.status_code == 302  # the same decision again changes nothing
    assert Transaction.objects.count() == 1


def test_paper_form_validation(client: Any, cast: Any, world: Any) -> None:
    client.force_login(cast.building_manager)
    no_person = _slip(client, cast, person="")
    assert "请先搜索并选择登记本上的居民" in no_person.content.decode()
    no_hours = _slip(client, cast, hours="")
    assert "请填写服务时长" in no_hours.content.decode()
    spend = _slip(client, cast, kind="spend", points="1.234", counterparty="")
    text = spend.content.decode()
    assert "积分最多保留两位小数" in text and "请选择收款的志愿者" in text
    foreign = _slip(client, cast, person=cast.outsider.pk)
    assert foreign.status_code == 200 and not PaperEntry.objects.exists()


def test_paper_spend_through_pages(client: Any, cast: Any, world: Any) -> None:
    actions.credit_service(
        actor=None, volunteer=cast.resident, hours=Decimal(2), community=world.community, key="s"
    )
    client.force_login(cast.building_manager)
    page = client.get("/timebank/paper/new/").content.decode()
    assert cast.volunteer.name in page  # the volunteers to pay
    resp = _slip(client, cast, kind="spend", hours="", points="1.5", counterparty=cast.volunteer.pk)
    assert resp.status_code == 302
    client.force_login(cast.branch_head)
    client.post(resp["Location"], {"decision": "approve"})
    assert balance_of(actions.person_account(cast.volunteer)) == 150


def test_paper_list_filters_order_and_queries(client: Any, cast: Any, world: Any) -> None:
    def enter(slip: str) -> PaperEntry:
        return enter_paper_entry(
            actor=cast.building_manager,
            person=cast.resident,
            kind="earn",
            hours=Decimal(1),
            service_date=clock.today(),
            slip_number=slip,
            key=slip,
        )

    from huzhu.timebank.actions.paper import check_paper_entry

    done = enter("L-1")
    check_paper_entry(actor=cast.branch_head, entry=done, approve=False, reason="错")
    enter("L-2")
    client.force_login(cast.building_manager)
    with CaptureQueriesContext(connection) as few:
        client.get("/timebank/paper/")
    for i in range(3, 8):
        enter(f"L-{i}")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/timebank/paper/").content.decode()
    assert len(few.captured_queries) == len(many.captured_queries)
    assert page.index("L-7") < page.index("L-2") < page.index("L-1")  # pending first
    only = client.get("/timebank/paper/?status=rejected").content.decode()
    assert "L-1" in only and "L-2" not in only
    search = client.get("/timebank/paper/?q=L-3").content.decode()
    assert "L-3" in search and "L-4" not in search
    nothing = client.get("/timebank/paper/?q=nobody").content.decode()
    assert "没有符合条件的登记" in nothing
    by_building = client.get(f"/timebank/paper/?building={world.building.pk}").content.decode()
    assert "L-5" in by_building

    resp = client.get("/timebank/paper/export/?status=pending")
    sheet = load_workbook(io.BytesIO(resp.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "登记本编号" and len(rows) == 7  # header + 6 pending
    assert AuditEntry.objects.filter(code="timebank.paper.exported").count() == 1


def test_paper_pages_forbidden_for_others(client: Any, cast: Any, world: Any) -> None:
    client.force_login(cast.volunteer)
    assert client.get("/timebank/paper/").status_code == 403
    assert client.get("/timebank/paper/new/").status_code == 403


def test_service_day_pages(client: Any, cast: Any, world: Any) -> None:
    url = f"/timebank/communities/{world.community.pk}/service-days/"
    client.force_login(cast.branch_head)
    assert "还没有设置首存日" in client.get(url).content.decode()
    assert client.post(url, {"date": "2026-03-05", "name": "学雷锋日"}).status_code == 302
    dup = client.post(url, {"date": "2026-03-05"})
    assert "已经是首存日" in dup.content.decode()
    day = ServiceDay.objects.get()
    assert "学雷锋日" in client.get(url).content.decode()
    assert client.post(f"/timebank/service-days/{day.pk}/delete/").status_code == 302
    assert not ServiceDay.objects.exists()
    client.force_login(cast.building_manager)
    assert client.get(url).status_code == 403
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404


def test_reverse_page(client: Any, cast: Any, world: Any) -> None:
    tx = actions.credit_service(
        actor=None, volunteer=cast.resident, hours=Decimal(1), community=world.community, key="c"
    )
    url = f"/timebank/transactions/{tx.pk}/reverse/"
    client.force_login(cast.branch_head)
    page = client.get(url)
    assert "更正截止日期" in page.content.decode()
    key = page.context["form"]["key"].value()
    missing = client.post(url, {"reason": "录错", "evidence": "", "key": key})
    assert missing.status_code == 200 and not Transaction.objects.filter(reverses=tx).exists()
    ok = client.post(url, {"reason": "录错", "evidence": "登记本照片", "key": key})
    assert ok.status_code == 302
    assert Transaction.objects.filter(reverses=tx).count() == 1
    assert "已被冲正" in client.get(url).content.decode()
    client.force_login(cast.building_manager)
    assert client.get(url).status_code == 403
