"""The audit page, its export, the API and the read-only admin."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2025, 3, day, hour, 0))


def make(
    code: str,
    *,
    community: Any = None,
    alliance: Any = None,
    actor: Any = None,
    when: dt.datetime | None = None,
    target_type: str = "accounts.person",
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> AuditEntry:
    if community is not None and alliance is None:
        alliance = community.alliance
    return AuditEntry.objects.create(
        created_at=when or at(10),
        actor=actor,
        actor_label=str(actor) if actor else "system",
        code=code,
        target_type=target_type,
        target_id="1",
        target_label="目标",
        community=community,
        alliance=alliance,
        old_values=old or {},
        new_values=new or {},
    )


@pytest.fixture
def log(world: Any, cast: Any) -> dict[str, AuditEntry]:
    return {
        "pii": make(
            "accounts.pii.revealed",
            community=world.community,
            actor=cast.branch_head,
            when=at(1),
            new={"field": "phone"},
        ),
        "status": make(
            "accounts.person.status_changed",
            community=world.community,
            actor=cast.building_manager,
            when=at(5),
            old={"status": "active"},
            new={"status": "suspended"},
        ),
        "building": make(
            "orgs.building.created",
            community=world.community,
            actor=cast.branch_head,
            when=at(9),
            target_type="orgs.building",
        ),
        "other": make(
            "accounts.pii.revealed",
            community=world.other_community,
            actor=cast.outsider,
            when=at(3),
        ),
        "alliance": make(
            "orgs.community.created",
            alliance=world.alliance,
            actor=cast.district_admin,
            when=at(4),
            target_type="orgs.community",
        ),
        "unscoped": make("core.system.started", when=at(2), target_type=""),
    }


def codes(resp: Any) -> set[str]:
    return {e.code for e in resp.context["entries"]}


def ids(resp: Any) -> set[int]:
    return {e.pk for e in resp.context["entries"]}


def test_branch_head_sees_own_community_only(
    client: Client, log: dict[str, AuditEntry], cast: Any
) -> None:
    client.force_login(cast.branch_head)
    resp = client.get("/audit/")
    assert resp.status_code == 200
    assert ids(resp) == {log["pii"].pk, log["status"].pk, log["building"].pk}
    html = resp.content.decode()
    assert "suspended" in html and "accounts.person.status_changed" in html


def test_alliance_grant_sees_alliance_level_entries(
    client: Client, log: dict[str, AuditEntry], cast: Any
) -> None:
    client.force_login(cast.district_admin)
    resp = client.get("/audit/")
    assert ids(resp) == {e.pk for k, e in log.items() if k != "unscoped"}


def test_unscoped_entries_only_for_superusers(
    client: Client, log: dict[str, AuditEntry], world: Any
) -> None:
    from huzhu.accounts.models import Person

    admin = Person.objects.create_superuser("13600000000", "admin-pass-1")
    client.force_login(admin)
    assert ids(client.get("/audit/")) == {e.pk for e in log.values()}


def test_without_audit_view_is_403(client: Client, log: dict[str, AuditEntry], cast: Any) -> None:
    for role in (
        "resident",
        "volunteer",
        "building_manager",
        "broker",
        "finance_officer",
        "group_leader",
        "merchant",
    ):
        client.force_login(cast[role])
        assert client.get("/audit/").status_code == 403, role
        assert client.get("/audit/export/").status_code == 403, role
    client.logout()
    assert client.get("/audit/").status_code == 302


def test_community_filter_outside_scope_is_404(
    client: Client, log: dict[str, AuditEntry], world: Any, cast: Any
) -> None:
    client.force_login(cast.branch_head)
    assert client.get(f"/audit/?community={world.other_community.pk}").status_code == 404
    assert client.get("/audit/?community=999999").status_code == 404
    assert client.get(f"/audit/export/?community={world.other_community.pk}").status_code == 404
    client.force_login(cast.outsider)
    assert client.get(f"/audit/?community={world.community.pk}").status_code == 404
    # Scope before permission: a volunteer asking for another community gets 404, not 403.
    client.force_login(cast.volunteer)
    assert client.get(f"/audit/?community={world.other_community.pk}").status_code == 404
    assert client.get(f"/audit/?community={world.community.pk}").status_code == 403
    client.force_login(cast.district_admin)
    resp = client.get(f"/audit/?community={world.other_community.pk}")
    assert resp.status_code == 200 and ids(resp) == {log["other"].pk}


def test_filters(client: Client, log: dict[str, AuditEntry], world: Any, cast: Any) -> None:
    client.force_login(cast.district_admin)
    assert ids(client.get(f"/audit/?community={world.community.pk}")) == {
        log["pii"].pk,
        log["status"].pk,
        log["building"].pk,
    }
    assert ids(client.get("/audit/?code=accounts.pii")) == {log["pii"].pk, log["other"].pk}
    assert ids(client.get("/audit/?actor=building")) == {log["status"].pk}
    assert ids(client.get("/audit/?actor=BRANCH")) == {log["pii"].pk, log["building"].pk}
    assert ids(client.get("/audit/?target_type=orgs.building")) == {log["building"].pk}
    assert ids(client.get("/audit/?date_from=2025-03-04&date_to=2025-03-05")) == {
        log["alliance"].pk,
        log["status"].pk,
    }
    assert ids(client.get("/audit/?date_from=2025-03-09")) == {log["building"].pk}
    resp = client.get("/audit/?code=nothing.at.all")
    assert resp.status_code == 200 and "没有符合条件的记录" in resp.content.decode()
    bad = client.get("/audit/?date_from=2025-03-09&date_to=2025-03-01")
    assert bad.status_code == 200 and "结束日期不能早于开始日期" in bad.content.decode()
    assert ids(bad) == set()


def test_pagination_and_pinned_query_count(
    client: Client, world: Any, cast: Any, settings: Any
) -> None:
    settings.HUZHU_PAGE_SIZE = 10
    client.force_login(cast.branch_head)
    for i in range(3):
        make(f"tests.few.{i}", community=world.community, actor=cast.branch_head, when=at(1 + i))
    client.get("/audit/")  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        assert client.get("/audit/").status_code == 200
    for i in range(22):
        make(
            f"tests.many.{i}",
            community=world.community,
            actor=cast.volunteer,
            when=at(1 + i % 20, 1 + i % 20),
            old={"a": i},
            new={"b": i},
        )
    with CaptureQueriesContext(connection) as many:
        first = client.get("/audit/")
    assert len(many) == len(few)
    assert len(first.context["entries"]) == 10
    assert first.context["page"].paginator.num_pages == 3
    third = client.get("/audit/?code=tests.&page=3")
    assert len(third.context["entries"]) == 5
    assert "code=tests." in third.content.decode()  # the pager keeps the filters
    seen: set[int] = set()
    for page in (1, 2, 3):
        seen |= ids(client.get(f"/audit/?code=tests.&page={page}"))
    assert len(seen) == 25


def test_export_of_the_filtered_list(
    client: Client, log: dict[str, AuditEntry], world: Any, cast: Any
) -> None:
    client.force_login(cast.branch_head)
    resp = client.get("/audit/export/?code=accounts.")
    assert resp.status_code == 200
    assert resp["Content-Disposition"].startswith("attachment;")
    rows = list(
        openpyxl.load_workbook(io.BytesIO(resp.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert rows[0][:4] == ("时间", "操作人", "代办对象", "操作")
    assert sorted(r[3] for r in rows[1:]) == [
        "accounts.person.status_changed",
        "accounts.pii.revealed",
    ]
    status_row = next(r for r in rows if r[3] == "accounts.person.status_changed")
    assert '"suspended"' in status_row[10]
    exported = AuditEntry.objects.get(code="audit.entries.exported")
    assert exported.actor == cast.branch_head
    assert exported.community == world.community
    assert exported.new_values["rows"] == 2


def test_page_links_to_export_with_the_same_filters(
    client: Client, log: dict[str, AuditEntry], cast: Any
) -> None:
    client.force_login(cast.branch_head)
    html = client.get("/audit/?code=accounts.pii").content.decode()
    assert "/audit/export/?code=accounts.pii" in html


# --------------------------------------------------------------------------- API


@pytest.fixture
def bearer(db: Any) -> Any:
    from huzhu.accounts.auth import issue_token

    def headers(person: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(person)}"}

    return headers


def test_api_list(
    client: Client, log: dict[str, AuditEntry], world: Any, cast: Any, bearer: Any
) -> None:
    resp = client.get("/api/v1/audit", headers=bearer(cast.branch_head))
    assert resp.status_code == 200
    body = resp.json()
    assert body["meta"] == {"page": 1, "page_size": 25, "total": 3}
    assert [i["id"] for i in body["items"]] == [log["building"].pk, log["status"].pk, log["pii"].pk]
    status = next(i for i in body["items"] if i["code"] == "accounts.person.status_changed")
    assert status["new_values"] == {"status": "suspended"}
    assert status["community_id"] == world.community.pk

    admin = bearer(cast.district_admin)
    page = client.get("/api/v1/audit?page_size=2&page=2", headers=admin).json()
    assert page["meta"]["total"] == 5 and len(page["items"]) == 2
    filtered = client.get(
        "/api/v1/audit?code=accounts.pii&date_from=2025-03-02", headers=admin
    ).json()
    assert [i["id"] for i in filtered["items"]] == [log["other"].pk]
    assert (
        client.get(
            f"/api/v1/audit?community={world.other_community.pk}&actor=outs", headers=admin
        ).json()["meta"]["total"]
        == 1
    )


def test_api_errors(
    client: Client, log: dict[str, AuditEntry], world: Any, cast: Any, bearer: Any
) -> None:
    assert client.get("/api/v1/audit").status_code == 401
    resp = client.get("/api/v1/audit", headers=bearer(cast.volunteer))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    resp = client.get(
        f"/api/v1/audit?community={world.other_community.pk}", headers=bearer(cast.branch_head)
    )
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert (
        client.get("/api/v1/audit?page_size=500", headers=bearer(cast.branch_head)).status_code
        == 400
    )
    assert (
        client.get(
            "/api/v1/audit?date_from=2025-03-05&date_to=2025-03-01",
            headers=bearer(cast.branch_head),
        ).status_code
        == 400
    )
    assert (
        client.get(
            "/api/v1/audit?date_from=yesterday", headers=bearer(cast.branch_head)
        ).status_code
        == 422
    )


# --------------------------------------------------------------------------- admin


def test_admin_is_read_only(client: Client, log: dict[str, AuditEntry]) -> None:
    from huzhu.accounts.models import Person

    admin = Person.objects.create_superuser("13600000001", "admin-pass-1")
    client.force_login(admin)
    base = "/admin/audit/auditentry/"
    assert client.get(base).status_code == 200
    assert client.get(base + "add/").status_code == 403
    change = client.get(f"{base}{log['pii'].pk}/change/")
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert client.post(f"{base}{log['pii'].pk}/change/", {"code": "x"}).status_code == 403
    assert client.get(f"{base}{log['pii'].pk}/delete/").status_code == 403
    assert client.post(f"{base}{log['pii'].pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=log["pii"].pk).code == "accounts.pii.revealed"
