"""Roster import and export: the acceptance criterion of the issue, through the service, the
pages and the API.

"A 1,000-row .xlsx with a few bad rows reports each bad row with its reason; a file with a wrong
header is rejected with nothing written; a re-import of the same file creates no duplicates."
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client

from huzhu.accounts import roster
from huzhu.accounts.models import Household, Person, PersonSkill, RoleGrant, Skill
from huzhu.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

HEADER = [
    "姓名",
    "手机号",
    "性别",
    "出生日期",
    "楼栋",
    "房号",
    "身份证号",
    "紧急联系人",
    "技能",
    "角色",
]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(seq: int, *, valid: bool = True) -> str:
    body = f"110105198503{seq % 28 + 1:02d}{seq % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]
    if not valid:
        check = "0" if check != "0" else "1"
    return body + check


def xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header or HEADER)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def read_xlsx(content: bytes) -> list[list[Any]]:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


@pytest.fixture
def skills(db: Any) -> dict[str, Skill]:
    return {
        "haircut": Skill.objects.create(code="haircut", name="理发", name_en="Haircut"),
        "repair": Skill.objects.create(code="repair", name="维修", name_en="Repair"),
        "doctor": Skill.objects.create(
            code="doctor", name="医生", name_en="Doctor", requires_certificate=True
        ),
    }


# Bad rows of the 1,000-row file: index → (column, part of the reason). Excel row = index + 2.
BAD = {
    10: ("手机号", "手机号格式不正确"),
    20: ("身份证号", "校验位不正确"),
    30: ("楼栋", "没有名为“99号楼”的楼栋"),
    40: ("手机号", "与第 2 行重复"),
    50: ("出生日期", "出生日期格式不正确"),
    60: ("技能", "未知技能：飞行"),
}


def big_rows() -> list[list[Any]]:
    rows: list[list[Any]] = []
    for i in range(1000):
        phone = f"137{i:08d}"
        building = "1号楼" if i % 2 else "2号楼"
        room = str(100 + i % 40)
        birth: Any = (
            dt.datetime(1950 + i % 50, 1 + i % 12, 1 + i % 28)
            if i % 3
            else (f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}")
        )
        ident = id_number(i) if i % 10 == 5 else ""
        skills = "理发、repair" if i % 7 == 0 else ("维修" if i % 7 == 1 else "")
        role = ("志愿者", "居民,志愿者", "", "resident")[i % 4]
        gender = ("男", "女", "", "F")[i % 4]
        rows.append(
            [
                f"居民{i}",
                phone,
                gender,
                birth,
                building,
                room,
                ident,
                f"家属{i} 1390000{i:04d}",
                skills,
                role,
            ]
        )
    rows[10][1] = "12345"
    rows[20][6] = id_number(20, valid=False)
    rows[30][4] = "99号楼"
    rows[40][1] = rows[0][1]
    rows[50][3] = "1985-13-40"
    rows[60][8] = "飞行"
    return rows


def test_thousand_rows_preview_import_and_reimport(
    world: Any, cast: Any, skills: dict[str, Skill]
) -> None:
    data = xlsx(big_rows())
    existing_households = set(
        Household.objects.filter(community=world.community).values_list("building__name", "room")
    )
    people_before = Person.objects.count()
    audit_before = AuditEntry.objects.count()

    preview = roster.preview_roster(actor=cast.branch_head, community=world.community, data=data)
    assert preview.total_rows == 1000
    assert sorted({e.row for e in preview.errors}) == sorted(i + 2 for i in BAD)
    for index, (column, reason) in BAD.items():
        found = [e for e in preview.errors if e.row == index + 2]
        assert len(found) == 1, found
        assert found[0].column == column
        assert reason in found[0].message
    assert len(preview.valid_rows) == 1000 - len(BAD)
    assert preview.existing_rows == []
    # Preview writes nothing.
    assert Person.objects.count() == people_before
    assert AuditEntry.objects.count() == audit_before

    result = roster.import_roster(
        actor=cast.branch_head, community=world.community, data=data, filename="roster.xlsx"
    )
    assert result.created == 1000 - len(BAD)
    assert result.skipped_existing == 0
    assert sorted({e.row for e in result.errors}) == sorted(i + 2 for i in BAD)
    assert Person.objects.count() == people_before + 994

    # Encrypted at rest, readable through the model.
    person = Person.objects.get_by_phone("13700000005")
    assert person.name == "居民5"
    assert person.id_number == id_number(5)
    assert person.emergency_contact == "家属5 13900000005"
    assert person.community == world.community
    assert person.household is not None and person.household.building == world.building
    assert person.household.room == "105"
    assert person.gender == "F"
    assert person.birth_date == dt.date(1955, 6, 6)
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, id_number FROM accounts_person WHERE id = %s", [person.pk])
        raw_phone, raw_id = cursor.fetchone()
    assert "13700000005" not in raw_phone and id_number(5) not in raw_id

    # Households: one per (building, room) of the valid rows, existing ones reused.
    pairs = {
        ("1号楼" if i % 2 else "2号楼", str(100 + i % 40)) for i in range(1000) if i not in BAD
    }
    after = set(
        Household.objects.filter(community=world.community).values_list("building__name", "room")
    )
    assert pairs <= after
    assert len(after) == len(pairs | existing_households)
    assert result.households_created == len(pairs - existing_households)
    assert result.households_created > 30

    # Skills and roles.
    seven = Person.objects.get_by_phone("13700000007")
    assert set(PersonSkill.objects.filter(person=seven).values_list("skill__code", flat=True)) == {
        "haircut",
        "repair",
    }
    assert set(
        RoleGrant.objects.filter(person=Person.objects.get_by_phone("13700000001")).values_list(
            "role", flat=True
        )
    ) == {"resident", "volunteer"}
    assert set(
        RoleGrant.objects.filter(person=Person.objects.get_by_phone("13700000002")).values_list(
            "role", flat=True
        )
    ) == {"volunteer"}
    assert set(
        RoleGrant.objects.filter(person=Person.objects.get_by_phone("13700000003")).values_list(
            "role", flat=True
        )
    ) == {"resident"}

    # Audit: one summary entry plus one entry per person created.
    summary = AuditEntry.objects.get(code="accounts.roster.imported")
    assert summary.actor == cast.branch_head
    assert summary.community == world.community
    assert summary.new_values["created"] == 994
    assert summary.new_values["file"] == "roster.xlsx"
    assert AuditEntry.objects.filter(code="accounts.person.created").count() == 994

    # Re-import: nothing new.
    again = roster.import_roster(
        actor=cast.branch_head, community=world.community, data=data, filename="roster.xlsx"
    )
    assert again.created == 0
    assert again.skipped_existing == 994
    assert again.households_created == 0
    assert Person.objects.count() == people_before + 994
    assert AuditEntry.objects.filter(code="accounts.person.created").count() == 994


def test_wrong_header_is_rejected_and_nothing_is_written(world: Any, cast: Any) -> None:
    data = xlsx([["张三", "13712345678"]], header=["姓名", "联系方式"])
    people, entries = Person.objects.count(), AuditEntry.objects.count()
    with pytest.raises(roster.RosterError) as exc:
        roster.import_roster(actor=cast.branch_head, community=world.community, data=data)
    assert exc.value.code == "accounts.roster.missing_columns"
    assert "手机号" in str(exc.value.message)
    assert Person.objects.count() == people
    assert AuditEntry.objects.count() == entries

    # An explicit mapping makes the same file importable.
    result = roster.import_roster(
        actor=cast.branch_head, community=world.community, data=data, mapping={"联系方式": "phone"}
    )
    assert result.created == 1


def test_header_aliases_in_english_and_two_columns_for_one_field(world: Any, cast: Any) -> None:
    data = xlsx([["Li Lei", "137 1234 5678"]], header=[" Name ", "PHONE NUMBER"])
    preview = roster.preview_roster(actor=cast.branch_head, community=world.community, data=data)
    assert preview.mapping == {"Name": "name", "PHONE NUMBER": "phone"}
    assert preview.valid_rows[0].phone == "13712345678"

    twice = xlsx([["a", "13712345678", "13712345679"]], header=["姓名", "手机号", "phone"])
    with pytest.raises(roster.RosterError) as exc:
        roster.preview_roster(actor=cast.branch_head, community=world.community, data=twice)
    assert exc.value.code == "accounts.roster.duplicate_column"


def test_csv_in_gb18030_and_utf8_bom(world: Any, cast: Any) -> None:
    text = "姓名,手机号,楼栋,房号,技能\r\n王小明,13711112222,1号楼,301,\r\n李芳,13711113333,,,\r\n"
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = roster.import_roster(
        actor=cast.branch_head, community=world.community, data=data, filename="名册.csv"
    )
    assert result.created == 2, result.errors
    person = Person.objects.get_by_phone("13711112222")
    assert person.name == "王小明"
    assert person.household is not None and person.household.room == "301"

    bom = ("\ufeff姓名,手机号\n赵六,13711114444\n").encode()
    assert (
        roster.import_roster(actor=cast.branch_head, community=world.community, data=bom).created
        == 1
    )
    assert Person.objects.get_by_phone("13711114444").name == "赵六"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
        b"",
    ],
)
def test_non_spreadsheet_renamed_xlsx_is_rejected_by_content(
    world: Any, cast: Any, data: bytes
) -> None:
    with pytest.raises(roster.RosterError) as exc:
        roster.import_roster(
            actor=cast.branch_head, community=world.community, data=data, filename="roster.xlsx"
        )
    assert exc.value.code in {
        "accounts.roster.not_spreadsheet",
        "accounts.roster.xls",
        "accounts.roster.empty",
    }


def test_zip_that_is_not_a_workbook_is_rejected(world: Any, cast: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
        zf.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(roster.RosterError) as exc:
        roster.read_table(buffer.getvalue())
    assert exc.value.code == "accounts.roster.not_spreadsheet"


def test_size_and_row_limits(world: Any, cast: Any, settings: Any) -> None:
    settings.HUZHU_ROSTER_MAX_ROWS = 5
    rows = [[f"p{i}", f"1371000{i:04d}"] for i in range(6)]
    with pytest.raises(roster.RosterError) as exc:
        roster.read_table(xlsx(rows, header=["姓名", "手机号"]))
    assert exc.value.code == "accounts.roster.too_many_rows"
    assert "5" in str(exc.value.message)
    assert len(roster.read_table(xlsx(rows[:5], header=["姓名", "手机号"])).rows) == 5

    settings.HUZHU_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(roster.RosterError) as exc:
        roster.read_table(b"a" * 1001)
    assert exc.value.code == "accounts.roster.too_large"


def test_cell_rules(world: Any, cast: Any, skills: dict[str, Skill]) -> None:
    rows: list[list[Any]] = [
        ["甲", "13720000001", "x", None, None, None, None, None, None, None],
        ["乙", "13720000002", None, dt.date(2999, 1, 1), None, None, None, None, None, None],
        ["丙", "13720000003", None, None, None, "101", None, None, None, None],
        ["丁", "13720000004", None, None, "1号楼", None, None, None, None, None],
        ["戊", "13720000005", None, None, None, None, 110105198503120011, None, None, None],
        ["己", "13720000006", None, None, None, None, None, None, "医生", None],
        ["庚", "13720000007", None, None, None, None, None, None, None, "楼长"],
        ["", "13720000008", None, None, None, None, None, None, None, None],
        ["辛", "", None, None, None, None, None, None, None, None],
        ["壬", "13800000007", None, None, None, None, None, None, None, None],  # registered
        ["癸", "13720000009", "M", 19850312, "1", "101", None, None, None, "Volunteer"],
    ]
    preview = roster.preview_roster(
        actor=cast.branch_head, community=world.community, data=xlsx(rows)
    )
    by_row = {e.row: e for e in preview.errors}
    assert "性别无法识别" in by_row[2].message
    assert "不能晚于今天" in by_row[3].message
    assert "须同时填写楼栋" in by_row[4].message
    assert "须同时填写房号" in by_row[5].message
    assert "文本格式" in by_row[6].message
    assert "需要登记资格证书" in by_row[7].message
    assert "未知角色" in by_row[8].message
    assert "姓名不能为空" in by_row[9].message
    assert "手机号不能为空" in by_row[10].message
    assert preview.existing_rows == [11]
    (ok,) = preview.valid_rows
    assert (ok.row, ok.birth_date, ok.building, ok.room) == (
        12,
        dt.date(1985, 3, 12),
        world.building,
        "101",
    )
    assert preview.new_households == 0


def test_row_numbers_are_excel_row_numbers_and_a_title_row_is_skipped(
    world: Any, cast: Any
) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "阳光小区志愿者名册（2024）"  # a title row above the header
    ws["A3"], ws["B3"] = "姓名", "手机号"
    ws["A4"], ws["B4"] = "a", "13730000001"
    ws["A6"], ws["B6"] = "b", "bad"
    buffer = io.BytesIO()
    wb.save(buffer)
    preview = roster.preview_roster(
        actor=cast.branch_head, community=world.community, data=buffer.getvalue()
    )
    assert [e.row for e in preview.errors] == [6]
    assert preview.valid_rows[0].row == 4
    assert preview.total_rows == 2


def test_service_permissions(world: Any, cast: Any) -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    data = xlsx([["a", "13740000001"]], header=["姓名", "手机号"])
    with pytest.raises(Http404):
        roster.preview_roster(actor=cast.outsider, community=world.community, data=data)
    for role in ("volunteer", "building_manager", "district_admin"):
        with pytest.raises(PermissionDenied):
            roster.import_roster(actor=cast[role], community=world.community, data=data)


# --------------------------------------------------------------------------- pages


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(client: Client, community: Any, data: bytes, name: str = "roster.xlsx") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/accounts/people/import/",
        {"action": "upload", "community": community.pk, "file": SimpleUploadedFile(name, data)},
    )


def test_page_upload_preview_confirm(
    client: Client, world: Any, cast: Any, media: Any, skills: dict[str, Skill]
) -> None:
    client.force_login(cast.branch_head)
    page = client.get("/accounts/people/import/")
    assert page.status_code == 200
    assert "紧急联系人" in page.content.decode()

    rows = big_rows()[:70]
    people = Person.objects.count()
    resp = upload(client, world.community, xlsx(rows))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "未知技能：飞行" in html and "手机号格式不正确" in html
    assert resp.context["preview"].bad_rows == len(BAD)
    assert len(resp.context["preview"].valid_rows) == 70 - len(BAD)
    assert Person.objects.count() == people  # nothing written before confirm
    token = resp.context["token"]
    assert (media / "imports" / f"{token}.upload").exists()

    done = client.post("/accounts/people/import/", {"action": "confirm", "token": token})
    assert done.status_code == 200
    assert done.context["result"].created == 70 - len(BAD)
    assert Person.objects.count() == people + 70 - len(BAD)
    assert not (media / "imports" / f"{token}.upload").exists()
    # The token is spent: confirming again writes nothing.
    again = client.post("/accounts/people/import/", {"action": "confirm", "token": token})
    assert again.status_code == 302
    assert Person.objects.count() == people + 70 - len(BAD)


def test_page_wrong_header_shows_mapping_and_writes_nothing(
    client: Client, world: Any, cast: Any, media: Any
) -> None:
    client.force_login(cast.branch_head)
    people, entries = Person.objects.count(), AuditEntry.objects.count()
    resp = upload(
        client, world.community, xlsx([["张三", "13712345678"]], header=["姓名", "联系方式"])
    )
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "表头缺少必填列：手机号" in html
    assert 'name="map_1"' in html
    assert Person.objects.count() == people and AuditEntry.objects.count() == entries

    token = resp.context["token"]
    remap = client.post(
        "/accounts/people/import/",
        {
            "action": "remap",
            "token": token,
            "header_0": "姓名",
            "map_0": "name",
            "header_1": "联系方式",
            "map_1": "phone",
        },
    )
    assert remap.status_code == 200
    assert len(remap.context["preview"].valid_rows) == 1
    client.post("/accounts/people/import/", {"action": "confirm", "token": token})
    assert Person.objects.get_by_phone("13712345678").name == "张三"


def test_page_rejects_non_spreadsheet_by_content(
    client: Client, world: Any, cast: Any, media: Any
) -> None:
    client.force_login(cast.branch_head)
    resp = upload(client, world.community, b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(300))
    assert resp.status_code == 400
    assert "无法识别的文件" in resp.content.decode()
    imports = media / "imports"
    assert not imports.exists() or not any(imports.iterdir())


def test_page_cancel_deletes_the_file(client: Client, world: Any, cast: Any, media: Any) -> None:
    client.force_login(cast.branch_head)
    resp = upload(client, world.community, xlsx([["a", "13750000001"]]))
    token = resp.context["token"]
    client.post("/accounts/people/import/", {"action": "cancel", "token": token})
    assert not (media / "imports" / f"{token}.upload").exists()
    assert not Person.objects.filter(name="a").exists()


def test_page_template_download(client: Client, cast: Any) -> None:
    client.force_login(cast.branch_head)
    resp = client.get("/accounts/people/import/?template=1")
    assert resp.status_code == 200
    assert resp["Content-Type"] == roster.XLSX_CONTENT_TYPE
    assert read_xlsx(resp.content)[0] == HEADER
    # The template itself is a valid (empty) roster.
    assert roster.read_table(resp.content).headers == HEADER


def test_page_permissions(client: Client, world: Any, cast: Any, media: Any) -> None:
    data = xlsx([["a", "13760000001"]])
    for role in ("volunteer", "resident", "building_manager", "district_admin"):
        client.force_login(cast[role])
        assert client.get("/accounts/people/import/").status_code == 403, role
        assert client.get("/accounts/people/import/?template=1").status_code == 403, role
        assert upload(client, world.community, data).status_code == 403, role
    client.force_login(cast.outsider)
    assert client.get("/accounts/people/import/").status_code == 200
    assert upload(client, world.community, data).status_code == 404
    assert not Person.objects.filter(name="a").exists()
    client.logout()
    assert client.get("/accounts/people/import/").status_code == 302


def test_page_token_of_another_session_is_refused(
    client: Client, world: Any, cast: Any, media: Any
) -> None:
    client.force_login(cast.branch_head)
    token = upload(client, world.community, xlsx([["a", "13770000001"]])).context["token"]
    other = Client()
    other.force_login(cast.branch_head)
    resp = other.post("/accounts/people/import/", {"action": "confirm", "token": token})
    assert resp.status_code == 302
    assert not Person.objects.filter(name="a").exists()


# --------------------------------------------------------------------------- export


def test_export_masks_phones_and_is_audited(
    client: Client, world: Any, cast: Any, skills: dict[str, Skill]
) -> None:
    from huzhu.accounts.actions import add_skill

    evil = Person(name='=HYPERLINK("http://x")', community=world.community)
    evil.set_phone("13790000001")
    evil.save()
    add_skill(actor=cast.branch_head, person=cast.volunteer, skill=skills["haircut"], level=2)
    client.force_login(cast.branch_head)
    resp = client.get("/accounts/people/export/")
    assert resp.status_code == 200
    assert resp["Content-Type"] == roster.XLSX_CONTENT_TYPE
    rows = read_xlsx(resp.content)
    cells = [str(c) for row in rows for c in row if c is not None]
    for phone in ["13790000001", *(p.phone for p in Person.objects.all())]:
        assert not any(phone in c for c in cells), phone
    names = [r[1] for r in rows[1:]]
    assert "Branch Head" in names and "Outsider" not in names
    volunteer = next(r for r in rows if r[1] == "Volunteer")
    assert volunteer[2] == "138****0002"
    assert volunteer[8] == "理发"
    assert "志愿者" in volunteer[7]
    # No formula: the name is written as text.
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    cell = next(
        c
        for row in wb.worksheets[0].iter_rows()
        for c in row
        if isinstance(c.value, str) and "HYPERLINK" in c.value
    )
    assert cell.data_type == "s" and cell.value.startswith("'")
    entry = AuditEntry.objects.get(code="accounts.roster.exported")
    assert entry.actor == cast.branch_head
    assert entry.community == world.community
    assert entry.new_values["rows"] == len(rows) - 1


def test_export_filters_and_permissions(client: Client, world: Any, cast: Any) -> None:
    client.force_login(cast.branch_head)
    resp = client.get(f"/accounts/people/export/?building={world.building.pk}")
    assert resp.status_code == 200
    assert [r[1] for r in read_xlsx(resp.content)[1:]] == ["Resident"]
    assert (
        client.get(f"/accounts/people/export/?community={world.other_community.pk}").status_code
        == 404
    )
    assert client.get("/accounts/people/export/?community=abc").status_code == 404

    client.force_login(cast.district_admin)
    rows = read_xlsx(client.get("/accounts/people/export/").content)
    assert "Outsider" in [r[1] for r in rows]
    assert (
        client.get(f"/accounts/people/export/?community={world.other_community.pk}").status_code
        == 200
    )

    client.force_login(cast.outsider)
    assert client.get(f"/accounts/people/export/?community={world.community.pk}").status_code == 404
    for role in ("volunteer", "building_manager", "finance_officer"):
        client.force_login(cast[role])
        assert client.get("/accounts/people/export/").status_code == 403, role


# --------------------------------------------------------------------------- API


@pytest.fixture
def bearer(db: Any) -> Any:
    from huzhu.accounts.auth import issue_token

    def headers(person: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(person)}"}

    return headers


def test_api_preview_and_import(
    client: Client, world: Any, cast: Any, bearer: Any, skills: dict[str, Skill]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = xlsx(big_rows()[:70])
    url = f"/api/v1/communities/{world.community.pk}/roster/"
    people, entries = Person.objects.count(), AuditEntry.objects.count()
    resp = client.post(
        url + "preview",
        {"file": SimpleUploadedFile("r.xlsx", data)},
        headers=bearer(cast.branch_head),
    )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["valid"] == 70 - len(BAD) and body["bad_rows"] == len(BAD)
    assert {e["row"] for e in body["errors"]} == {i + 2 for i in BAD}
    assert body["columns"]["手机号"] == "phone"

    dry = client.post(
        url + "import",
        {"file": SimpleUploadedFile("r.xlsx", data), "dry_run": "true"},
        headers=bearer(cast.branch_head),
    )
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert dry.json()["created"] == 70 - len(BAD)
    assert Person.objects.count() == people and AuditEntry.objects.count() == entries

    done = client.post(
        url + "import",
        {"file": SimpleUploadedFile("r.xlsx", data)},
        headers=bearer(cast.branch_head),
    )
    assert done.status_code == 200
    assert done.json()["created"] == 70 - len(BAD)
    again = client.post(
        url + "import",
        {"file": SimpleUploadedFile("r.xlsx", data)},
        headers=bearer(cast.branch_head),
    )
    assert again.json()["created"] == 0
    assert again.json()["skipped_existing"] == 70 - len(BAD)
    assert Person.objects.count() == people + 70 - len(BAD)


def test_api_wrong_header_is_400_with_the_envelope(
    client: Client, world: Any, cast: Any, bearer: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = xlsx([["张三", "13712345678"]], header=["姓名", "联系方式"])
    url = f"/api/v1/communities/{world.community.pk}/roster/import"
    people, entries = Person.objects.count(), AuditEntry.objects.count()
    resp = client.post(
        url, {"file": SimpleUploadedFile("r.xlsx", data)}, headers=bearer(cast.branch_head)
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "accounts.roster.missing_columns"
    assert resp.json()["error"]["details"]["missing"] == ["phone"]
    assert Person.objects.count() == people and AuditEntry.objects.count() == entries

    mapped = client.post(
        url,
        {"file": SimpleUploadedFile("r.xlsx", data), "mapping": '{"联系方式": "phone"}'},
        headers=bearer(cast.branch_head),
    )
    assert mapped.status_code == 200 and mapped.json()["created"] == 1
    bad = client.post(
        url,
        {"file": SimpleUploadedFile("r.xlsx", data), "mapping": "[1]"},
        headers=bearer(cast.branch_head),
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "accounts.roster.bad_mapping"


def test_api_permissions(client: Client, world: Any, cast: Any, bearer: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = xlsx([["a", "13780000001"]])
    url = f"/api/v1/communities/{world.community.pk}/roster/preview"
    assert (
        client.post(
            url, {"file": SimpleUploadedFile("r.xlsx", data)}, headers=bearer(cast.outsider)
        ).status_code
        == 404
    )
    assert (
        client.post(
            url, {"file": SimpleUploadedFile("r.xlsx", data)}, headers=bearer(cast.volunteer)
        ).status_code
        == 403
    )
    assert client.post(url, {"file": SimpleUploadedFile("r.xlsx", data)}).status_code == 401
    assert (
        client.post(
            "/api/v1/communities/999999/roster/preview",
            {"file": SimpleUploadedFile("r.xlsx", data)},
            headers=bearer(cast.branch_head),
        ).status_code
        == 404
    )

    assert client.get("/api/v1/roster/export", headers=bearer(cast.volunteer)).status_code == 403
    assert (
        client.get(
            f"/api/v1/roster/export?community={world.community.pk}", headers=bearer(cast.outsider)
        ).status_code
        == 404
    )
    export = client.get("/api/v1/roster/export", headers=bearer(cast.branch_head))
    assert export.status_code == 200
    cells = [str(c) for row in read_xlsx(export.content) for c in row if c is not None]
    assert not any("13800000007" in c for c in cells)
    assert "138****0007" in cells


def test_scope_is_checked_before_the_input(
    client: Client, world: Any, cast: Any, bearer: Any, media: Any
) -> None:
    """Outside one's scope the answer is 404 whatever is sent; no file is a 400 in scope."""
    url = f"/api/v1/communities/{world.community.pk}/roster/import"
    assert client.post(url, {}, headers=bearer(cast.outsider)).status_code == 404
    assert client.post(url, {}, headers=bearer(cast.volunteer)).status_code == 403
    resp = client.post(url, {}, headers=bearer(cast.branch_head))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "accounts.roster.no_file"

    client.force_login(cast.volunteer)
    other = world.other_community.pk
    assert client.get(f"/accounts/people/export/?community={other}").status_code == 404
    assert (
        client.post(
            "/accounts/people/import/", {"action": "upload", "community": other}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/accounts/people/import/", {"action": "upload", "community": world.community.pk}
        ).status_code
        == 403
    )
